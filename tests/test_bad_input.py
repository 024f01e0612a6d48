"""Whatever a client sends, the answer is a 2xx or a 4xx problem naming what is wrong: never a
500, and nothing stored is altered on the way. Property-based where the space is large."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime

import jwt as pyjwt
import marshmallow as ma
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.common.fields import UtcDateTime
from app.extensions import db
from app.tasks.schemas import TaskCreateSchema, TaskPatchSchema, TaskQueryArgsSchema
from tests.support.problems import assert_problem

FIXTURE_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    # Numbers JSON parsers agree on (orjson refuses beyond a double's range: see test_raw_bodies).
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
TASK_FIELDS = [
    "title",
    "description",
    "is_completed",
    "priority",
    "due_at",
    "tags",
    "list_id",
    "parent_id",
    "recurrence",
    "time_zone",
    "remind_at",
]
RULE_PARTS = [
    "FREQ=DAILY",
    "FREQ=WEEKLY",
    "FREQ=MONTHLY",
    "FREQ=YEARLY",
    "FREQ=HOURLY",
    "freq=daily",
    "INTERVAL=2",
    "INTERVAL=0",
    "COUNT=3",
    "COUNT=100000",
    "UNTIL=20270101",
    "UNTIL=20270101T090000",
    "BYDAY=MO,TH",
    "BYDAY=-1FR",
    "BYDAY=9MO",
    "BYMONTHDAY=-1",
    "BYMONTHDAY=31",
    "BYMONTH=2",
    "BYSETPOS=1",
    "BYSETPOS=-1,1,2,3,4,5,6,7,8,9,10",
    "WKST=SU",
    "BYHOUR=9",
    "DTSTART=20270101",
    "",
    "=",
]
schedules = st.fixed_dictionaries(
    {
        "title": st.just("repeats"),
        "recurrence": st.lists(st.sampled_from(RULE_PARTS), max_size=5).map(";".join) | st.none(),
        "due_at": st.sampled_from([None, "2027-01-31T09:00:00Z", "2026-03-29T01:30:00Z"]),
        "time_zone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Nowhere"]),
    }
)
task_like_bodies = st.dictionaries(
    st.sampled_from(TASK_FIELDS) | st.text(max_size=12), json_values, max_size=7
)

SQL_LIKE = [
    "'; DROP TABLE tasks; --",
    '" OR 1=1 --',
    "1' OR '1'='1",
    "%' AND pg_sleep(5) --",
    "$$; SELECT 1; $$",
    "\\x27 UNION SELECT password_hash FROM users --",
    "%_%",
    "::regclass",
]
UNICODE_EDGES = [
    "Ǆ ǅ ǆ İ ı ß ẞ",  # case mappings that change length or are ambiguous
    "\u202etxt.exe",  # right-to-left override
    "e\u0301\u0301\u0301",  # stacked combining marks
    "👩‍👩‍👧‍👦 🏳️‍🌈",  # ZWJ sequences
    "𝕳𝖊𝖑𝖑𝖔 𐍈",  # astral plane
    "\ufeffbom inside",
    "日本語の仕事",
    "\u0000"[:0] + "tab\tand\nnewline",
]


# Schemas, directly


@given(body=json_values)
def test_task_schemas_either_load_or_raise_validation_errors(body):
    for schema in (TaskCreateSchema(), TaskPatchSchema()):
        try:
            loaded = schema.load(body)
        except ma.ValidationError:
            continue
        assert set(loaded) <= set(TASK_FIELDS)


@given(title=st.text(max_size=260))
def test_titles_are_accepted_exactly_when_trimmed_length_is_1_to_200(title):
    try:
        loaded = TaskCreateSchema().load({"title": title})
    except ma.ValidationError as error:
        assert "title" in error.messages
        stripped = title.strip()
        assert not (1 <= len(stripped) <= 200) or "\x00" in title
    else:
        assert loaded["title"] == title.strip()
        assert 1 <= len(loaded["title"]) <= 200


@given(moment=st.datetimes(timezones=st.timezones()))
def test_any_zoned_time_is_stored_in_utc_or_refused_as_out_of_range(moment):
    field = UtcDateTime()
    try:
        value = field.deserialize(moment.isoformat())
    except ma.ValidationError as error:
        assert error.messages == ["Must be between years 1 and 9999 in UTC."]
    else:
        assert value.tzinfo == UTC
        # Compared through the offset actually written: ambiguous wall times (DST folds)
        # compare unequal across zones in Python even when they are the same instant.
        assert value == datetime.fromisoformat(moment.isoformat())


@given(moment=st.datetimes())
def test_a_time_without_zone_is_refused(moment):
    with pytest.raises(ma.ValidationError, match="time zone"):
        UtcDateTime().deserialize(moment.isoformat())


@given(args=st.dictionaries(st.text(max_size=10), st.text(max_size=30), max_size=5))
def test_query_schema_either_loads_or_raises_validation_errors(args):
    try:
        TaskQueryArgsSchema().load(args, unknown=ma.RAISE)
    except ma.ValidationError:
        pass


# Over HTTP


@FIXTURE_SETTINGS
@given(body=task_like_bodies)
def test_any_json_object_creates_a_task_or_is_a_named_422(tasks, body):
    response = tasks.request("POST", data=json.dumps(body), content_type="application/json")
    if response.status_code == 201:
        return
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]["json"]) <= set(body) | {"title", "_schema"}


@FIXTURE_SETTINGS
@given(body=schedules)
def test_any_rule_zone_and_due_date_make_a_task_or_a_422_naming_them(tasks, body):
    response = tasks.request("POST", json=body)
    if response.status_code == 201:
        task = response.get_json()["data"]
        assert (task["recurrence"] is None) == (body["recurrence"] is None)
        return
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]["json"]) <= {"recurrence", "time_zone"}


@FIXTURE_SETTINGS
@given(body=json_values)
def test_any_json_document_moves_a_task_or_is_a_422(tasks, body):
    task = tasks.create()
    response = tasks.request(
        "POST", f"/{task['id']}/move", data=json.dumps(body), content_type="application/json"
    )
    if response.status_code == 200:
        return
    assert_problem(response, 422, "validation_error")


@FIXTURE_SETTINGS
@given(body=json_values)
def test_any_json_document_patches_or_is_a_422(tasks, body):
    task = tasks.create()
    response = tasks.request(
        "PATCH", f"/{task['id']}", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code in (200, 422), response.get_data(as_text=True)
    if response.status_code == 422:
        assert_problem(response, 422, "validation_error")


@FIXTURE_SETTINGS
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "status",
                    "priority",
                    "tag",
                    "due_before",
                    "due_after",
                    "q",
                    "sort",
                    "limit",
                    "cursor",
                ]
            )
            | st.text(max_size=8),
            st.text(max_size=40),
        ),
        max_size=6,
    )
)
def test_any_query_string_lists_or_is_a_named_422(tasks, params):
    response = tasks.request("GET", "?" + urllib.parse.urlencode(params))
    if response.status_code == 200:
        return
    problem = assert_problem(response, 422, "validation_error")
    assert set(problem["errors"]["query"]) <= {name for name, _ in params}


@pytest.mark.parametrize("payload", SQL_LIKE + UNICODE_EDGES)
def test_sql_like_and_unicode_text_is_stored_exactly_in_every_text_field(tasks, client, payload):
    text_value = payload.strip() or "x"
    task = tasks.create(title=text_value, description=payload, tags=[text_value[:50]])
    fetched = tasks.request("GET", f"/{task['id']}").get_json()["data"]
    assert fetched["title"] == text_value
    assert fetched["description"] == payload.strip()
    assert fetched["tags"] == [text_value[:50].strip()]
    # Nothing the text said was run: the table holds exactly the one task, and its columns
    # hold exactly the text (compared in SQL, not through the API's own reading).
    stored = db.session.execute(text("SELECT title, description FROM tasks")).all()
    assert [tuple(row) for row in stored] == [(text_value, payload.strip())]


@pytest.mark.parametrize("payload", SQL_LIKE + UNICODE_EDGES)
def test_sql_like_and_unicode_text_is_only_a_value_in_every_filter(tasks, payload):
    tasks.create(title="bystander")
    for name in ("q", "tag"):
        response = tasks.request("GET", "?" + urllib.parse.urlencode({name: payload[:50]}))
        assert response.status_code in (200, 422)
        if response.status_code == 200:
            assert response.get_json()["meta"]["count"] == 0
    assert tasks.list()["meta"]["count"] == 1


@pytest.mark.parametrize("payload", SQL_LIKE)
def test_sql_like_credentials_are_just_wrong_credentials(client, payload):
    response = client.post("/api/auth/login", json={"email": payload, "password": payload})
    assert_problem(response, 401, "invalid_credentials")


@pytest.mark.parametrize(
    "field", ["title", "description", "tags", "priority", "due_at", "is_completed"]
)
def test_null_everywhere_is_a_named_422_or_a_clear(tasks, field):
    response = tasks.request("POST", json={"title": "t", field: None})
    if field in ("description", "due_at"):
        assert response.status_code == 201
    else:
        assert list(assert_problem(response, 422, "validation_error")["errors"]["json"]) == [field]


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ('{"title": 99999999999999999999999}', 422, "validation_error"),
        ('{"title": 1e999}', 400, "invalid_json"),
        ('{"title": ' + "[" * 100 + "]" * 100 + "}", 422, "validation_error"),
        ("[" * 100_000 + "]" * 100_000, 400, "invalid_json"),
        ('{"title": "\\ud800"}', 400, "invalid_json"),
        ('{"title": "a"', 400, "invalid_json"),
        ("\xff\xfe", 400, "invalid_json"),
        ("null", 422, "validation_error"),
        ('"a string"', 422, "validation_error"),
        ("[]", 422, "validation_error"),
    ],
)
def test_raw_bodies(tasks, raw, status, code):
    response = tasks.request(
        "POST", data=raw.encode("utf-8", "surrogatepass"), content_type="application/json"
    )
    assert_problem(response, status, code)


@pytest.mark.parametrize(
    "due_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z"]
)
def test_times_without_a_utc_value_are_named(tasks, due_at):
    response = tasks.request("POST", json={"title": "t", "due_at": due_at})
    assert list(assert_problem(response, 422, "validation_error")["errors"]["json"]) == ["due_at"]
    listing = tasks.request("GET", "?" + urllib.parse.urlencode({"due_before": due_at}))
    assert list(assert_problem(listing, 422, "validation_error")["errors"]["query"]) == [
        "due_before"
    ]


def test_a_body_of_exactly_one_mib_is_read_and_one_byte_more_is_413(tasks):
    filler = " " * (1024 * 1024 - len('{"title": "t"}'))
    exact = ('{"title": "t"}' + filler).encode()
    assert len(exact) == 1024 * 1024
    assert tasks.request("POST", data=exact, content_type="application/json").status_code == 201
    over = exact + b" "
    assert_problem(
        tasks.request("POST", data=over, content_type="application/json"), 413, "payload_too_large"
    )


def test_huge_strings_are_named_not_stored(tasks):
    response = tasks.request("POST", json={"title": "x" * 500_000})
    assert list(assert_problem(response, 422, "validation_error")["errors"]["json"]) == ["title"]


@pytest.mark.parametrize(
    "headers",
    [
        {"If-Match": "\x01\x02"},
        {"If-None-Match": "W/" * 1000},
        {"X-Request-ID": "ü" * 500},
        {"Content-Type": "application/json; charset=latin-1"},
        {"Accept": "text/html"},
    ],
)
def test_odd_headers_never_break_a_read(tasks, headers):
    task = tasks.create()
    response = tasks.request("GET", f"/{task['id']}", headers=headers)
    assert response.status_code in (200, 304)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_signed_with_another_algorithm_is_refused(client, app, user):
    claims = pyjwt.decode(user.access_token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])
    hs512 = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS512")
    response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {hs512}"})
    assert_problem(response, 401, "token_invalid")


@pytest.mark.parametrize(
    "path", ["/api/%00/tasks", "/api/{uid}/tasks/%00", "/api/{uid}/tasks/" + "9" * 4000]
)
def test_odd_paths_are_404(client, user, path):
    response = client.get(path.format(uid=user.id), headers=user.headers)
    assert_problem(response, 404, "not_found")


def test_json_of_the_problems_is_always_parseable(tasks):
    response = tasks.request("POST", json={"title": "t", "tags": [None, 5, "ok", ""]})
    body = json.loads(response.get_data(as_text=True))
    assert body["errors"]["json"]["tags"] == {
        "0": ["Field may not be null."],
        "1": ["Not a valid string."],
        "3": ["Length must be between 1 and 50."],
    }


def test_a_future_created_time_cannot_be_smuggled_in(tasks):
    response = tasks.request(
        "POST", json={"title": "t", "created_at": datetime.now(UTC).isoformat()}
    )
    assert list(assert_problem(response, 422, "validation_error")["errors"]["json"]) == [
        "created_at"
    ]
