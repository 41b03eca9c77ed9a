"""SequenceTracker: lost messages per publisher, counted from JSON sequence numbers.

A zmqlog publisher numbers its JSON messages 0, 1, 2, ... (see ``docs/wire-json.md``):
after ``seq = n``, a message with ``seq = n + k`` means ``k - 1`` messages were lost.
The numbers come from the network, so they may be forged, replayed or reset, and the
tracker must neither believe an absurd jump (one forged ``seq = 2**63 - 1`` would add
9.2e18 "lost" messages) nor let one hide the real publisher's later losses (after it,
every real number would look old). It counts only what could be a loss:

* A number at or below the last one seen cannot be a loss: a reset (a replayed or
  forged message, or a publisher that reuses its identity). Counting starts afresh
  from it, so the real publisher's next message resets again and its losses count.
* A jump forward of ``k - 1`` missing messages is a loss only if that many could have
  been published since the previous message arrived: at most :data:`MAX_RATE` per
  second, plus :data:`SLACK` for messages that were queued on the way (a
  subscriber working through a backlog sees a disconnection's losses long after they
  happened). A longer jump is a reset too.

Publishers are remembered by recent use: beyond *capacity* identities, the one heard
from least recently is forgotten (and its next message counts as its first). A peer
inventing identities must invent *capacity* of them between two messages of a
publisher to make it forget that one.
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

__all__ = ["MAX_RATE", "SLACK", "SequenceTracker"]

MAX_RATE: Final = 10_000_000
"""Messages per second no publisher exceeds (zmqlog's own sends about a million at most)."""

SLACK: Final = 1 << 20
"""Losses plausible on top of the rate: messages queued on the way when they happened."""

_Key = TypeVar("_Key")


class SequenceTracker(Generic[_Key]):
    """Counts ``gaps`` (messages lost) and ``resets`` from ``(publisher, seq)`` pairs."""

    __slots__ = ("_capacity", "_last", "_newest", "gaps", "resets")

    gaps: int
    """Messages lost, from jumps that messages could have been lost in."""
    resets: int
    """Numbers that went back, or forward further than messages could have been lost."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        # Per publisher, [the last number seen, when], in order of last use; updated in
        # place, so the publisher heard from last (_newest) costs one lookup per message.
        self._last: dict[_Key, list[float]] = {}
        self._newest: list[float] | None = None
        self.gaps = 0
        self.resets = 0

    def __len__(self) -> int:
        return len(self._last)

    def see(self, publisher: _Key, seq: int, now: float) -> None:
        """Account for message *seq* of *publisher*, arrived at *now* (monotonic seconds)."""
        last_seen = self._last
        state = last_seen.get(publisher)
        if state is None:
            # New, restarted (a new id) or forgotten: what it sent before is not ours
            # to count.
            if len(last_seen) >= self._capacity:
                del last_seen[next(iter(last_seen))]
            last_seen[publisher] = self._newest = [seq, now]
            return
        if state is not self._newest:
            # Heard from again: now the most recently used, the last to be forgotten.
            del last_seen[publisher]
            last_seen[publisher] = self._newest = state
        last = state[0]
        if seq != last + 1:
            self._jump(seq, int(last), state[1], now)
        state[0] = seq
        state[1] = now

    def _jump(self, seq: int, last: int, when: float, now: float) -> None:
        """Count what a number other than the next one (*last* + 1) means."""
        if seq <= last:
            self.resets += 1
        else:
            missing = seq - last - 1
            if missing <= SLACK + MAX_RATE * (now - when):
                self.gaps += missing
            else:
                self.resets += 1
