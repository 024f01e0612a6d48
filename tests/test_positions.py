"""app.tasks.positions: fractional keys keep a hand-made order with short, byte-ordered keys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.extensions import db
from app.tasks.positions import (
    MAX_KEY_LENGTH,
    PositionError,
    key_between,
    needs_renumbering,
    spread_keys,
)

BASE_62 = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def assert_ordered(keys: list[str]) -> None:
    """The keys are distinct and in ascending order."""
    assert all(lower < upper for lower, upper in zip(keys, keys[1:], strict=False))


@pytest.mark.parametrize(
    ("lower", "upper", "key"),
    [
        (None, None, "a0"),
        ("a0", None, "a1"),
        (None, "a0", "Zz"),
        ("a0", "a1", "a0V"),
        ("az", None, "b00"),
        (None, "Z0", "Yzz"),
    ],
)
def test_key_between_makes_the_librarys_keys(
    lower: str | None, upper: str | None, key: str
) -> None:
    assert key_between(lower, upper) == key


def test_1000_moves_to_the_front_keep_the_order_asked_with_keys_of_at_most_3_characters() -> None:
    order = [f"task {n}" for n in range(10)]
    position = dict(zip(order, spread_keys(10), strict=True))
    for _ in range(1000):
        task = order.pop()  # the last task goes first, over and over
        position[task] = key_between(None, position[order[0]])
        order.insert(0, task)
    assert sorted(order, key=position.__getitem__) == order
    assert max(len(key) for key in position.values()) == 3


def test_1000_inserts_after_the_same_task_keep_the_order_but_grow_to_169_characters() -> None:
    # The adversarial case: each new task goes right after A, between A and the last one.
    lower, upper = "a0", "a1"
    keys = [lower, upper]
    for _ in range(1000):
        upper = key_between(lower, upper)
        keys.insert(1, upper)
    assert_ordered(keys)
    assert max(map(len, keys)) == 169


def test_1000_inserts_before_the_same_task_grow_to_202_characters() -> None:
    lower, upper = "a0", "a1"
    lengths = []
    for _ in range(1000):
        lower = key_between(lower, upper)
        lengths.append(len(lower))
    assert max(lengths) == 202


def test_adversarial_inserts_call_for_renumbering_after_311_of_them() -> None:
    lower, upper = "a0", "a1"
    inserts = 0
    while not needs_renumbering(lower):
        lower = key_between(lower, upper)
        inserts += 1
    assert (inserts, len(lower)) == (311, MAX_KEY_LENGTH + 1)


def test_renumbering_gives_short_keys_in_order() -> None:
    keys = spread_keys(100_000)
    assert_ordered(keys)
    assert (keys[0], keys[61], keys[62], max(map(len, keys))) == ("a0", "az", "b00", 4)


def test_spread_keys_between_neighbours_stay_between_them() -> None:
    keys = spread_keys(1000, "a0", "a1")
    assert_ordered(["a0", *keys, "a1"])
    assert max(map(len, keys)) == 4


def test_no_keys_for_no_rows() -> None:
    assert spread_keys(0) == []


def test_keys_are_ascii_base_62_so_byte_order_is_string_order() -> None:
    keys = spread_keys(5000) + [key_between(None, "a0"), key_between("a0", "a1")]
    assert set("".join(keys)) <= BASE_62
    assert sorted(keys) == sorted(keys, key=lambda key: key.encode())


def test_postgresql_collate_c_orders_keys_as_python_does() -> None:
    keys = spread_keys(300) + spread_keys(50, "a0", "a1") + [key_between(None, "a0")]
    rows = db.session.execute(
        text('SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k COLLATE "C"'),
        {"keys": keys},
    )
    assert [row.k for row in rows] == sorted(keys)


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("a1", "a0"),  # the wrong way round
        ("a0", "a0"),
        ("a00", None),  # a trailing zero: not a key this module made
        ("0", None),
        ("a", None),
        ("b0", None),
        ("A00000000000000000000000000", None),
        ("", None),
        ("a0 ", None),
        ("ä0", None),
        ("a" + "1" * 300, None),
    ],
)
def test_what_is_not_a_pair_of_keys_is_a_position_error(
    lower: str | None, upper: str | None
) -> None:
    with pytest.raises(PositionError):
        key_between(lower, upper)


def test_a_negative_count_is_a_position_error() -> None:
    with pytest.raises(PositionError):
        spread_keys(-1)


@settings(max_examples=100, deadline=None)
@given(
    moves=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6)
        ),
        max_size=200,
    )
)
def test_any_sequence_of_moves_keeps_the_order_asked(moves: list[tuple[int, int]]) -> None:
    order = list(range(20))
    position = dict(zip(order, spread_keys(20), strict=True))
    for source, destination in moves:
        task = order.pop(source % len(order))
        index = destination % (len(order) + 1)
        lower = position[order[index - 1]] if index > 0 else None
        upper = position[order[index]] if index < len(order) else None
        key = key_between(lower, upper)
        order.insert(index, task)
        if needs_renumbering(key):
            position = dict(zip(order, spread_keys(len(order)), strict=True))
        else:
            position[task] = key
    assert sorted(order, key=position.__getitem__) == order
    assert max(map(len, position.values())) <= MAX_KEY_LENGTH
