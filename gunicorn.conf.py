"""gunicorn settings: how operators run the API (`gunicorn -c gunicorn.conf.py wsgi:app`).

Command-line flags and GUNICORN_CMD_ARGS override anything set here.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# Sync workers: each request holds one worker and one database connection, which is simple
# and, for short PostgreSQL-bound requests on few cores, measured fastest (see README).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))

# The app is built once in the master and forked, so a bad configuration fails at start
# with one line instead of in every worker.
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 100

# The app writes one JSON line per request; gunicorn's own access log would repeat it.
accesslog = None
errorlog = "-"
# No control socket in $HOME (read-only or shared homes in containers and CI).
control_socket_disable = True

# Each worker needs a pool as large as its threads, plus room for a health check.
os.environ.setdefault("DB_POOL_SIZE", str(threads + 1))


def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """Connections opened in the master must not be shared by forked workers."""
    from app.extensions import db

    app = worker.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)
