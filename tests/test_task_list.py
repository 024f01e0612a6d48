"""Listing tasks: filters, full-text search, sorting, keyset pages, counts and query cost."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.support.problems import assert_problem


def titles(page: dict) -> list[str]:
    return [task["title"] for task in page["data"]]


def q(**params) -> str:
    return urllib.parse.urlencode(params, doseq=True)


class TestEmpty:
    def test_no_tasks_at_all(self, tasks):
        response = tasks.request("GET")
        assert response.status_code == 200
        assert response.get_json() == {
            "data": [],
            "meta": {"count": 0, "limit": 50, "next_cursor": None},
        }
        assert "Link" not in response.headers


class TestFilters:
    @pytest.fixture
    def seeded(self, tasks):
        tasks.create(title="done high", is_completed=True, priority="high", tags=["Work"])
        tasks.create(title="open low", priority="low", tags=["work", "home"])
        tasks.create(title="open none", tags=["home"])
        return tasks

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("all", {"done high", "open low", "open none"}),
            ("pending", {"open low", "open none"}),
            ("completed", {"done high"}),
        ],
    )
    def test_status(self, seeded, status, expected):
        page = seeded.list(q(status=status))
        assert set(titles(page)) == expected
        assert page["meta"]["count"] == len(expected)

    def test_priority_is_repeatable(self, seeded):
        page = seeded.list(q(priority=["high", "low"]))
        assert set(titles(page)) == {"done high", "open low"}

    def test_every_tag_named_must_match_in_any_case(self, seeded):
        assert set(titles(seeded.list(q(tag="WORK")))) == {"done high", "open low"}
        assert titles(seeded.list(q(tag=["work", "home"]))) == ["open low"]
        assert titles(seeded.list(q(tag="unknown"))) == []

    def test_due_window_excludes_tasks_without_due_date(self, tasks):
        now = datetime(2026, 11, 30, 12, tzinfo=UTC)
        for days in (-2, 0, 2):
            tasks.create(title=f"due {days}", due_at=(now + timedelta(days=days)).isoformat())
        tasks.create(title="no due date")
        before = tasks.list(q(due_before=now.isoformat()))
        after = tasks.list(q(due_after=now.isoformat()))
        window = tasks.list(
            q(
                due_after=(now - timedelta(days=3)).isoformat(),
                due_before=(now + timedelta(days=1)).isoformat(),
            )
        )
        assert titles(before) == ["due -2"]
        assert titles(after) == ["due 2"]
        assert set(titles(window)) == {"due -2", "due 0"}

    def test_due_filters_need_a_zone(self, tasks):
        problem = assert_problem(
            tasks.request("GET", "?due_before=2026-11-30T12:00:00"), 422, "validation_error"
        )
        assert list(problem["errors"]["query"]) == ["due_before"]

    def test_filters_combine(self, seeded):
        page = seeded.list(q(status="pending", tag="home", priority="none"))
        assert titles(page) == ["open none"]


class TestSearch:
    @pytest.fixture
    def notes(self, tasks):
        tasks.create(title="Walking the dog", description="around the park")
        tasks.create(title="Buy dog food")
        tasks.create(title="Call mum", description="about the walk on Sunday")
        return tasks

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("walk", {"Walking the dog", "Call mum"}),
            ("dogs", {"Walking the dog", "Buy dog food"}),
            ('"dog food"', {"Buy dog food"}),
            ("dog -walking", {"Buy dog food"}),
            ("park", {"Walking the dog"}),
            ("nothing matches this", set()),
        ],
    )
    def test_words_stems_phrases_and_exclusions(self, notes, query, expected):
        page = notes.list(q(q=query))
        assert set(titles(page)) == expected
        assert page["meta"]["count"] == len(expected)

    @pytest.mark.parametrize(
        "query", ["'; DROP TABLE tasks; --", "a & | ! ( ) :*", '"', "-", "   "]
    )
    def test_any_text_is_a_search_not_an_error(self, notes, query):
        assert notes.request("GET", "?" + q(q=query)).status_code == 200


class TestSort:
    @pytest.fixture
    def spread(self, tasks):
        base = datetime(2026, 12, 1, tzinfo=UTC)
        made = [
            tasks.create(
                title="banana", priority="low", due_at=(base + timedelta(days=2)).isoformat()
            ),
            tasks.create(title="Apple", priority="high"),
            tasks.create(title="cherry", priority="none", due_at=base.isoformat()),
            tasks.create(title="date", priority="medium"),
        ]
        tasks.request("PATCH", f"/{made[0]['id']}", json={"description": "touched last"})
        return tasks

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("-created_at", ["date", "cherry", "Apple", "banana"]),
            ("created_at", ["banana", "Apple", "cherry", "date"]),
            ("-updated_at", ["banana", "date", "cherry", "Apple"]),
            ("priority", ["cherry", "banana", "date", "Apple"]),
            ("-priority", ["Apple", "date", "banana", "cherry"]),
            ("due_at", ["cherry", "banana"]),
            ("-due_at", ["banana", "cherry"]),
        ],
    )
    def test_each_key_both_ways(self, spread, sort, expected):
        got = titles(spread.list(q(sort=sort)))
        assert got[: len(expected)] == expected

    @pytest.mark.parametrize("sort", ["due_at", "-due_at"])
    def test_tasks_without_due_date_sort_last_either_way(self, spread, sort):
        got = titles(spread.list(q(sort=sort)))
        assert set(got[2:]) == {"Apple", "date"}

    def test_title_sort_is_by_the_database_collation_both_ways(self, spread):
        ascending = titles(spread.list(q(sort="title")))
        descending = titles(spread.list(q(sort="-title")))
        assert ascending == list(reversed(descending))
        assert set(ascending) == {"Apple", "banana", "cherry", "date"}

    def test_ties_are_broken_by_id(self, tasks):
        made = [tasks.create(title="same", priority="low") for _ in range(5)]
        ids = [task["id"] for task in tasks.list(q(sort="priority"))["data"]]
        assert ids == sorted(task["id"] for task in made)
        ids = [task["id"] for task in tasks.list(q(sort="-priority"))["data"]]
        assert ids == sorted((task["id"] for task in made), reverse=True)

    @pytest.mark.parametrize("sort", ["colour", "--title", "title,-due_at", ""])
    def test_unknown_sort_is_422(self, tasks, sort):
        problem = assert_problem(tasks.request("GET", "?" + q(sort=sort)), 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["sort"]


class TestPages:
    def collect(self, tasks, query: str) -> tuple[list[str], list[dict]]:
        seen, metas, cursor = [], [], None
        for _ in range(50):
            params = query + (f"&cursor={cursor}" if cursor else "")
            page = tasks.list(params)
            seen += [task["id"] for task in page["data"]]
            metas.append(page["meta"])
            cursor = page["meta"]["next_cursor"]
            if cursor is None:
                return seen, metas
        raise AssertionError("pagination did not end")

    @pytest.mark.parametrize(
        "sort",
        [
            "created_at",
            "-created_at",
            "updated_at",
            "due_at",
            "-due_at",
            "priority",
            "-priority",
            "title",
            "-title",
        ],
    )
    def test_every_sort_pages_through_every_task_once(self, tasks, sort):
        base = datetime(2026, 12, 1, tzinfo=UTC)
        made = {
            tasks.create(
                title=f"task {i % 4}",
                priority=["none", "low", "medium", "high"][i % 4],
                due_at=(base + timedelta(hours=i % 3)).isoformat() if i % 2 else None,
            )["id"]
            for i in range(11)
        }
        seen, metas = self.collect(tasks, q(sort=sort, limit=3))
        assert len(seen) == len(set(seen)) == 11
        assert set(seen) == made
        assert [meta["count"] for meta in metas] == [11] * 4

    def test_next_cursor_is_null_when_the_last_page_is_full(self, tasks):
        for i in range(4):
            tasks.create(title=f"t{i}")
        first = tasks.list(q(limit=2))
        second = tasks.list(q(limit=2, cursor=first["meta"]["next_cursor"]))
        assert len(second["data"]) == 2
        assert second["meta"]["next_cursor"] is None

    def test_link_header_points_at_the_next_page_with_the_same_filters(self, tasks):
        for i in range(3):
            tasks.create(title=f"t{i}", priority="high")
        response = tasks.request("GET", "?" + q(limit=2, priority="high", sort="title"))
        link = response.headers["Link"]
        assert link.endswith('>; rel="next"')
        url = urllib.parse.urlsplit(link[1 : link.index(">")])
        params = urllib.parse.parse_qs(url.query)
        assert params["cursor"] == [response.get_json()["meta"]["next_cursor"]]
        assert (params["priority"], params["sort"], params["limit"]) == (["high"], ["title"], ["2"])
        follow = tasks.request("GET", f"?{url.query}")
        assert titles(follow.get_json()) == ["t2"]

    def test_120_tasks_in_pages_of_50_while_tasks_are_added(self, tasks):
        original = {tasks.create(title=f"t{i}")["id"] for i in range(120)}
        seen, cursor = [], None
        for _ in range(3):
            page = tasks.list(q(limit=50, **({"cursor": cursor} if cursor else {})))
            seen += [task["id"] for task in page["data"]]
            tasks.create(title="added while paging")
            cursor = page["meta"]["next_cursor"]
        assert cursor is None
        assert len(seen) == len(set(seen)) == 120
        assert set(seen) == original

    @pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5"])
    def test_limit_out_of_range_is_422(self, tasks, limit):
        problem = assert_problem(tasks.request("GET", f"?limit={limit}"), 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["limit"]

    def test_limits_1_and_100_are_fine(self, tasks):
        tasks.create()
        assert tasks.list("limit=1")["meta"]["limit"] == 1
        assert tasks.list("limit=100")["meta"]["limit"] == 100

    @pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiLWNyZWF0ZWRfYXQifQ.forged", "a" * 2000])
    def test_a_cursor_that_is_not_ours_is_422(self, tasks, cursor):
        problem = assert_problem(
            tasks.request("GET", "?" + q(cursor=cursor)), 422, "validation_error"
        )
        assert list(problem["errors"]["query"]) == ["cursor"]

    def test_a_cursor_from_another_sort_is_422(self, tasks):
        for i in range(3):
            tasks.create(title=f"t{i}")
        cursor = tasks.list(q(limit=1, sort="title"))["meta"]["next_cursor"]
        response = tasks.request("GET", "?" + q(limit=1, sort="-due_at", cursor=cursor))
        problem = assert_problem(response, 422, "validation_error")
        assert "sort=title" in problem["errors"]["query"]["cursor"][0]

    def test_unknown_parameters_are_named(self, tasks):
        problem = assert_problem(tasks.request("GET", "?stauts=done"), 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["stauts"]

    def test_bad_status_is_named(self, tasks):
        problem = assert_problem(tasks.request("GET", "?status=done"), 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["status"]


class TestQueryCost:
    @pytest.mark.parametrize("size", [1, 10, 60])
    def test_a_page_costs_the_same_queries_whatever_its_size(self, tasks, statements, size):
        for i in range(size):
            tasks.create(title=f"t{i}", tags=[f"tag{i % 3}", "all"])
        statements.clear()
        page = tasks.list(q(limit=100, tag="all"))
        assert len(page["data"]) == size
        # The token's session check (the guard's), then the page with its tag names and the
        # count, all in one.
        assert len(statements) == 2, statements
        assert "login_sessions" in statements[0]
        assert "FROM tasks" in statements[1]

    @pytest.mark.direct  # behind a pooler nothing is set (the next test)
    def test_a_search_is_planned_for_its_words_and_the_connection_set_back(
        self, app, tasks, statements
    ):
        """A full-text page runs with custom plans (a generic one can walk a heavy user's
        whole index for a rare word), between two SETs; the connection returns to generic
        plans, which every other statement is built for."""
        tasks.create(title="Call the plumber")
        statements.clear()
        page = tasks.list(q(q="plumber"))
        assert [task["title"] for task in page["data"]] == ["Call the plumber"]
        assert statements[1:] == [
            "SET plan_cache_mode = force_custom_plan",
            statements[2],
            "SET plan_cache_mode = force_generic_plan",
        ], statements
        with app.app_context():
            assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == (
                "force_generic_plan"
            )

    def test_behind_a_pooler_a_search_sets_nothing(self, app, tasks, statements, monkeypatch):
        monkeypatch.setitem(app.config, "DB_TRANSACTION_POOLER", True)
        statements.clear()
        tasks.list(q(q="plumber"))
        assert not any(sql.startswith("SET plan_cache_mode") for sql in statements), statements

    def test_an_empty_page_costs_the_same(self, tasks, statements):
        statements.clear()
        assert tasks.list()["data"] == []
        assert len(statements) == 2, statements

    def test_reading_one_task_is_one_statement_after_authentication(self, tasks, statements):
        task = tasks.create(tags=["a", "b"])
        statements.clear()
        assert tasks.request("GET", f"/{task['id']}").status_code == 200
        assert len(statements) == 2, statements
        assert "login_sessions" in statements[0]
        assert "FROM tasks" in statements[1] and "login_sessions" not in statements[1]

    def test_the_last_page_past_a_cursor_still_counts(self, tasks):
        for i in range(2):
            tasks.create(title=f"t{i}")
        first = tasks.list("limit=2")
        assert first["meta"]["next_cursor"] is None
        tasks.create(title="t2")
        page = tasks.list("limit=1&sort=created_at")
        rest = tasks.list(f"limit=5&sort=created_at&cursor={page['meta']['next_cursor']}")
        assert (len(rest["data"]), rest["meta"]["count"]) == (2, 3)
