"""Manual order: server-made fractional keys that sort siblings as plain byte strings.

Pure: keys in, keys out. The keys come from ``fractional-indexing`` (David Greenspan's scheme,
as in Figma: a variable-length "integer" head, so appending and prepending keep keys short,
then a base-62 fraction for the places in between). Every character is ASCII ``0-9A-Za-z``,
so Python's ``<``, a client's plain string comparison and PostgreSQL's ``COLLATE "C"`` order
them alike (tests/test_positions.py checks the last against the real database).

- ``key_between(lower, upper)``: a key strictly between two neighbours; ``None`` is an open end.
  Last among siblings: ``key_between(last, None)``; first: ``key_between(None, first)``;
  after X: ``key_between(X, key after X)``; before Y: ``key_between(key before Y, Y)``.
- ``spread_keys(n, lower=None, upper=None)``: n short keys in order, strictly between the two
  (the migration's keys for existing tasks in ``created_at`` order, and a renumbering).
- ``needs_renumbering(key)``: whether a new key is longer than ``MAX_KEY_LENGTH``.

Renumbering. A key grows by about one character per six inserts at one and the same spot (the
adversarial case: 1,000 inserts always right after one task give a key of 169 characters).
Before a key longer than ``MAX_KEY_LENGTH`` is written, the service should give the siblings,
in their new order, ``spread_keys(len(siblings))`` (at most four characters for 100,000 of them)
instead. That is the one case where a move changes other tasks' positions: it keeps index
entries small and every key far below PostgreSQL's B-tree limit (about 2,700 bytes) and the
library's recursion (one level per character). Normal use never reaches it: 1,000 moves to the
front of a list use keys of at most three characters.
"""

from __future__ import annotations

import re

from fractional_indexing import FIError, generate_key_between, generate_n_keys_between

MAX_KEY_LENGTH = 64
# Keys longer than this were not made here (renumbering keeps them at MAX_KEY_LENGTH or less).
_LONGEST_ACCEPTED = 255
_KEY = re.compile(r"[0-9A-Za-z]+", re.ASCII)


class PositionError(ValueError):
    """A key this module did not make, or neighbours in the wrong order."""


def key_between(lower: str | None, upper: str | None) -> str:
    """Return a key that sorts strictly after ``lower`` and before ``upper`` (None: no bound)."""
    _check(lower)
    _check(upper)
    try:
        return generate_key_between(lower, upper)
    except FIError as error:
        raise PositionError(str(error)) from error


def spread_keys(count: int, lower: str | None = None, upper: str | None = None) -> list[str]:
    """Return ``count`` keys in ascending order, strictly between the bounds, each short."""
    if count < 0:
        raise PositionError("count must not be negative")
    _check(lower)
    _check(upper)
    try:
        return generate_n_keys_between(lower, upper, count)
    except FIError as error:
        raise PositionError(str(error)) from error


def needs_renumbering(key: str) -> bool:
    """Whether ``key`` is too long to store: renumber the siblings instead (module docstring)."""
    return len(key) > MAX_KEY_LENGTH


def _check(key: str | None) -> None:
    # The library reads characters outside its digits as a failed lookup (ValueError, not its
    # own error) and recurses once per character: refuse both before it sees them.
    if key is not None and (len(key) > _LONGEST_ACCEPTED or _KEY.fullmatch(key) is None):
        raise PositionError(f"not a position key: {key[:20]!r}")
