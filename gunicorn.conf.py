"""gunicorn settings: how operators run the API (`gunicorn -c gunicorn.conf.py wsgi:app`).

Command-line flags and GUNICORN_CMD_ARGS override anything set here.
"""

import glob
import multiprocessing
import os
import shutil
import tempfile

from config import env_bool  # importing config also reads .env, as the app will

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# The longest request line (method, path and query) read, in bytes: gunicorn's maximum. Longer
# ones, and requests gunicorn refuses before the app sees them, are answered in the service's
# problem+json shape (414 uri_too_long, 431, 400) instead of gunicorn's HTML page (post_fork).
limit_request_line = 8190

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

# Metrics (app/core/metrics.py): every worker writes its samples to files in
# PROMETHEUS_MULTIPROC_DIR and a scrape sums them. prometheus_client reads the variable when the
# preloaded app imports it, so it is settled here. Unset, this master uses a private directory,
# removed at exit (a directory inherited from another master's, as after a USR2 upgrade, is not
# shared).
_AUTO_METRICS_PREFIX = os.path.join(tempfile.gettempdir(), "taskapi-metrics-")
_AUTO_METRICS_DIR = f"{_AUTO_METRICS_PREFIX}{os.getpid()}"
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


if env_bool("METRICS_ENABLED", False) and (
    not _metrics_dir or _metrics_dir.startswith(_AUTO_METRICS_PREFIX)
):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir = _AUTO_METRICS_DIR
if _metrics_dir:
    os.makedirs(_metrics_dir, exist_ok=True)


def pre_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """Move the preloaded app's objects out of the garbage collector's reach, so collections in
    the workers do not write to (and so copy) the pages they share with the master."""
    import gc

    gc.freeze()


def post_fork(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """Connections opened in the master must not be shared by forked workers; the worker's own
    refusals are written as problem+json."""
    from app.core.gunicorn_errors import install as install_problem_errors
    from app.extensions import db

    install_problem_errors()
    app = worker.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)


def on_starting(server):  # noqa: ARG001 - gunicorn's hook signature
    """Counters left by a previous run would be added to this one's: start from none."""
    if _metrics_dir:
        for path in glob.glob(os.path.join(_metrics_dir, "*.db")):
            os.remove(path)


def child_exit(server, worker):  # noqa: ARG001 - gunicorn's hook signature
    """A dead worker's counters still count; its live gauges (pool in use) must not."""
    if _metrics_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid, _metrics_dir)


def when_ready(server):
    """Say where the API and its docs answer, once gunicorn listens."""
    for listener in server.LISTENERS:
        server.log.info("Task API at %s, docs at %s/api/docs", listener, listener)


def on_exit(server):  # noqa: ARG001 - gunicorn's hook signature
    """The private metrics directory, if this master made one, goes with it."""
    if _metrics_dir == _AUTO_METRICS_DIR:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
