"""A user's change feed, /api/{user_id}/changes: a full snapshot, then every change after it.

Why a client that always continues from `next_since` misses nothing:

1. Every write of a user's lists, tags and tasks takes numbers from the user's change sequence,
   `change_seq_of(user)` (migration 5b8e1f3a7c20): app/common/locks.lock_user takes one first,
   and the triggers that record each statement's changed objects in `changes` take one per
   statement. Taking a number updates the user's counters row, which locks that row until the
   transaction ends; so while one transaction of a user holds numbers, no other can take one.
   The user's transactions hold disjoint runs of numbers, in the order they commit: the next
   one waits for the commit (or rollback) of the last, then numbers above all of its numbers.
2. PostgreSQL makes a committed transaction visible before it releases its locks. So at any
   snapshot, the user's visible numbers are those of a prefix of the user's commits, and every
   number that becomes visible later is larger than all of them: the transactions that own
   them still held, or had not yet taken, the lock.
3. The feed answers the changes after a position (seq, kind, object_id), in that order, and
   the next position is the last one answered. Whatever commits later is numbered above it:
   a reader can never pass a change that commits later with a smaller number.
4. `changes` keeps each object's latest change (an upsert per object): a changed object moves
   forward in the order, never back. A deletion is a tombstone (`deleted`), kept for
   SYNC_RETENTION_DAYS, after which a token is 410 sync_expired (app/changes/tokens.py).

A plain global sequence, or `updated_at > since`, loses changes: transaction A takes number 10
(or the time 12:00:00.100), B takes 11 and commits first; a reader reads 11 and goes on from
there; A then commits 10, below the reader's position, and is never read. Timestamps add ties
and clock skew. Here the number is taken under the user's lock, so taking numbers and committing
happen in the same order for a user, and a user's feed only orders that user's changes.
"""
