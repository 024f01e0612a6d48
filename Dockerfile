# The Task API's production image: gunicorn serving wsgi:app as a non-root user.
#
#   docker build -t taskapi .
#   docker run --rm -e DATABASE_URL=... -e JWT_SECRET_KEY=... taskapi flask --app wsgi db upgrade
#   docker run -d -p 8000:8000 -e DATABASE_URL=... -e JWT_SECRET_KEY=... taskapi
#
# The base is an argument so that machines without a registry can build on a local Debian
# bookworm image with Debian's python3 and python3-venv (scripts/image-build.sh does that).
# Build and runtime stages share it, so the venv's interpreter link is valid in both.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
# Only the requirements first: this layer stays cached until they change.
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

FROM ${BASE_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    APP_ENV=production
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY app/ app/
COPY migrations/ migrations/
COPY config.py wsgi.py gunicorn.conf.py ./
# Compiled while still root: the app user cannot write __pycache__ next to root-owned code.
RUN python3 -m compileall -q app migrations config.py wsgi.py gunicorn.conf.py
# Numeric, so that orchestrators can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# Liveness only (no database): readiness is /health/ready, for the orchestrator to probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8000'), timeout=4)"]
# The server is the default command; the release step and the worker run the same image with
# another one: `flask --app wsgi db upgrade`, `flask --app wsgi worker run` (its liveness:
# `flask --app wsgi worker health`; the HEALTHCHECK below is the web server's).
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
