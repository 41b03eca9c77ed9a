"""RecordQueue on its own: the bounded hand-off, its overflow policies and its counters."""

from __future__ import annotations

import pytest

from zmqlog import HandlerStats, UsageError
from zmqlog._queue import RecordQueue


def filled(overflow: str, count: int, limit: int = 3) -> RecordQueue[int]:
    """A queue of *limit* items offered *count* items the way the caller's side does."""
    queue: RecordQueue[int] = RecordQueue(limit, overflow)  # type: ignore[arg-type]
    for item in range(count):
        if len(queue.items) >= queue.max_items and not queue.make_room():
            continue
        queue.items.append(item)
    return queue


def test_drop_newest_keeps_the_first_items_and_counts_the_rest() -> None:
    """A full drop_newest queue refuses the new item and counts it."""
    queue = filled("drop_newest", 5)
    assert list(queue.items) == [0, 1, 2]
    assert queue.stats() == HandlerStats(queued=3, sent=0, dropped=2, errors=0)


def test_drop_oldest_keeps_the_last_items_and_counts_the_rest() -> None:
    """A full drop_oldest queue makes room by dropping its oldest item."""
    queue = filled("drop_oldest", 5)
    assert list(queue.items) == [2, 3, 4]
    assert queue.stats() == HandlerStats(queued=3, sent=0, dropped=2, errors=0)


def test_making_room_in_a_queue_the_drain_just_emptied_drops_nothing() -> None:
    """drop_oldest on a queue found empty (the drain took everything) loses no record."""
    queue: RecordQueue[int] = RecordQueue(1, "drop_oldest")
    assert queue.make_room()
    assert queue.dropped == 0


def test_drops_wait_to_be_reported() -> None:
    """Every drop is owed to the subscribers until the drain says it reported it."""
    queue = filled("drop_newest", 7)
    assert queue.unreported == 4
    queue.reported(3)
    assert (queue.dropped, queue.unreported) == (4, 1)


def test_abandoning_counts_what_was_queued() -> None:
    """What is left at close is counted as dropped, and the queue is empty after."""
    queue = filled("drop_newest", 2)
    assert queue.abandon() == 2
    assert queue.stats() == HandlerStats(queued=0, sent=0, dropped=2, errors=0)
    assert queue.abandon() == 0


def test_records_out_of_the_queue_but_not_sent_count_as_queued() -> None:
    """A message the socket has not taken yet is still queued, not lost."""
    queue = filled("drop_newest", 2)
    queue.items.popleft()
    assert queue.stats(in_flight=1).queued == 2


def test_failures_are_counted_apart_from_drops() -> None:
    """A record that cannot be formatted is an error, not a drop, and is never reported."""
    queue: RecordQueue[int] = RecordQueue(10)
    queue.fail()
    queue.fail(2)
    assert queue.stats() == HandlerStats(queued=0, sent=0, dropped=0, errors=3)
    assert queue.unreported == 0


def test_after_fork_the_child_forgets_the_parents_records() -> None:
    """A forked child's copy of the queue is empty and takes nothing more."""
    queue = filled("drop_newest", 2)
    queue.after_fork()
    assert (len(queue.items), queue.closed) == (0, True)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", None, True])
def test_max_queue_must_be_a_positive_integer(bad: object) -> None:
    """A size that is not a positive int is refused, naming the option."""
    with pytest.raises(UsageError, match="max_queue must be a positive number of records"):
        RecordQueue(bad)  # type: ignore[arg-type]


def test_an_unknown_overflow_policy_lists_the_known_ones() -> None:
    """The error names every policy there is."""
    with pytest.raises(UsageError, match="'drop_newest', 'drop_oldest'"):
        RecordQueue(10, "block")  # type: ignore[arg-type]


def sized(overflow: str, sizes: list[int], limit: int) -> RecordQueue[int]:
    """A queue bounded at *limit* bytes offered items that are their own size."""
    queue: RecordQueue[int] = RecordQueue(
        100,
        overflow,  # type: ignore[arg-type]
        max_bytes=limit,
        charge=lambda item: item,
    )
    for size in sizes:
        if queue.over(size) and not queue.make_room(size):
            continue
        queue.nbytes += size
        queue.items.append(size)
    return queue


def test_drop_newest_refuses_what_does_not_fit_in_bytes() -> None:
    """A record that would pass the byte bound is dropped; smaller ones still fit."""
    queue = sized("drop_newest", [40, 40, 30, 10], limit=100)
    assert (list(queue.items), queue.nbytes, queue.dropped) == ([40, 40, 10], 90, 1)


def test_drop_oldest_drops_as_many_as_a_big_record_needs() -> None:
    """Room for one large record is made by dropping several small old ones."""
    queue = sized("drop_oldest", [10, 10, 10, 10, 80], limit=100)
    assert (list(queue.items), queue.nbytes, queue.dropped) == ([10, 10, 80], 100, 2)


def test_a_record_larger_than_the_byte_bound_goes_into_an_empty_queue() -> None:
    """It exists already; holding it until it is sent costs nothing more."""
    queue = sized("drop_oldest", [10, 500], limit=100)
    assert (list(queue.items), queue.dropped) == ([500], 1)


def test_abandoning_empties_the_byte_count() -> None:
    """What is abandoned no longer counts."""
    queue = sized("drop_newest", [10, 20], limit=100)
    queue.abandon()
    assert queue.nbytes == 0


def test_max_queue_bytes_must_be_a_positive_integer() -> None:
    """A byte bound that is not a positive int is refused, naming the option."""
    with pytest.raises(UsageError, match="max_queue_bytes must be a positive number of bytes"):
        RecordQueue(10, max_bytes=0)


def test_each_record_counts_its_own_cost_beside_its_charge() -> None:
    """per_item bytes count for every record, charged or not."""
    queue: RecordQueue[int] = RecordQueue(100, max_bytes=1000, per_item=300)
    assert not queue.over(0)
    for item in range(3):
        queue.items.append(item)
    assert queue.over(0)  # a fourth would make 1,200
