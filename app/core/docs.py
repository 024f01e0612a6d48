"""Serves the Swagger UI assets from the installed package, so /api/docs needs no internet."""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, send_from_directory

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).parent / "dist"
OWN_ASSETS = Path(__file__).parents[1] / "static"

bp = Blueprint("docs_assets", __name__)


@bp.get("/api/docs/assets/<path:filename>")
def asset(filename: str) -> Response:
    """Swagger UI's files, plus the page's own start-up script (kept out of the HTML for CSP)."""
    folder = OWN_ASSETS if filename == "docs-init.js" else SWAGGER_UI_DIST
    return send_from_directory(folder, filename, max_age=3600)
