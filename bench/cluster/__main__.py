"""`python -m bench.cluster [--smoke]`: run the cluster, print its table, exit 1 on a problem."""

from __future__ import annotations

import argparse
import sys

from bench.cluster import report
from bench.cluster.run import FULL, SMOKE, Run, Settings
from bench.run import git_commit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="short phases, under 3 minutes")
    parser.add_argument("--rate", type=float, default=30, help="offered requests/s in all (30)")
    parser.add_argument("--users", type=int, default=75, help="simulated users (75)")
    parser.add_argument("--tasks", type=int, default=200, help="tasks per bench user (200)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--pool-size", type=int, default=2, help="PgBouncer default_pool_size (2)")
    parser.add_argument(
        "--rate-limit", type=int, default=60, help="RATELIMIT_DEFAULT per user and minute (60)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    per_user_minute = args.rate / args.users * 60
    if per_user_minute >= args.rate_limit / 2:
        parser.error(
            f"{per_user_minute:.0f} requests per user and minute: keep it under half the "
            f"rate limit ({args.rate_limit}), or the load itself is limited"
        )
    settings = Settings(
        smoke=args.smoke,
        schedule=SMOKE if args.smoke else FULL,
        users=args.users,
        rate=args.rate,
        tasks_per_user=args.tasks,
        workers_per_instance=args.workers,
        pool_size=args.pool_size,
        rate_limit=args.rate_limit,
        seed=args.seed,
    )
    try:
        result = report.finish(Run(settings).execute(), git_commit())
    except KeyboardInterrupt as interrupted:
        print(f"interrupted ({interrupted}): every part was stopped", file=sys.stderr)
        return 130
    print()
    print("\n".join(report.table(result)))
    for path in report.write(result):
        print(f"wrote {path}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
