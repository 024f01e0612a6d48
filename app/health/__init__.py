"""Liveness and readiness probes: /health."""
