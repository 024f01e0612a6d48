"""The change feed, /api/{user_id}/changes: snapshot, changes after a token, tokens, cost."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import schemathesis
from sqlalchemy import func, select, text

from app.changes import tokens
from app.changes.service import PURGE_MARGIN
from app.changes.tokens import DAY_SECONDS
from app.extensions import db
from app.models import Change
from tests.support.clients import Tasks
from tests.support.problems import assert_problem
from tests.support.sync import SyncClient, fresh_snapshot, truth


class Api:
    """The account's lists, tags and tasks, written through the API."""

    def __init__(self, client, account):
        self.client = client
        self.account = account
        self.tasks = Tasks(client, account)
        self.base = f"/api/{account.id}"

    def call(self, method: str, path: str, status: int, **kwargs) -> dict | None:
        headers = {**self.account.headers, **kwargs.pop("headers", {})}
        response = self.client.open(self.base + path, method=method, headers=headers, **kwargs)
        assert response.status_code == status, response.get_json()
        return response.get_json() if response.data else None

    def task(self, **fields) -> dict:
        return self.tasks.create(**fields)

    def list(self, name: str) -> dict:
        return self.call("POST", "/lists", 201, json={"name": name})["data"]

    def tag(self, name: str) -> dict:
        return self.call("POST", "/tags", 201, json={"name": name})["data"]


@pytest.fixture
def api(client, user) -> Api:
    return Api(client, user)


@pytest.fixture
def reader(client, user) -> SyncClient:
    """A client that has synced everything so far (an empty snapshot to start with)."""
    sync = SyncClient(client, user)
    sync.catch_up()
    return sync


def changed(reader: SyncClient) -> list[tuple[str, str, bool]]:
    """(type, id, deleted) of every change after the reader's token, in the feed's order; the
    reader moves on past them."""
    answer = reader.page(reader.since, limit=1000)
    assert answer["meta"]["has_more"] is False
    for change in answer["data"]:
        reader.apply(change)
    reader.since = answer["meta"]["next_since"]
    return [(change["type"], change["id"], change["deleted"]) for change in answer["data"]]


def without_counts(item: dict) -> dict:
    return {key: value for key, value in item.items() if key not in ("task_count", "open_count")}


class TestSnapshot:
    def test_a_new_user_has_an_empty_snapshot(self, client, user):
        answer = SyncClient(client, user).page()
        assert answer["data"] == []
        assert answer["meta"]["has_more"] is False
        assert isinstance(answer["meta"]["next_since"], str)

    def test_every_live_object_as_its_get_answers_it(self, api, client, user):
        trip = api.list("Trip")
        pack = api.task(title="Pack", list_id=trip["id"], tags=["travel"])
        api.task(title="Passport", parent_id=pack["id"], due_at="2027-01-04T08:00:00Z")
        api.tag("unused")
        answer = SyncClient(client, user).page()
        got = {(c["type"], c["id"]): c["data"] for c in answer["data"]}
        assert {c["deleted"] for c in answer["data"]} == {False}
        expected = {}
        for item in api.call("GET", "/lists", 200)["data"]:
            expected[("list", item["id"])] = without_counts(item)
        for item in api.call("GET", "/tags", 200)["data"]:
            expected[("tag", item["id"])] = without_counts(item)
        for item in api.call("GET", "/tasks", 200)["data"]:
            expected[("task", item["id"])] = api.call("GET", f"/tasks/{item['id']}", 200)["data"]
        assert got == expected
        assert len(answer["data"]) == 5

    def test_lists_then_tags_then_tasks_each_by_id(self, api, client, user):
        for name in ("b", "a"):
            api.list(name)
            api.tag(name)
            api.task(title=name)
        keys = [(c["type"], c["id"]) for c in SyncClient(client, user).page()["data"]]
        assert keys == sorted(keys)
        assert [kind for kind, _ in keys] == ["list", "list", "tag", "tag", "task", "task"]

    def test_pages_of_limit_chained_by_next_since(self, api, client, user):
        for i in range(5):
            api.task(title=f"t{i}")
        sync = SyncClient(client, user, limit=2)
        sizes, more = [], []
        for _ in range(3):
            answer = sync.page(sync.since)
            sizes.append(len(answer["data"]))
            more.append(answer["meta"]["has_more"])
            for change in answer["data"]:
                sync.apply(change)
            sync.since = answer["meta"]["next_since"]
        assert (sizes, more) == ([2, 2, 1], [True, True, False])
        assert sync.copy == truth(client, user)

    def test_a_full_last_page_says_no_more(self, api, client, user):
        for i in range(2):
            api.task(title=f"t{i}")
        answer = SyncClient(client, user, limit=2).page()
        assert (len(answer["data"]), answer["meta"]["has_more"]) == (2, False)

    def test_the_default_page_is_500(self, api, client, user):
        db.session.execute(
            text(
                "INSERT INTO tasks (id, user_id, title, position) SELECT gen_random_uuid(),"
                " :user_id, 't' || n, 'a' || n FROM generate_series(1, 501) n"
            ),
            {"user_id": user.id},
        )
        answer = SyncClient(client, user).page()
        assert (len(answer["data"]), answer["meta"]["has_more"]) == (500, True)

    def test_writes_while_paging_arrive_in_the_changes_that_follow(self, api, client, user):
        tasks = [api.task(title=f"t{i}") for i in range(6)]
        tag = api.tag("tag")
        sync = SyncClient(client, user, limit=3)
        assert sync.step() is True  # the tag and two tasks
        ids = sorted(t["id"] for t in tasks)
        passed, ahead = ids[0], ids[-1]
        api.call("PATCH", f"/tasks/{passed}", 200, json={"title": "changed after its page"})
        api.call("DELETE", f"/tasks/{ahead}", 204)
        api.call("PATCH", f"/tags/{tag['id']}", 200, json={"name": "renamed"})
        api.task(title="created while paging")
        sync.catch_up()  # the rest of the snapshot, then the feed from S0
        sync.catch_up()
        assert sync.copy == truth(client, user)
        assert sync.copy[("task", passed)]["title"] == "changed after its page"
        assert ("task", ahead) not in sync.copy

    def test_the_last_page_hands_over_to_the_changes_after_it(self, api, client, user):
        api.task(title="before")
        sync = SyncClient(client, user)
        sync.catch_up()
        assert sync.page(sync.since)["data"] == []
        after = api.task(title="after")
        assert [(c["id"], c["deleted"]) for c in sync.page(sync.since)["data"]] == [
            (after["id"], False)
        ]


class TestChanges:
    def test_nothing_new_is_an_empty_page(self, reader):
        answer = reader.page(reader.since)
        assert answer["data"] == []
        assert answer["meta"]["has_more"] is False

    def test_a_creation_comes_with_the_object(self, api, reader):
        task = api.task(title="new", tags=["t"])
        tag = api.call("GET", "/tags", 200)["data"][0]
        answer = reader.page(reader.since)
        assert answer["data"] == [
            {"type": "tag", "id": tag["id"], "deleted": False, "data": without_counts(tag)},
            {
                "type": "task",
                "id": task["id"],
                "deleted": False,
                "data": api.call("GET", f"/tasks/{task['id']}", 200)["data"],
            },
        ]

    def test_oldest_change_first_each_object_once_in_its_latest_state(self, api, reader):
        first = api.task(title="first")
        second = api.task(title="second")
        api.call("PATCH", f"/tasks/{first['id']}", 200, json={"title": "first, again"})
        answer = reader.page(reader.since)
        assert [(c["id"], c["data"]["title"]) for c in answer["data"]] == [
            (second["id"], "second"),
            (first["id"], "first, again"),
        ]

    def test_a_deletion_is_a_tombstone(self, api, reader):
        task = api.task()
        changed(reader)
        api.call("DELETE", f"/tasks/{task['id']}", 204)
        answer = reader.page(reader.since)
        assert answer["data"] == [{"type": "task", "id": task["id"], "deleted": True, "data": None}]

    def test_created_and_deleted_since_is_a_tombstone(self, api, reader):
        task = api.task()
        api.call("DELETE", f"/tasks/{task['id']}", 204)
        assert changed(reader) == [("task", task["id"], True)]

    def test_a_deleted_object_never_comes_back(self, api, client, user, reader):
        task = api.task()
        api.call("DELETE", f"/tasks/{task['id']}", 204)
        changed(reader)
        api.task(title="other")
        assert [kind for kind, _, _ in changed(reader)] == ["task"]
        assert ("task", task["id"]) not in fresh_snapshot(client, user)

    def test_pages_of_limit(self, api, reader):
        for i in range(5):
            api.task(title=f"t{i}")
        reader.limit = 2
        more = [reader.step() for _ in range(3)]
        assert more == [True, True, False]
        assert len(reader.copy) == 5

    def test_a_page_never_passes_what_it_left_for_the_next(self, api, reader):
        """The next page of a `has_more` answer starts right after its last change."""
        created = [api.task(title=f"t{i}") for i in range(4)]
        first = reader.page(reader.since, limit=2)
        second = reader.page(first["meta"]["next_since"], limit=2)
        seen = [c["id"] for c in first["data"] + second["data"]]
        assert seen == [t["id"] for t in created]

    def test_an_unchanged_object_is_not_reported(self, api, reader):
        task = api.task(title="same")
        changed(reader)
        api.call("PATCH", f"/tasks/{task['id']}", 200, json={"title": "same"})
        api.call("PATCH", f"/tasks/{task['id']}", 200, json={})
        # A PATCH that changes nothing writes nothing; the lock it took records nothing.
        assert changed(reader) == []

    def test_a_failed_write_is_not_reported(self, api, reader):
        task = api.task()
        changed(reader)
        api.call(
            "PATCH", f"/tasks/{task['id']}", 412, json={"title": "x"}, headers={"If-Match": '"x"'}
        )
        api.call("POST", "/tasks", 422, json={"title": "x", "list_id": str(uuid.uuid4())})
        assert changed(reader) == []

    def test_another_users_changes_are_not_in_the_feed(self, api, auth, client, reader):
        other = Api(client, auth.register())
        other.task(title="theirs")
        other.list("Theirs")
        assert changed(reader) == []


class TestWhatAChangeReports:
    """Every object a write changes is reported, cascades included; a change that only moves a
    list's or tag's counts does not report the list or tag."""

    def test_a_task_added_to_a_list_does_not_report_the_list(self, api, reader):
        trip = api.list("Trip")
        changed(reader)
        task = api.task(list_id=trip["id"])
        assert changed(reader) == [("task", task["id"], False)]

    def test_completing_a_task_in_a_list_does_not_report_the_list(self, api, reader):
        trip = api.list("Trip")
        task = api.task(list_id=trip["id"])
        changed(reader)
        api.call("PATCH", f"/tasks/{task['id']}/complete", 200)
        assert changed(reader) == [("task", task["id"], False)]

    def test_using_an_existing_tag_does_not_report_the_tag(self, api, reader):
        api.tag("errands")
        changed(reader)
        task = api.task(tags=["Errands"])
        assert changed(reader) == [("task", task["id"], False)]

    def test_a_new_tag_name_reports_the_new_tag(self, api, reader):
        task = api.task()
        changed(reader)
        api.call("PATCH", f"/tasks/{task['id']}", 200, json={"tags": ["fresh"]})
        tag = api.call("GET", "/tags", 200)["data"][0]
        assert changed(reader) == [("tag", tag["id"], False), ("task", task["id"], False)]

    def test_renaming_a_list_reports_the_list_alone(self, api, reader):
        trip = api.list("Trip")
        api.task(list_id=trip["id"])
        changed(reader)
        api.call("PATCH", f"/lists/{trip['id']}", 200, json={"name": "Holiday"})
        assert changed(reader) == [("list", trip["id"], False)]
        assert reader.copy[("list", trip["id"])]["name"] == "Holiday"

    def test_deleting_a_list_reports_each_task_deleted_with_it(self, api, reader):
        trip = api.list("Trip")
        pack = api.task(list_id=trip["id"])
        sock = api.task(parent_id=pack["id"])
        toe = api.task(parent_id=sock["id"])
        elsewhere = api.task()
        changed(reader)
        api.call("DELETE", f"/lists/{trip['id']}", 204)
        assert sorted(changed(reader)) == sorted(
            [("list", trip["id"], True)] + [("task", t["id"], True) for t in (pack, sock, toe)]
        )
        assert ("task", elsewhere["id"]) in reader.copy

    def test_deleting_a_parent_reports_each_subtask(self, api, reader):
        parent = api.task()
        child = api.task(parent_id=parent["id"])
        grandchild = api.task(parent_id=child["id"])
        changed(reader)
        api.call("DELETE", f"/tasks/{parent['id']}", 204)
        assert sorted(changed(reader)) == sorted(
            ("task", t["id"], True) for t in (parent, child, grandchild)
        )

    def test_completing_a_parent_reports_each_subtask_it_completed(self, api, reader):
        parent = api.task()
        pending = api.task(parent_id=parent["id"])
        deeper = api.task(parent_id=pending["id"])
        done = api.task(parent_id=parent["id"], is_completed=True)
        changed(reader)
        api.call("PATCH", f"/tasks/{parent['id']}/complete", 200)
        assert sorted(changed(reader)) == sorted(
            ("task", t["id"], False) for t in (parent, pending, deeper)
        )
        assert reader.copy[("task", deeper["id"])]["is_completed"] is True
        assert ("task", done["id"]) in reader.copy

    def test_moving_a_subtree_to_another_list_reports_every_task_moved(self, api, reader):
        home, away = api.list("Home"), api.list("Away")
        root = api.task(list_id=home["id"])
        child = api.task(parent_id=root["id"])
        api.task(list_id=home["id"])  # stays
        changed(reader)
        api.call("PATCH", f"/tasks/{root['id']}", 200, json={"list_id": away["id"]})
        assert sorted(changed(reader)) == sorted(
            [("task", root["id"], False), ("task", child["id"], False)]
        )
        assert reader.copy[("task", child["id"])]["list_id"] == away["id"]

    def test_reordering_reports_the_moved_task(self, api, reader):
        first, second = api.task(title="1"), api.task(title="2")
        changed(reader)
        api.call("POST", f"/tasks/{second['id']}/move", 200, json={"after": None})
        assert changed(reader) == [("task", second["id"], False)]
        assert (
            reader.copy[("task", second["id"])]["position"]
            < reader.copy[("task", first["id"])]["position"]
        )

    def test_renaming_a_tag_reports_every_task_carrying_it(self, api, reader):
        tagged = [api.task(tags=["old"]), api.task(tags=["old", "other"])]
        untagged = api.task(tags=["other"])
        tag = next(t for t in api.call("GET", "/tags", 200)["data"] if t["name"] == "old")
        changed(reader)
        api.call("PATCH", f"/tags/{tag['id']}", 200, json={"name": "new"})
        assert sorted(changed(reader)) == sorted(
            [("tag", tag["id"], False)] + [("task", t["id"], False) for t in tagged]
        )
        assert [reader.copy[("task", t["id"])]["tags"] for t in tagged] == [
            ["new"],
            ["new", "other"],
        ]
        assert reader.copy[("task", untagged["id"])]["tags"] == ["other"]

    def test_deleting_a_tag_reports_every_task_that_carried_it(self, api, reader):
        tagged = api.task(tags=["gone", "kept"])
        api.task(tags=["kept"])
        tag = next(t for t in api.call("GET", "/tags", 200)["data"] if t["name"] == "gone")
        changed(reader)
        api.call("DELETE", f"/tags/{tag['id']}", 204)
        assert sorted(changed(reader)) == sorted(
            [("tag", tag["id"], True), ("task", tagged["id"], False)]
        )
        assert reader.copy[("task", tagged["id"])]["tags"] == ["kept"]

    def test_completing_a_recurring_task_reports_it_and_its_successor(self, api, reader):
        task = api.task(due_at="2027-01-04T08:00:00Z", recurrence="FREQ=DAILY")
        changed(reader)
        done = api.call("PATCH", f"/tasks/{task['id']}/complete", 200)["data"]
        successor = done["next_occurrence_id"]
        assert sorted(changed(reader)) == sorted(
            [("task", task["id"], False), ("task", successor, False)]
        )
        assert reader.copy[("task", task["id"])]["next_occurrence_id"] == successor

    def test_completing_a_parent_reports_its_recurring_subtasks_successors(self, api, reader):
        parent = api.task()
        daily = api.task(
            parent_id=parent["id"], due_at="2027-01-04T08:00:00Z", recurrence="FREQ=DAILY"
        )
        changed(reader)
        api.call("PATCH", f"/tasks/{parent['id']}/complete", 200)
        successor = api.call("GET", f"/tasks/{daily['id']}", 200)["data"]["next_occurrence_id"]
        assert sorted(changed(reader)) == sorted(
            ("task", t, False) for t in (parent["id"], daily["id"], successor)
        )

    def test_deleting_a_successor_reports_its_predecessor(self, api, reader):
        """The predecessor's next_occurrence_id is cleared by the foreign key: it changed too."""
        task = api.task(due_at="2027-01-04T08:00:00Z", recurrence="FREQ=DAILY")
        successor = api.call("PATCH", f"/tasks/{task['id']}/complete", 200)["data"][
            "next_occurrence_id"
        ]
        changed(reader)
        api.call("DELETE", f"/tasks/{successor}", 204)
        assert sorted(changed(reader)) == sorted(
            [("task", task["id"], False), ("task", successor, True)]
        )
        assert reader.copy[("task", task["id"])]["next_occurrence_id"] is None

    def test_the_copy_equals_the_truth_after_all_of_it(self, api, client, user, reader):
        trip = api.list("Trip")
        parent = api.task(list_id=trip["id"], tags=["a"])
        api.task(parent_id=parent["id"], due_at="2027-01-04T08:00:00Z", recurrence="FREQ=DAILY")
        api.call("PATCH", f"/tasks/{parent['id']}/complete", 200)
        tag = api.call("GET", "/tags", 200)["data"][0]
        api.call("PATCH", f"/tags/{tag['id']}", 200, json={"name": "b"})
        changed(reader)
        assert reader.copy == truth(client, user) == fresh_snapshot(client, user)


class TestTokens:
    def test_a_tampered_token_is_422_naming_since(self, reader):
        since = reader.since
        tampered = since[:-2] + ("AA" if not since.endswith("AA") else "BB")
        response = reader.client.get(
            f"/api/{reader.account.id}/changes?since={tampered}", headers=reader.account.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"] == {"query": {"since": ["Not a valid sync token."]}}

    def test_another_users_token_is_422_naming_since(self, auth, client, reader):
        other = auth.register()
        theirs = SyncClient(client, other).page()["meta"]["next_since"]
        response = client.get(
            f"/api/{reader.account.id}/changes",
            query_string={"since": theirs},
            headers=reader.account.headers,
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"] == {"query": {"since": ["Not a sync token of this user's."]}}

    def test_a_task_list_cursor_is_not_a_token(self, api, client, user):
        for i in range(2):
            api.task(title=f"t{i}")
        cursor = api.call("GET", "/tasks?limit=1", 200)["meta"]["next_cursor"]
        response = client.get(
            f"/api/{user.id}/changes", query_string={"since": cursor}, headers=user.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"] == {"query": {"since": ["Not a valid sync token."]}}

    @pytest.mark.parametrize("since", ["", "x" * 1001])
    def test_an_empty_or_oversized_since_is_422(self, client, user, since):
        response = client.get(
            f"/api/{user.id}/changes", query_string={"since": since}, headers=user.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["since"]

    @pytest.mark.parametrize("limit", ["0", "1001", "many"])
    def test_a_bad_limit_is_422(self, client, user, limit):
        response = client.get(
            f"/api/{user.id}/changes", query_string={"limit": limit}, headers=user.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["limit"]

    def test_an_unknown_parameter_is_422(self, client, user):
        response = client.get(f"/api/{user.id}/changes?sinse=x", headers=user.headers)
        problem = assert_problem(response, 422, "validation_error")
        assert list(problem["errors"]["query"]) == ["sinse"]

    def test_a_token_older_than_the_history_kept_is_410(self, monkeypatch, reader):
        issued = tokens.now()
        later = issued + 30 * DAY_SECONDS + 1
        monkeypatch.setattr(tokens, "now", lambda: later)
        response = reader.client.get(
            f"/api/{reader.account.id}/changes",
            query_string={"since": reader.since},
            headers=reader.account.headers,
        )
        problem = assert_problem(response, 410, "sync_expired")
        assert "full snapshot" in problem["detail"]

    def test_a_token_within_the_history_kept_is_answered(self, monkeypatch, reader):
        later = tokens.now() + 30 * DAY_SECONDS - 60
        monkeypatch.setattr(tokens, "now", lambda: later)
        assert reader.page(reader.since)["data"] == []

    def test_the_retention_is_configurable(self, app, monkeypatch, reader):
        monkeypatch.setitem(app.config, "SYNC_RETENTION_DAYS", 2)
        later = tokens.now() + 2 * DAY_SECONDS + 1
        monkeypatch.setattr(tokens, "now", lambda: later)
        response = reader.client.get(
            f"/api/{reader.account.id}/changes",
            query_string={"since": reader.since},
            headers=reader.account.headers,
        )
        assert_problem(response, 410, "sync_expired")

    def test_an_idle_clients_token_stays_fresh(self, monkeypatch, reader):
        """With nothing new, next_since is issued anew: polling an idle account never expires."""
        start = tokens.now()
        for day in (20, 40, 60):
            moment = start + day * DAY_SECONDS
            monkeypatch.setattr(tokens, "now", lambda moment=moment: moment)
            reader.step()
        assert reader.page(reader.since)["data"] == []

    def test_a_page_with_more_keeps_the_moment_of_its_token(self, api, monkeypatch, reader):
        """What a `has_more` page left for later may be old: its token is as old as `since`."""
        for i in range(3):
            api.task(title=f"t{i}")
        moment = tokens.now() + 29 * DAY_SECONDS
        monkeypatch.setattr(tokens, "now", lambda: moment)
        reader.limit = 1
        assert reader.step() is True
        monkeypatch.setattr(tokens, "now", lambda: moment + 2 * DAY_SECONDS)
        response = reader.client.get(
            f"/api/{reader.account.id}/changes",
            query_string={"since": reader.since},
            headers=reader.account.headers,
        )
        assert_problem(response, 410, "sync_expired")


class TestPurge:
    @pytest.fixture
    def runner(self, app):
        return app.test_cli_runner()

    def age(self, kind: str, object_id: str, days: float) -> None:
        db.session.execute(
            text(
                "UPDATE changes SET changed_at = now() - make_interval(secs => :seconds)"
                " WHERE kind = :kind AND object_id = :id"
            ),
            {"seconds": days * DAY_SECONDS, "kind": kind, "id": object_id},
        )

    def kept(self, *object_ids: str) -> set[str]:
        rows = db.session.scalars(select(Change.object_id).where(Change.object_id.in_(object_ids)))
        return {str(object_id) for object_id in rows}

    def test_tombstones_past_the_retention_are_purged(self, api, runner):
        margin = PURGE_MARGIN / timedelta(days=1)
        old, recent, live = api.task(), api.task(), api.task()
        for task in (old, recent):
            api.call("DELETE", f"/tasks/{task['id']}", 204)
        self.age("task", old["id"], 30 + margin + 0.01)
        self.age("task", recent["id"], 30 + margin - 0.01)
        self.age("task", live["id"], 400)
        result = runner.invoke(args=["sync", "purge"])
        assert result.exit_code == 0, result.output
        assert result.output == "Purged 1 tombstone.\n"
        assert self.kept(old["id"], recent["id"], live["id"]) == {recent["id"], live["id"]}

    def test_a_live_objects_change_is_never_purged(self, api, client, user, runner):
        task = api.task()
        self.age("task", task["id"], 1000)
        assert runner.invoke(args=["sync", "purge"]).output == "Purged 0 tombstones.\n"
        assert ("task", task["id"]) in fresh_snapshot(client, user)


class TestCost:
    def test_a_sync_with_nothing_new_is_one_statement_after_authentication(
        self, reader, statements
    ):
        statements.clear()
        assert reader.page(reader.since)["data"] == []
        assert len(statements) == 2, statements
        assert "login_sessions" in statements[0]
        assert "FROM changes" in statements[1]

    @pytest.mark.parametrize("size", [1, 10, 60])
    def test_a_page_costs_the_same_statements_whatever_its_size(
        self, api, reader, statements, size
    ):
        trip = api.list("Trip")
        for i in range(size):
            api.task(title=f"t{i}", tags=[f"tag{i % 3}"], list_id=trip["id"])
        statements.clear()
        answer = reader.page(reader.since)
        assert len(answer["data"]) == size + min(size, 3) + 1
        # The session check, the page of changes, then one statement per kind on it.
        assert len(statements) == 5, statements

    @pytest.mark.parametrize("size", [1, 10, 60])
    def test_a_snapshot_page_costs_the_same_statements_whatever_its_size(
        self, api, client, user, statements, size
    ):
        for i in range(size):
            api.task(title=f"t{i}")
        statements.clear()
        assert len(SyncClient(client, user).page()["data"]) == size
        # The session check, S0, the page of positions, the tasks.
        assert len(statements) == 4, statements


def test_an_answer_is_what_the_document_describes(app, api, client, user, reader):
    trip = api.list("Trip")
    gone = api.task(tags=["t"], list_id=trip["id"], due_at="2027-01-04T08:00:00Z")
    api.task(title="stays")
    api.call("DELETE", f"/tasks/{gone['id']}", 204)
    response = client.get(
        f"/api/{user.id}/changes", query_string={"since": reader.since}, headers=user.headers
    )
    assert {c["type"] for c in response.get_json()["data"]} == {"list", "tag", "task"}
    assert True in {c["deleted"] for c in response.get_json()["data"]}
    document = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operation = document["/api/{user_id}/changes"]["GET"]
    operation.validate_response(response)


def test_changes_rows_are_written_by_the_database_only(api, user):
    """Every task, list and tag written has its row; nothing else writes the table."""
    api.task(tags=["t"], list_id=api.list("L")["id"])
    count = db.session.scalar(
        select(func.count()).select_from(Change).where(Change.user_id == user.id)
    )
    assert count == 3


def test_each_statement_takes_its_own_number_under_the_users_lock(api, user):
    before = db.session.scalar(
        text("SELECT change_seq FROM user_counters WHERE user_id = :u"), {"u": user.id}
    )
    numbers = [
        db.session.scalar(text("SELECT change_seq_of(:u)"), {"u": user.id}) for _ in range(3)
    ]
    assert numbers == [before + 1, before + 2, before + 3]
