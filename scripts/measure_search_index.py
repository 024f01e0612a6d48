"""Measure full-text search per user with and without the (user_id, search) GIN index.

    .venv/bin/python scripts/measure_search_index.py postgresql://postgres@127.0.0.1/DB [--load]

--load wipes the tasks and users of that database (it must be a scratch one at the newest
migration) and loads one user with 10,000 tasks, one with 100,000 and 300 others with 1,000
each: "report" in about 80% of the tasks, "zeppelin" in 0.1%. Then, for both users and words,
it prints the plan (EXPLAIN ANALYZE, BUFFERS) and the median of 15 timed runs of the count and
of a first page, as a custom plan and as a generic one (plan_cache_mode=force_generic_plan,
what the app's prepared statements get), without the index and with it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import psycopg

WORDS = (
    "call buy milk plumber review draft email invoice meeting budget plan sprint "
    "garden paint fix car book flight hotel dentist doctor taxes renew passport clean "
    "kitchen order pizza write blog deploy server backup photos gym run laundry"
).split()

LOAD = """
TRUNCATE users CASCADE;
INSERT INTO users (id, email, password_hash)
SELECT gen_random_uuid(), 'search' || g || '@example.com', 'x' FROM generate_series(1, 302) g;
CREATE TEMP TABLE sizes AS
SELECT id, CASE email WHEN 'search1@example.com' THEN 10000
                      WHEN 'search2@example.com' THEN 100000 ELSE 1000 END AS n
FROM users;
INSERT INTO tasks (id, user_id, title, description, created_at, updated_at)
SELECT gen_random_uuid(), s.id,
       concat_ws(' ',
           CASE WHEN random() < 0.8 THEN 'report' END,
           CASE WHEN g % 1000 = 7 THEN 'zeppelin' END,
           ({words})[1 + floor(random() * {nwords})::int],
           ({words})[1 + floor(random() * {nwords})::int],
           substr(translate(md5(g::text || s.id::text), '0123456789', 'ghijklmnop'), 1, 7)),
       CASE WHEN random() < 0.5 THEN
           concat_ws(' ', ({words})[1 + floor(random() * {nwords})::int],
                          ({words})[1 + floor(random() * {nwords})::int],
                          ({words})[1 + floor(random() * {nwords})::int]) END,
       now() - g * interval '1 minute', now() - g * interval '1 minute'
FROM sizes s, generate_series(1, s.n) g;
"""

COLUMNS = (
    "id, user_id, title, description, is_completed, completed_at, priority, due_at,"
    " created_at, updated_at, version"
)
MATCH = "user_id = $1 AND search @@ websearch_to_tsquery('english', $2)"
STATEMENTS = {
    "count": f"SELECT count(*) FROM tasks WHERE {MATCH}",
    "page": f"SELECT {COLUMNS} FROM tasks WHERE {MATCH} ORDER BY created_at DESC, id DESC LIMIT 51",
}
RUNS = 15


def load(conn: psycopg.Connection) -> None:
    """Replace every user and task with the measurement data set."""
    array = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    with conn.transaction():
        conn.execute(LOAD.replace("{words}", array).replace("{nwords}", str(len(WORDS))))
    conn.execute("VACUUM ANALYZE users")
    conn.execute("VACUUM ANALYZE tasks")


def timed(conn: psycopg.Connection, name: str, args: tuple) -> float:
    """Median milliseconds of RUNS executions of the prepared statement `name`."""
    placeholders = ", ".join(["%s"] * len(args))
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        conn.execute(f"EXECUTE {name}({placeholders})", args).fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(conn: psycopg.Connection, label: str, users: dict[str, object]) -> None:
    """Print plans and timings for every user, word, statement and plan mode."""
    conn.execute("DEALLOCATE ALL")
    for key, sql in STATEMENTS.items():
        conn.execute(f"PREPARE {key}(uuid, text) AS {sql}")
    print(f"\n######## {label}")
    for who, user_id in users.items():
        for word in ("report", "zeppelin"):
            matches = conn.execute(
                "SELECT count(*) FROM tasks WHERE user_id = %s"
                " AND search @@ websearch_to_tsquery('english', %s)",
                (user_id, word),
            ).fetchone()
            for key in STATEMENTS:
                for mode in ("force_custom_plan", "force_generic_plan"):
                    conn.execute(f"SET plan_cache_mode = {mode}")
                    plan = conn.execute(
                        f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {key}(%s, %s)", (user_id, word)
                    ).fetchall()
                    ms = timed(conn, key, (user_id, word))
                    print(
                        f"\n=== {label} | {who} | q={word} ({matches[0]} matches) | {key}"
                        f" | {mode}: median {ms:.2f} ms over {RUNS}"
                    )
                    print("\n".join(row[0] for row in plan))
    conn.execute("RESET plan_cache_mode")


def main() -> None:
    """Load (optionally), measure without the index, create it, measure again."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--load", action="store_true")
    args = parser.parse_args()
    # Client-side binding: EXECUTE takes literal arguments, not bind parameters; psycopg's own
    # automatic preparation is off so that DEALLOCATE ALL cannot pull statements from under it.
    with psycopg.connect(
        args.url, autocommit=True, cursor_factory=psycopg.ClientCursor, prepare_threshold=None
    ) as conn:
        if args.load:
            load(conn)
        users = {
            f"{n:,} tasks": conn.execute(
                "SELECT id FROM users WHERE email = %s", (email,)
            ).fetchone()[0]
            for n, email in ((10000, "search1@example.com"), (100000, "search2@example.com"))
        }
        conn.execute("DROP INDEX IF EXISTS ix_tasks_user_id_search")
        measure(conn, "without the index", users)
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        conn.execute("CREATE INDEX ix_tasks_user_id_search ON tasks USING gin (user_id, search)")
        built = time.perf_counter() - started
        conn.execute("VACUUM ANALYZE tasks")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_relation_size('ix_tasks_user_id_search'))"
        ).fetchone()[0]
        print(f"\n######## index built in {built:.1f} s, size {size}")
        measure(conn, "with the index", users)


if __name__ == "__main__":
    main()
