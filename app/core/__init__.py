"""What every request passes through, whatever the resource: database session, JSON, errors'
documentation, logging and request ids, security headers, body checks, metrics, the docs page."""
