"""Gap accounting from JSON sequence numbers: real losses counted, forged numbers contained."""

from __future__ import annotations

import pytest

from zmqlog._sequences import MAX_RATE, SLACK, SequenceTracker

T0 = 1000.0  # a monotonic time; the tracker only looks at differences


def tracked(*seen: tuple[str, int, float]) -> SequenceTracker[str]:
    tracker: SequenceTracker[str] = SequenceTracker()
    for publisher, seq, when in seen:
        tracker.see(publisher, seq, when)
    return tracker


def test_consecutive_numbers_are_no_gap() -> None:
    """0, 1, 2, ... from one publisher: nothing lost, nothing reset."""
    tracker = tracked(*(("a", n, T0 + n) for n in range(100)))
    assert (tracker.gaps, tracker.resets) == (0, 0)


def test_a_jump_counts_the_missing_messages() -> None:
    """After 5, a 15 means 6-14 were lost: nine gaps."""
    tracker = tracked(("a", 5, T0), ("a", 15, T0 + 0.001))
    assert (tracker.gaps, tracker.resets) == (9, 0)


def test_the_first_number_of_a_publisher_is_no_gap() -> None:
    """A subscriber that joins late has not lost what came before it."""
    tracker = tracked(("a", 1_000_000, T0))
    assert (tracker.gaps, tracker.resets) == (0, 0)


def test_a_forged_huge_number_is_a_reset_and_hides_no_later_loss() -> None:
    """seq 2**63-1 after 5 adds no 9.2e18 gaps; the real publisher's next losses still count."""
    tracker = tracked(
        ("a", 5, T0),
        ("a", 2**63 - 1, T0 + 0.001),  # forged
        ("a", 6, T0 + 0.002),  # the real publisher goes on: back, so a reset
        ("a", 7, T0 + 0.003),
        ("a", 17, T0 + 0.004),  # then loses 9
    )
    assert (tracker.gaps, tracker.resets) == (9, 2)


@pytest.mark.parametrize("seq", [5, 4, 0])
def test_a_number_at_or_below_the_last_is_a_reset(seq: int) -> None:
    """A repeat or a step back cannot be a loss: counted as a reset, counting restarts."""
    tracker = tracked(("a", 5, T0), ("a", seq, T0 + 1), ("a", seq + 4, T0 + 2))
    assert (tracker.gaps, tracker.resets) == (3, 1)


@pytest.mark.parametrize(
    ("elapsed", "missing", "is_loss"),
    [
        (0.0, SLACK, True),  # a backlog's worth, at once: plausible
        (0.0, SLACK + 1, False),
        (1.0, SLACK + MAX_RATE, True),  # a second at the highest rate, and a backlog
        (1.0, SLACK + MAX_RATE + 1, False),
        (3600.0, 3600 * MAX_RATE, True),  # an hour's disconnection
    ],
)
def test_a_jump_is_a_loss_only_if_that_many_could_have_been_sent(
    elapsed: float, missing: int, is_loss: bool
) -> None:
    """The bound: SLACK, plus MAX_RATE per second since the previous message arrived."""
    tracker = tracked(("a", 10, T0), ("a", 10 + missing + 1, T0 + elapsed))
    assert (tracker.gaps, tracker.resets) == ((missing, 0) if is_loss else (0, 1))


def test_publishers_are_counted_apart() -> None:
    """Interleaved publishers' numbers do not mix."""
    tracker = tracked(("a", 0, T0), ("b", 100, T0), ("a", 2, T0), ("b", 101, T0), ("b", 105, T0))
    assert (tracker.gaps, tracker.resets) == (1 + 3, 0)


def test_the_least_recently_heard_publisher_is_forgotten_first() -> None:
    """A publisher that keeps talking is kept while thousands of others come and go."""
    tracker: SequenceTracker[str] = SequenceTracker(capacity=100)
    tracker.see("steady", 0, T0)
    for n in range(1, 1001):
        tracker.see(f"passing-{n}", 0, T0)
        if n % 10 == 0:
            tracker.see("steady", n // 10, T0)
    tracker.see("steady", 100 + 10, T0)  # 101-109 lost
    assert (tracker.gaps, tracker.resets, len(tracker)) == (9, 0, 100)


def test_see_returns_the_entry_that_the_next_number_may_update_in_place() -> None:
    """``entry[0] = seq; entry[1] = now`` for the newest publisher's next number counts as
    see() would: the subscriber's inline case relies on it."""
    inline: SequenceTracker[str] = SequenceTracker(capacity=2)
    called: SequenceTracker[str] = SequenceTracker(capacity=2)
    entry = inline.see("a", 5, T0)
    called.see("a", 5, T0)
    assert entry == [5, T0]
    for seq in range(6, 10):
        entry[0], entry[1] = seq, T0 + seq
        called.see("a", seq, T0 + seq)
    for tracker in (inline, called):
        tracker.see("b", 0, T0 + 10)
        tracker.see("a", 12, T0 + 11)  # 10 and 11 lost
    assert (inline.gaps, inline.resets) == (called.gaps, called.resets) == (2, 0)
    assert list(inline._last.items()) == list(called._last.items())


def test_see_returns_a_new_publishers_entry_too() -> None:
    """A publisher's first number: its entry is returned as well, already holding it."""
    tracker: SequenceTracker[str] = SequenceTracker(capacity=1)
    tracker.see("a", 3, T0)
    entry = tracker.see("b", 7, T0 + 1)  # a forgotten
    assert entry == [7, T0 + 1]
    assert tracker._last == {"b": entry}
    assert tracker._last["b"] is entry
