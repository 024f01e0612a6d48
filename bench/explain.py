"""EXPLAIN every task-list query the service can issue, against the 1M-task bench database.

    .venv/bin/python -m bench.explain [--database-url URL] [--email user0001@example.com] [-v]

The SQL is the app's own: app.tasks.service.list_tasks runs inside an app context while a
before_cursor_execute listener records each statement and its parameters; each one is then
explained (EXPLAIN ANALYZE, custom plan for those values) and also as a prepared statement under
plan_cache_mode=force_generic_plan, because psycopg prepares a statement after its fifth run on a
connection and PostgreSQL may then switch to the generic plan.

A plan passes when it reads tasks through an index whose first column is user_id (or by
primary key from the user's own tag), and never runs a Seq Scan on tasks, task_tags or tags.
Then the full-text searches again, a common word and a rare one, for the users with 10,000 and
100,000 tasks: their plans must read ix_tasks_user_id_search with the user in its Index Cond
(the user's own entries alone, never every user's matches), and a table at the end gives their
execution times (custom and generic plan; the page statement carries its count).
Last, the two reads of a write that a sibling list's length could make slow: the last
sibling's position (where a create goes) and the first one's (a move to the top), in the
longest sibling list of the user with 10,000 tasks: each plan must read one row (min() and
max() had aggregated every sibling in the generic plan).
Prints the plans; exits 1 when any plan fails.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.load_data import (
    COMMON_WORD,
    GROWTH_SIZES,
    HEAVY_SIZES,
    RARE_WORD,
    bench_url,
    email_of,
    growth_email,
    heavy_email,
)

LARGE_TABLES = {"tasks", "task_tags", "tags"}
SEARCH_INDEX = "ix_tasks_user_id_search"


@dataclass
class Variant:
    name: str
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = "-created_at"
    cursor: str | None = None  # "next": the first page's next_cursor; "null": past non-null keys


@dataclass
class Checked:
    variant: str
    role: str
    statement: str
    plan_text: str
    generic_text: str
    generic_differs: bool
    problems: list[str]
    notes: list[str]
    custom_ms: float = 0.0
    generic_ms: float = 0.0


def variants(list_id: uuid.UUID, parent_id: uuid.UUID) -> list[Variant]:
    soon = datetime.now(UTC) + timedelta(days=30)
    past = datetime.now(UTC) - timedelta(days=30)
    found: list[Variant] = [Variant("default page")]
    from app.tasks.query import SORT_KEYS

    for key in SORT_KEYS:
        for sort in (key, f"-{key}"):
            found.append(Variant(f"sort={sort}", sort=sort))
            found.append(Variant(f"sort={sort} + cursor", sort=sort, cursor="next"))
    found += [
        Variant("sort=due_at + cursor past the last due date", sort="due_at", cursor="null"),
        Variant("sort=-due_at + cursor past the last due date", sort="-due_at", cursor="null"),
        Variant("status=pending", {"status": "pending"}),
        Variant("status=completed", {"status": "completed"}),
        Variant("priority=high", {"priority": ["high"]}),
        Variant("priority=high&priority=medium", {"priority": ["high", "medium"]}),
        Variant("tag=work", {"tag": ["work"]}),
        Variant("tag=work&tag=home", {"tag": ["work", "home"]}),
        Variant("due_after + due_before", {"due_after": past, "due_before": soon}),
        Variant("due_before", {"due_before": soon}),
        Variant("q=report (common word)", {"q": "report"}),
        Variant("q=wedding invitations (two words)", {"q": "wedding invitations"}),
        Variant('q="call the plumber" -friday', {"q": '"call the plumber" -friday'}),
        Variant("q=zebra (no match)", {"q": "zebra"}),
        Variant(
            "combination: pending, high|medium, tag, due window, q, sort=due_at",
            {
                "status": "pending",
                "priority": ["high", "medium"],
                "tag": ["work"],
                "due_after": past,
                "due_before": soon + timedelta(days=365),
                "q": "report",
            },
            sort="due_at",
        ),
        Variant("list=L (every level)", {"list": list_id}),
        Variant("list=none", {"list": "none"}),
        Variant("parent=none", {"parent": "none"}),
        Variant("parent=P", {"parent": parent_id}),
        Variant(
            "list=L&parent=none&sort=position", {"list": list_id, "parent": "none"}, "position"
        ),
        Variant(
            "list=L&parent=none&sort=position + cursor",
            {"list": list_id, "parent": "none"},
            sort="position",
            cursor="next",
        ),
        Variant(
            "list=none&parent=none&sort=-position", {"list": "none", "parent": "none"}, "-position"
        ),
        Variant("parent=P&sort=position", {"parent": parent_id}, sort="position"),
        Variant(
            "list=L, pending, q, sort=position",
            {"list": list_id, "status": "pending", "q": "report"},
            "position",
        ),
        Variant(
            "combination + cursor",
            {"status": "pending", "priority": ["high", "medium"], "q": "report"},
            sort="-updated_at",
            cursor="next",
        ),
    ]
    return found


def search_variants() -> list[Variant]:
    """A common word and a rare one (bench/load_data.py puts RARE_WORD in 0.1% of titles)."""
    return [
        Variant(f"q={COMMON_WORD} (common word)", {"q": COMMON_WORD}),
        Variant(f"q={RARE_WORD} (rare word)", {"q": RARE_WORD}),
    ]


def search_index_problems(plan: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(problems, notes): a search plan must read ix_tasks_user_id_search by the user and the
    words together (Index Cond on user_id and search), never the words alone."""
    conditions = [
        node.get("Index Cond", "")
        for node in walk(plan["Plan"])
        if node.get("Index Name") == SEARCH_INDEX
    ]
    if not conditions:
        return [f"{SEARCH_INDEX} not used"], []
    problems = [
        f"{SEARCH_INDEX} read without the user: {cond}"
        for cond in conditions
        if "user_id" not in cond or "search" not in cond
    ]
    return problems, [f"{SEARCH_INDEX}: Index Cond {cond}" for cond in dict.fromkeys(conditions)]


def recorder(captured: list[tuple[str, dict[str, Any]]]) -> Any:
    """A before_cursor_execute listener that keeps each statement with its parameters."""

    def capture(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        captured.append((statement, dict(parameters or {})))

    return capture


def walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [node]
    for child in node.get("Plans", []):
        nodes += walk(child)
    return nodes


def judge(plan: dict[str, Any], first_columns: dict[str, tuple[str, str]]) -> tuple[list, list]:
    """(problems, notes) of one JSON plan.

    Passes when tasks are reached in a way bounded by the user: an index on tasks starting with
    user_id; or by primary key from the user's own tag (tags' index starting with user_id, then
    task_tags), with user_id filtered. Never a
    Seq Scan on tasks, task_tags or tags.
    """
    problems: list[str] = []
    notes: list[str] = []
    nodes = walk(plan["Plan"])
    task_paths: set[str] = set()
    user_tag_index = False
    for node in nodes:
        relation = node.get("Relation Name")
        if node["Node Type"] == "Seq Scan" and relation in LARGE_TABLES:
            problems.append(f"Seq Scan on {relation}")
        index = node.get("Index Name")
        if not index or index not in first_columns:
            continue
        table, first = first_columns[index]
        if table == "tags" and first == "user_id":
            user_tag_index = True
        if table != "tasks":
            continue
        if first == "user_id":
            task_paths.add("user_id index")
        elif first == "id":  # pk_tasks, or the (id, user_id, list_key) unique index
            task_paths.add("primary key")
        else:
            problems.append(f"{index} does not start with user_id")
    user_filtered = any(
        node.get("Relation Name") == "tasks"
        and "user_id" in (node.get("Filter", "") + node.get("Recheck Cond", ""))
        for node in nodes
    )
    touches_tasks = bool(task_paths) or any(n.get("Relation Name") == "tasks" for n in nodes)
    if touches_tasks and "user_id index" not in task_paths:
        if task_paths == {"primary key"} and user_tag_index and user_filtered:
            notes.append("by primary key from the user's tag (tags index on user_id first)")
        else:
            problems.append("tasks read without an index starting with user_id")
    for node in nodes:
        if node["Node Type"] == "Sort":
            method = node.get("Sort Method", "sort")
            notes.append(f"no index gives this order: reads every match, then {method}")
        if node.get("Relation Name") == "tasks" and node.get("Rows Removed by Filter"):
            notes.append(f"{node['Rows Removed by Filter']} task rows read and dropped by Filter")
    return problems, notes


def shape(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Node types and indexes, to tell whether two plans differ."""
    return [(node["Node Type"], node.get("Index Name", "")) for node in walk(plan["Plan"])]


def positional(statement: str, parameters: dict[str, Any]) -> tuple[str, list[Any]]:
    """%(name)s placeholders to $1..$n, for PREPARE (the generic plan)."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    converted = re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%")
    return converted, [parameters[name] for name in order]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=bench_url())
    parser.add_argument("--email", default=email_of(1), help="the user whose lists are explained")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the SQL too")
    args = parser.parse_args()

    os.environ.update(
        APP_ENV="development",
        DATABASE_URL=args.database_url,
        LOG_LEVEL="WARNING",
        RATELIMIT_ENABLED="false",
    )
    from sqlalchemy import select, text

    from app import create_app
    from app.extensions import db
    from app.models import User
    from app.tasks.service import list_tasks

    app = create_app()
    checked: list[Checked] = []
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == args.email))
        if user_id is None:
            print(f"no user {args.email} in {args.database_url}: run bench/load_data.py first")
            return 2
        tasks = db.session.scalar(
            text("SELECT count(*) FROM tasks WHERE user_id = :u"), {"u": user_id}
        )
        total = db.session.scalar(text("SELECT count(*) FROM tasks"))
        print(f"user {args.email}: {tasks:,} of {total:,} tasks\n")
        first_columns = {
            name: (table, first)
            for name, table, first in db.session.execute(
                text(
                    "SELECT i.relname, t.relname, a.attname FROM pg_index x"
                    " JOIN pg_class i ON i.oid = x.indexrelid"
                    " JOIN pg_class t ON t.oid = x.indrelid"
                    " LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]"
                    " WHERE t.relname IN ('tasks', 'task_tags', 'tags')"
                )
            )
        }
        db.session.rollback()

        list_id, parent_id = db.session.execute(
            text(
                "SELECT (SELECT list_id FROM tasks WHERE user_id = :u AND list_id IS NOT NULL"
                " GROUP BY list_id ORDER BY count(*) DESC LIMIT 1),"
                " (SELECT parent_id FROM tasks WHERE user_id = :u AND parent_id IS NOT NULL"
                " GROUP BY parent_id ORDER BY count(*) DESC LIMIT 1)"
            ),
            {"u": user_id},
        ).one()
        db.session.rollback()
        checked += explain_variants(
            list_tasks, user_id, variants(list_id, parent_id), first_columns
        )
        for size, email in [(GROWTH_SIZES[-1], growth_email(GROWTH_SIZES[-1]))] + [
            (size, heavy_email(size)) for size in HEAVY_SIZES
        ]:
            heavy_id = db.session.scalar(select(User.id).where(User.email == email))
            db.session.rollback()
            if heavy_id is None:
                print(f"no user {email} (the quick data has none): its searches are skipped")
                continue
            found = explain_variants(
                list_tasks, heavy_id, search_variants(), first_columns, search=True
            )
            for item in found:
                item.variant = f"{size:,} tasks: {item.variant}"
            checked += found
        growth_id = db.session.scalar(
            select(User.id).where(User.email == growth_email(GROWTH_SIZES[-1]))
        )
        db.session.rollback()
        if growth_id is not None:
            checked += explain_sibling_ends(growth_id)

    failures = 0
    for item in checked:
        verdict = "FAIL" if item.problems else "ok"
        failures += bool(item.problems)
        print(f"=== [{verdict}] {item.variant} — {item.role}")
        if args.verbose:
            print(item.statement)
        for problem in item.problems:
            print(f"  !! {problem}")
        for note in dict.fromkeys(item.notes):
            print(f"  -- {note}")
        print(indent(item.plan_text))
        if item.generic_differs:
            print("  generic plan (after psycopg prepares the statement):")
            print(indent(item.generic_text))
        print()
    print(f"{len(checked)} plans, {failures} failing")
    failing: dict[str, list[str]] = {}
    for item in checked:
        for problem in item.problems:
            failing.setdefault(f"{item.role}: {problem}", []).append(item.variant)
    for problem, names in failing.items():
        print(
            f"  {problem} ({len(names)}): {', '.join(names[:4])}{' ...' if len(names) > 4 else ''}"
        )
    searches = [item for item in checked if "tasks: q=" in item.variant]
    if searches:
        print("\nsearch, one page with its count (EXPLAIN ANALYZE, ms; custom plan with planning):")
        for item in searches:
            print(
                f"  {item.variant:40} custom {item.custom_ms:6.2f}  generic {item.generic_ms:6.2f}"
            )
    return 1 if failures else 0


def explain_variants(
    list_tasks: Any,
    user_id: uuid.UUID,
    found_variants: list[Variant],
    first_columns: dict[str, tuple[str, str]],
    *,
    search: bool = False,
) -> list[Checked]:
    """Run each variant's list through the service, recording its SQL, and explain each
    statement (custom and generic plan). With `search`, each plan must also read the search
    index by the user (search_index_problems)."""
    from sqlalchemy import event

    from app.common.pagination import SortOrder, encode_cursor
    from app.extensions import db

    checked: list[Checked] = []
    for variant in found_variants:
        captured: list[tuple[str, dict[str, Any]]] = []
        capture = recorder(captured)

        cursor = None
        order = SortOrder.parse(variant.sort)
        filters = variant.filters
        if variant.cursor == "next":
            first = list_tasks(
                user_id=user_id, filters=filters, sort=variant.sort, limit=5, cursor=None
            )
            cursor = first.next_cursor
            if cursor is None:
                print(f"!! {variant.name}: first page has no next cursor; explained without")
        elif variant.cursor == "null":
            cursor = encode_cursor(order, None, uuid.UUID(int=2**127))
        db.session.rollback()
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            list_tasks(user_id=user_id, filters=filters, sort=variant.sort, limit=50, cursor=cursor)
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        db.session.rollback()

        for statement, parameters in captured:
            if "LIMIT" in statement and "FROM tasks" in statement:
                role = "page"  # which carries its count as a subquery
            elif "count(*)" in statement:
                role = "count"
            elif statement.lstrip().startswith("SELECT task_tags.task_id"):
                role = "tags of the page"
            elif "FROM tasks" in statement:
                role = "page"
            else:
                continue  # the pool's pre-ping
            plan, plan_text, generic_plan, generic_text = explain_both(statement, parameters)
            problems, notes = judge(plan, first_columns)
            differs = shape(plan) != shape(generic_plan)
            generic_problems, _ = judge(generic_plan, first_columns)
            problems += [f"generic plan: {p}" for p in generic_problems]
            if search:
                custom_problems, index_notes = search_index_problems(plan)
                generic_problems, generic_notes = search_index_problems(generic_plan)
                problems += custom_problems + [f"generic plan: {p}" for p in generic_problems]
                notes += index_notes + [f"generic plan: {n}" for n in generic_notes]
            checked.append(
                Checked(
                    variant.name,
                    role,
                    statement,
                    plan_text,
                    generic_text,
                    differs,
                    problems,
                    notes,
                    custom_ms=plan["Execution Time"] + plan.get("Planning Time", 0.0),
                    generic_ms=generic_plan["Execution Time"],
                )
            )
            db.session.rollback()
    return checked


def explain_both(statement: str, parameters: dict[str, Any]) -> tuple[dict, str, dict, str]:
    """(plan, its text, generic plan, its text) of one recorded statement, on the session's
    connection: EXPLAIN ANALYZE for these values, then as the prepared statement's plan."""
    import psycopg

    from app.extensions import db

    raw = db.session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    with raw.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
        plan = one_row(cur)[0][0]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plan_text = "\n".join(row[0] for row in cur.fetchall())
    generic_text, generic_plan = explain_generic(raw, statement, parameters)
    return plan, plan_text, generic_plan, generic_text


SIBLING_END = re.compile(r"SELECT (max|min)\(tasks.position\)|SELECT tasks.position\s+FROM")


def explain_sibling_ends(user_id: uuid.UUID) -> list[Checked]:
    """The reads of the first and the last sibling's position in the user's longest sibling
    list, made by the app's placement code: each plan, custom and generic, reads one row."""
    from sqlalchemy import event, func, select

    from app.extensions import db
    from app.models import Task
    from app.tasks import placement

    # The user's longest sibling list (the growth users' tasks share one list).
    list_id, parent_id, some_task, count = db.session.execute(
        select(Task.list_id, Task.parent_id, func.array_agg(Task.id)[1], func.count())
        .where(Task.user_id == user_id)
        .group_by(Task.list_id, Task.parent_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    db.session.rollback()
    top = placement.Place(list_id=list_id, parent_id=parent_id)
    calls = {
        "the last sibling (a create's position)": lambda: placement.last_position(user_id, top),
        "the first sibling (a move to the top)": lambda: placement.position_for(
            user_id=user_id, task_id=some_task, place=top, spec={"after": None}
        ),
    }
    checked: list[Checked] = []
    for name, call in calls.items():
        captured: list[tuple[str, dict[str, Any]]] = []
        capture = recorder(captured)
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            call()
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
        db.session.rollback()
        for statement, parameters in captured:
            if not SIBLING_END.match(statement):
                continue
            plan, plan_text, generic_plan, generic_text = explain_both(statement, parameters)
            db.session.rollback()
            problems = [
                f"{label}reads {node['Actual Rows']:.0f} sibling rows for one"
                for label, tree in (("", plan), ("generic plan: ", generic_plan))
                for node in walk(tree["Plan"])
                if "Scan" in node["Node Type"] and node["Actual Rows"] > 1
            ]
            checked.append(
                Checked(
                    f"{count:,} siblings: {name}",
                    "sibling",
                    statement,
                    plan_text,
                    generic_text,
                    shape(plan) != shape(generic_plan),
                    problems,
                    [],
                )
            )
    return checked


def explain_generic(raw: Any, statement: str, parameters: dict[str, Any]) -> tuple[str, dict]:
    """The plan PostgreSQL would cache for this statement once psycopg prepares it."""
    from psycopg import ClientCursor

    converted, values = positional(statement, parameters)
    with ClientCursor(raw) as cur:
        cur.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cur.execute("PREPARE bench_explain AS " + converted)
        try:
            placeholders = ", ".join(["%s"] * len(values))
            execute = (
                f"EXECUTE bench_explain({placeholders})" if values else "EXECUTE bench_explain"
            )
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + execute, values)
            plan = one_row(cur)[0][0]
            cur.execute("EXPLAIN (ANALYZE) " + execute, values)
            plan_text = "\n".join(row[0] for row in cur.fetchall())
        finally:
            cur.execute("DEALLOCATE bench_explain")
    return plan_text, plan


def one_row(cur: Any) -> Any:
    """The first row of a result that always has one (EXPLAIN's)."""
    row = cur.fetchone()
    assert row is not None, "EXPLAIN returned no row"
    return row


def indent(text_: str) -> str:
    return "\n".join("    " + line for line in text_.splitlines())


if __name__ == "__main__":
    sys.exit(main())
