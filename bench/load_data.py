"""Bench data: its own database, the app's migrations, then users and tasks bulk-loaded by COPY.

    .venv/bin/python -m bench.load_data                      # 1,000 users x 1,000 tasks
    .venv/bin/python -m bench.load_data --users 10 \\
        --database-url postgresql://postgres@127.0.0.1:5432/taskapi_bench_quick

Every user gets 10 tags; each task carries 0-3 of them. 30% of tasks are completed, half have a
due date, titles and descriptions vary from a few words to a few thousand characters, created_at
spreads over two years. Every user has 5 lists: half of the tasks are in one of them, and a
fifth of those are subtasks of an earlier task of the same list; siblings are in generation
order (positions from app/tasks/positions.py). Three more users hold 100, 1,000 and 10,000
tasks, all top-level in one list, for the growth test, and one more holds 100,000 (the most a
user may have) for the search figures (left out of the quick data: `Dataset(heavy=())`).
Titles are drawn from a Zipf-like vocabulary, so "report" is a common word (in about 15% of the
tasks); RARE_WORD ("zeppelin") is in the title of RARE_SHARE (0.1%) of every user's tasks.
All of them log in with PASSWORD (one real Argon2 hash made with the app's own hasher, shared).

The data is generated from a fixed seed, and a marker table (bench_dataset) records what was
loaded, so a rerun with the same options only applies new migrations and returns.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/taskapi_bench"
PASSWORD = "bench-password-1"
GROWTH_SIZES = (100, 1_000, 10_000)
HEAVY_SIZES = (100_000,)  # the per-user limit (app/models/counters.LIMITS)
COMMON_WORD = "report"
RARE_WORD = "zeppelin"  # in no pool below: only where generate_user_tasks puts it
RARE_SHARE = 0.001
TAG_NAMES = (
    "work",
    "home",
    "errands",
    "urgent",
    "health",
    "finance",
    "reading",
    "travel",
    "family",
    "someday",
)
PRIORITIES = ("none", "low", "medium", "high")
LIST_NAMES = ("Work", "Home", "Errands", "Projects", "Someday")
GROWTH_LIST = "Everything"
IN_A_LIST_SHARE = 0.50
SUBTASK_SHARE = 0.20  # of the tasks in a list
PRIORITY_EDGES = (45, 65, 85)  # none 45%, low 20%, medium 20%, high 15%
TAG_COUNT_EDGES = (40, 70, 90)  # 0 tags 40%, 1 tag 30%, 2 tags 20%, 3 tags 10%
COMPLETED_SHARE = 0.30
DUE_SHARE = 0.50
SEED = 20261122
DATASET_VERSION = 3  # bump when the generator changes, so old databases are reloaded

VERBS = (
    "call email review buy fix plan write book clean pay send prepare schedule update check "
    "order cancel renew organize read draft finish sort return pick ask submit file back test "
    "research compare migrate deploy refactor document measure replace install repair"
).split()
NOUNS = (
    "report invoice budget meeting dentist doctor groceries milk bread car insurance tax "
    "return passport visa flight hotel train tickets birthday gift present garden lawn fence "
    "roof gutter kitchen bathroom laundry closet garage bike tyres battery laptop phone charger "
    "printer backup server database release changelog roadmap proposal contract lease rent "
    "mortgage bank statement receipts expenses payroll slides presentation agenda notes minutes "
    "newsletter blog article chapter book library course exam homework project deadline "
    "client customer supplier vendor plumber electrician painter carpenter school teacher "
    "parents kids dog cat vet appointment prescription pharmacy gym yoga run marathon shoes "
    "jacket curtains sofa lamp paint shelves boxes move keys lock alarm window door heating "
    "boiler filter subscription newsletter password account profile photos album recipe dinner "
    "party wedding invitations guests venue catering music playlist podcast interview resume"
).split()
FILLER = (
    "the a to for with before after about and or of on in at from next this last every "
    "week month today tomorrow friday monday morning evening soon again early late quick "
    "final new old second annual quarterly weekly remaining missing broken overdue"
).split()


@dataclass(frozen=True)
class Dataset:
    users: int
    tasks_per_user: int
    growth: tuple[int, ...] = GROWTH_SIZES
    heavy: tuple[int, ...] = HEAVY_SIZES

    def key(self) -> str:
        sizes = ",".join(map(str, self.growth))
        key = f"v{DATASET_VERSION};users={self.users};tasks={self.tasks_per_user};growth={sizes}"
        return key + (f";heavy={','.join(map(str, self.heavy))}" if self.heavy else "")

    @property
    def total_tasks(self) -> int:
        return self.users * self.tasks_per_user + sum(self.growth) + sum(self.heavy)


def email_of(index: int) -> str:
    """The email of bench user `index` (1-based)."""
    return f"user{index:04d}@example.com"


def growth_email(size: int) -> str:
    return f"growth{size}@example.com"


def heavy_email(size: int) -> str:
    return f"heavy{size}@example.com"


def bench_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def log(message: str) -> None:
    print(f"[load_data] {message}", flush=True)


# --- database and schema --------------------------------------------------------------------


def create_database_if_missing(url: str) -> bool:
    """CREATE DATABASE on the same server when it does not exist; True when it was created."""
    params = conninfo_to_dict(url)
    name = str(params.get("dbname") or "")
    if not name:
        raise SystemExit(f"no database name in {url}")
    admin = make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def migrate(url: str) -> None:
    """The app's own migrations, exactly as a deploy runs them."""
    flask = Path(sys.executable).parent / "flask"
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development", "LOG_LEVEL": "WARNING"}
    subprocess.run(
        [str(flask), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )


def password_hash() -> str:
    """One Argon2 hash with the app's hasher and default cost, shared by every bench user (so
    logins verify it without a rehash)."""
    from app.auth.passwords import Passwords
    from config import load_config

    config = load_config({"APP_ENV": "development"})
    hasher = Passwords(
        time_cost=config["PASSWORD_HASH_TIME_COST"], memory_kib=config["PASSWORD_HASH_MEMORY_KIB"]
    )
    return hasher.hash(PASSWORD)


def loaded_key(conn: psycopg.Connection) -> str | None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_dataset ("
        " key text NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now(),"
        " users int NOT NULL, tasks bigint NOT NULL, seconds real NOT NULL)"
    )
    row = conn.execute("SELECT key FROM bench_dataset ORDER BY loaded_at DESC LIMIT 1").fetchone()
    conn.commit()
    return row[0] if row else None


def secondary_indexes(conn: psycopg.Connection, tables: list[str]) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every index not backing a constraint: dropped during
    the load and rebuilt after, from the migrations' own definitions."""
    return conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND t.relname = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)
        ORDER BY i.relname
        """,
        (tables,),
    ).fetchall()


# --- generated content ----------------------------------------------------------------------


class Content:
    """Pools of titles and sentences drawn once, then combined per task (fast and varied)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        words = NOUNS + FILLER
        # Zipf-like: a few words are common, most are rare, as in real text.
        weights = [1 / (rank + 1) ** 0.8 for rank in range(len(words))]
        rng.shuffle(words)
        self.titles = [self._title(words, weights) for _ in range(40_000)]
        self.sentences = [self._sentence(words, weights) for _ in range(30_000)]

    def _title(self, words: list[str], weights: list[float]) -> str:
        size = self.rng.choices((1, 2, 3, 4, 6, 10, 20), weights=(8, 20, 25, 20, 15, 8, 4))[0]
        rest = " ".join(self.rng.choices(words, weights=weights, k=size))
        return f"{self.rng.choice(VERBS).capitalize()} {rest}"[:200]

    def _sentence(self, words: list[str], weights: list[float]) -> str:
        size = self.rng.randint(4, 18)
        text = " ".join(self.rng.choices(words, weights=weights, k=size))
        return f"{self.rng.choice(VERBS).capitalize()} {text}."

    def description(self) -> str | None:
        roll = self.rng.random()
        if roll < 0.40:
            return None
        if roll < 0.75:
            count = 1
        elif roll < 0.95:
            count = self.rng.randint(2, 6)
        else:
            count = self.rng.randint(10, 40)
        sentences = self.rng.choices(self.sentences, k=count)
        if count < 10:
            return " ".join(sentences)
        # Long ones come in paragraphs (escaped newlines in COPY's text format).
        paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, count, 5)]
        return "\\n\\n".join(paragraphs)[:4900]


def copy_text(value: str | None) -> str:
    return "\\N" if value is None else value


def stamp(epoch: float) -> str:
    """A timestamptz literal for COPY (several times faster than datetime.isoformat)."""
    micros = int(epoch * 1_000_000) % 1_000_000
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(epoch))}.{micros:06d}+00"


def new_id(rng: random.Random) -> str:
    """A random UUID from the seeded generator, as the 32 hex digits PostgreSQL accepts."""
    return f"{rng.getrandbits(128):032x}"


def generate_user_tasks(
    rng: random.Random,
    content: Content,
    user_id: str,
    tag_ids: list[str],
    list_ids: list[str],
    count: int,
    now: float,
    task_lines: list[str],
    link_lines: list[str],
) -> None:
    """Append `count` task rows (COPY text) and their task_tags rows. With one list id, every
    task is top-level in it (the growth and heavy users); with several, half the tasks are in
    one of them and some of those are subtasks. RARE_SHARE of the titles end in RARE_WORD."""
    from app.tasks.positions import spread_keys

    day = 86400.0
    span = 730 * day
    random_ = rng.random
    rows: list[list[str]] = []
    siblings: dict[tuple[str, str], list[list[str]]] = {}
    tops: dict[str, list[str]] = {list_id: [] for list_id in list_ids}
    for _ in range(count):
        task_id = new_id(rng)
        created = now - random_() * span
        updated = min(now, created + random_() * 30 * day)
        completed = random_() < COMPLETED_SHARE
        due = random_() < DUE_SHARE
        roll = random_() * 100
        priority = PRIORITIES[sum(roll >= edge for edge in PRIORITY_EDGES)]
        list_id, parent_id = "\\N", "\\N"
        if len(list_ids) == 1 or random_() < IN_A_LIST_SHARE:
            list_id = rng.choice(list_ids)
            if len(list_ids) > 1 and tops[list_id] and random_() < SUBTASK_SHARE:
                parent_id = rng.choice(tops[list_id])
            else:
                tops[list_id].append(task_id)
        title = rng.choice(content.titles)
        if random_() < RARE_SHARE:
            title = f"{title[:190]} {RARE_WORD}"
        row = [
            task_id,
            user_id,
            title,
            copy_text(content.description()),
            "t" if completed else "f",
            stamp(created + (updated - created) * random_()) if completed else "\\N",
            priority,
            stamp(created + rng.uniform(-2, 90) * day) if due else "\\N",
            stamp(created),
            stamp(updated),
            "1",
            list_id,
            parent_id,
            "",  # the position, below, once the siblings are known
        ]
        rows.append(row)
        siblings.setdefault((list_id, parent_id), []).append(row)
        roll = random_() * 100
        tags = sum(roll >= edge for edge in TAG_COUNT_EDGES)
        for tag_id in rng.sample(tag_ids, tags):
            link_lines.append(f"{task_id}\t{tag_id}\n")
    for group in siblings.values():
        for row, key in zip(group, spread_keys(len(group)), strict=True):
            row[-1] = key
    task_lines.extend("\t".join(row) + "\n" for row in rows)


TASK_COLUMNS = (
    "id, user_id, title, description, is_completed, completed_at, priority, due_at,"
    " created_at, updated_at, version, list_id, parent_id, position"
)


def load(conn: psycopg.Connection, dataset: Dataset, hashed: str) -> None:
    """Everything in one transaction: a failed load leaves the previous state (indexes too)."""
    rng = random.Random(SEED)
    now = time.time()
    started = time.monotonic()
    content = Content(rng)
    log(f"text pools ready in {time.monotonic() - started:.1f}s")

    try:
        # Skips the foreign-key triggers for the bulk rows (generated consistently here);
        # CHECK constraints still apply. Needs a superuser; without one the load is slower.
        conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.Error:
        conn.rollback()
    conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
    conn.execute("SET LOCAL max_parallel_maintenance_workers = 2")
    conn.execute("TRUNCATE task_tags, tasks, tags, lists, login_sessions, users CASCADE")
    indexes = secondary_indexes(conn, ["tasks", "task_tags", "changes"])
    for name, _ in indexes:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))

    owners: list[tuple[str, str, int]] = [
        (new_id(rng), email_of(i), dataset.tasks_per_user) for i in range(1, dataset.users + 1)
    ]
    owners += [(new_id(rng), growth_email(size), size) for size in dataset.growth]
    owners += [(new_id(rng), heavy_email(size), size) for size in dataset.heavy]
    user_created = datetime.fromtimestamp(now, UTC) - timedelta(days=800)
    with conn.cursor() as cur:
        with cur.copy("COPY users (id, email, name, password_hash, created_at) FROM STDIN") as cp:
            for index, (user_id, email, _) in enumerate(owners, 1):
                cp.write_row((user_id, email, f"Bench user {index}", hashed, user_created))
        tag_ids: dict[str, list[str]] = {}
        with cur.copy("COPY tags (id, user_id, name, created_at) FROM STDIN") as cp:
            for user_id, _, _ in owners:
                tag_ids[user_id] = [new_id(rng) for _ in TAG_NAMES]
                for tag_id, name in zip(tag_ids[user_id], TAG_NAMES, strict=True):
                    cp.write_row((tag_id, user_id, name, user_created))
        list_ids: dict[str, list[str]] = {}
        with cur.copy("COPY lists (id, user_id, name, created_at, updated_at) FROM STDIN") as cp:
            for user_id, email, _ in owners:
                names = (GROWTH_LIST,) if email.startswith(("growth", "heavy")) else LIST_NAMES
                list_ids[user_id] = [new_id(rng) for _ in names]
                for list_id, name in zip(list_ids[user_id], names, strict=True):
                    cp.write_row((list_id, user_id, name, user_created, user_created))
        link_lines: list[str] = []
        written = 0
        with cur.copy(f"COPY tasks ({TASK_COLUMNS}) FROM STDIN") as cp:
            for user_id, _, count in owners:
                task_lines: list[str] = []
                generate_user_tasks(
                    rng,
                    content,
                    user_id,
                    tag_ids[user_id],
                    list_ids[user_id],
                    count,
                    now,
                    task_lines,
                    link_lines,
                )
                cp.write("".join(task_lines))
                written += count
                if written % 100_000 < count:
                    log(f"{written:,} tasks written ({time.monotonic() - started:.0f}s)")
        with cur.copy("COPY task_tags (task_id, tag_id) FROM STDIN") as cp:
            for start in range(0, len(link_lines), 50_000):
                cp.write("".join(link_lines[start : start + 50_000]))
    seconds = time.monotonic() - started
    log(f"{written:,} tasks, {len(link_lines):,} tag links copied ({seconds:.0f}s)")
    # The replica role also skipped the triggers that record each object's change for the
    # change feed (app/changes): every object gets its row at seq 0, as the migration's
    # backfill gives existing ones, so a full snapshot finds it.
    conn.execute(
        """
        INSERT INTO changes (user_id, kind, object_id, seq, deleted, changed_at)
        SELECT user_id, 'list', id, 0, false, now() FROM lists
        UNION ALL SELECT user_id, 'tag', id, 0, false, now() FROM tags
        UNION ALL SELECT user_id, 'task', id, 0, false, now() FROM tasks
        """
    )
    for name, definition in indexes:
        index_started = time.monotonic()
        conn.execute(definition)
        log(f"rebuilt {name} in {time.monotonic() - index_started:.1f}s")
    # The replica role above also skipped the triggers that keep the per-user counts.
    conn.execute(
        """
        INSERT INTO user_counters (user_id, tasks, lists, tags)
        SELECT users.id,
               (SELECT count(*) FROM tasks WHERE tasks.user_id = users.id),
               (SELECT count(*) FROM lists WHERE lists.user_id = users.id),
               (SELECT count(*) FROM tags WHERE tags.user_id = users.id)
        FROM users
        ON CONFLICT (user_id) DO UPDATE
        SET tasks = EXCLUDED.tasks, lists = EXCLUDED.lists, tags = EXCLUDED.tags
        """
    )
    conn.execute(
        "INSERT INTO bench_dataset (key, users, tasks, seconds) VALUES (%s, %s, %s, %s)",
        (dataset.key(), len(owners), written, time.monotonic() - started),
    )
    conn.commit()


def ensure_loaded(url: str, dataset: Dataset, *, force: bool = False) -> dict:
    """Create, migrate and fill the database unless it already holds this dataset."""
    started = time.monotonic()
    if create_database_if_missing(url):
        log(f"created database {conninfo_to_dict(url)['dbname']}")
    migrate(url)
    with psycopg.connect(url, connect_timeout=5) as conn:
        if not force and loaded_key(conn) == dataset.key():
            log(f"reusing {dataset.key()} (pass --force to reload)")
            return {"reused": True, "seconds": round(time.monotonic() - started, 1)}
        log(f"loading {dataset.key()}: {dataset.total_tasks:,} tasks")
        load(conn, dataset, password_hash())
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        # Statistics for the planner, and the visibility map that index-only counts rely on.
        vacuum_started = time.monotonic()
        conn.execute(
            "VACUUM (ANALYZE) users, tags, lists, tasks, task_tags, user_counters, changes"
        )
        log(f"VACUUM ANALYZE in {time.monotonic() - vacuum_started:.1f}s")
    seconds = round(time.monotonic() - started, 1)
    log(f"loaded in {seconds}s")
    return {"reused": False, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=bench_url(), help="default: $BENCH_DATABASE_URL")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--tasks", type=int, default=1_000, help="tasks per user")
    parser.add_argument("--force", action="store_true", help="reload even when already loaded")
    args = parser.parse_args()
    ensure_loaded(args.database_url, Dataset(args.users, args.tasks), force=args.force)


if __name__ == "__main__":
    main()
