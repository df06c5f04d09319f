"""One contract suite for the read-model stores: in memory and DynamoDB (moto)."""

from __future__ import annotations

import pytest
from acme_eventsourcing.runtime.projections import Check, Checkpoint, CheckpointMove, ConflictError, TooManyActionsError, Write


def put(pk: str, sk: str, doc: dict, expected_rev: int | None = None) -> Write:
    return Write(pk=pk, sk=sk, doc=doc, expected_rev=expected_rev)


def test_get_returns_none_for_an_absent_row(store):
    assert store.get("a", "b") is None


def test_commit_writes_rows_and_counts_revisions(store):
    store.commit([put("a", "1", {"n": 1, "nested": {"x": [1, 2]}})], [], None)
    store.commit([put("a", "1", {"n": 2}, expected_rev=1)], [], None)
    row = store.get("a", "1")
    assert (row.doc, row.rev) == ({"n": 2}, 2)


def test_commit_conflicts_when_a_row_expected_absent_exists_and_applies_nothing(store):
    store.commit([put("a", "1", {"n": 1})], [], None)
    with pytest.raises(ConflictError):
        store.commit([put("a", "2", {"n": 2}), put("a", "1", {"n": 3}, expected_rev=0)], [], None)
    assert store.get("a", "2") is None
    assert store.get("a", "1").doc == {"n": 1}


def test_commit_conflicts_when_a_checked_row_changed(store):
    store.commit([put("a", "1", {"n": 1})], [], None)
    store.commit([put("a", "1", {"n": 2}, expected_rev=1)], [], None)
    with pytest.raises(ConflictError):
        store.commit([put("b", "1", {"n": 1})], [Check(pk="a", sk="1", expected_rev=1)], None)
    assert store.get("b", "1") is None


def test_check_of_an_absent_row_fails_once_it_exists(store):
    store.commit([], [Check(pk="a", sk="1", expected_rev=0)], None)
    store.commit([put("a", "1", {"n": 1})], [], None)
    with pytest.raises(ConflictError):
        store.commit([], [Check(pk="a", sk="1", expected_rev=0)], None)


def test_checkpoint_moves_only_from_the_version_it_is_at(store):
    assert store.checkpoint("employee#john") == 0
    store.commit([put("a", "1", {"v": 1})], [], CheckpointMove(stream_id="employee#john", from_version=0, to_version=1))
    assert store.checkpoint("employee#john") == 1
    with pytest.raises(ConflictError):
        store.commit([put("a", "1", {"v": 9})], [], CheckpointMove(stream_id="employee#john", from_version=0, to_version=1))
    store.commit([], [], CheckpointMove(stream_id="employee#john", from_version=1, to_version=2))
    assert store.checkpoint("employee#john") == 2
    assert store.get("a", "1").doc == {"v": 1}


def test_checkpoint_notes_refresh_work_until_a_commit_says_it_is_done(store):
    assert store.checkpoint_state("location#hq") == Checkpoint(version=0, refresh_pending=False)
    marker = put("refresh#location#hq", "refresh", {"targets": ["x"]})
    store.commit([marker], [], CheckpointMove(stream_id="location#hq", from_version=0, to_version=1, refresh_pending=True))
    assert store.checkpoint_state("location#hq") == Checkpoint(version=1, refresh_pending=True)
    store.commit([], [], CheckpointMove(stream_id="location#hq", from_version=1, to_version=2))
    assert store.checkpoint_state("location#hq") == Checkpoint(version=2, refresh_pending=True)  # kept by a plain move
    done = Write(pk="refresh#location#hq", sk="refresh", doc=None, expected_rev=1)
    store.commit([done], [], None, refresh_done="location#hq")
    assert store.checkpoint_state("location#hq") == Checkpoint(version=2, refresh_pending=False)
    assert store.checkpoint("location#hq") == 2
    assert store.get("refresh#location#hq", "refresh") is None


def test_a_refresh_done_commit_that_conflicts_keeps_the_note(store):
    marker = put("refresh#location#hq", "refresh", {"targets": ["x"]})
    store.commit([marker], [], CheckpointMove(stream_id="location#hq", from_version=0, to_version=1, refresh_pending=True))
    stale = Write(pk="refresh#location#hq", sk="refresh", doc=None, expected_rev=7)
    with pytest.raises(ConflictError):
        store.commit([stale], [], None, refresh_done="location#hq")
    assert store.checkpoint_state("location#hq").refresh_pending is True


def test_delete_removes_a_row_conditionally(store):
    store.commit([put("a", "1", {"n": 1})], [], None)
    with pytest.raises(ConflictError):
        store.commit([Write(pk="a", sk="1", doc=None, expected_rev=5)], [], None)
    store.commit([Write(pk="a", sk="1", doc=None, expected_rev=1)], [], None)
    assert store.get("a", "1") is None


def test_query_returns_one_partition_by_sort_key_and_prefix(store):
    store.commit([put("p", k, {"k": k}) for k in ("b#2", "a#1", "b#1")] + [put("q", "b#0", {})], [], None)
    assert [r.sk for r in store.query("p")] == ["a#1", "b#1", "b#2"]
    assert [r.doc["k"] for r in store.query("p", "b#")] == ["b#1", "b#2"]
    assert store.query("none") == []


def test_query_follows_pages_past_one_megabyte(store):
    big = "x" * 300_000
    for i in range(5):
        store.commit([put("p", f"{i:02d}", {"big": big})], [], None)
    assert [r.sk for r in store.query("p")] == ["00", "01", "02", "03", "04"]


def test_rows_exclude_checkpoints_which_are_listed_apart(store):
    store.commit([put("a", "1", {"n": 1})], [], CheckpointMove(stream_id="s#1", from_version=0, to_version=3))
    assert [(r.pk, r.sk) for r in store.rows()] == [("a", "1")]
    assert store.checkpoints() == {"s#1": 3}


def test_commit_refuses_more_actions_than_a_transaction_holds(store):
    with pytest.raises(TooManyActionsError):
        store.commit([put("a", str(i), {}) for i in range(101)], [], None)
    assert store.get("a", "0") is None


def test_a_stuck_stream_is_noted_listed_outside_the_rows_and_cleared(store):
    store.mark_stuck("s#2", {"stream_id": "s#2", "stuck_at_version": 1, "reason": "ValueError: x"})  # before its first event
    store.commit([], [], CheckpointMove(stream_id="s#1", from_version=0, to_version=3))
    store.mark_stuck("s#1", {"stream_id": "s#1", "stuck_at_version": 4, "reason": "ValueError: y"})
    assert [(r.sk, r.doc["stuck_at_version"]) for r in store.stuck()] == [("s#1", 4), ("s#2", 1)]
    assert store.checkpoint_state("s#1") == Checkpoint(version=3, stuck=True)
    assert store.checkpoint_state("s#2") == Checkpoint(version=0, stuck=True)
    assert list(store.rows()) == [] and store.checkpoints() == {"s#1": 3}
    store.commit([], [], CheckpointMove(stream_id="s#2", from_version=0, to_version=1))  # the first move still works
    store.clear_stuck("s#1")
    assert [r.sk for r in store.stuck()] == ["s#2"]
    assert store.checkpoint_state("s#1") == Checkpoint(version=3)
