"""Security headers on every response, and the docs page's Content-Security-Policy."""

from __future__ import annotations

from flask import Flask, Response, request

# Swagger UI runs only our own scripts (no inline ones, see app/static/docs-init.js); it sets
# inline styles and data: images, and calls the API on the same origin.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/api/docs"):
        response.headers["Content-Security-Policy"] = DOCS_CSP
    else:
        response.headers.setdefault("Content-Security-Policy", API_CSP)
    if request.path.startswith("/api/auth"):
        # Tokens and account data must never sit in a shared or browser cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def init_security_headers(app: Flask) -> None:
    app.after_request(add_security_headers)
