"""Frames: how a running sequence, parallel group or branch settles when a child finishes.

The loop starts a block by making its frame; each child reports with
`frame.child_done(run, slot, ok, value, descriptor)`, and the frame decides what comes next:
the following item of a sequence, a parallel group's judgement once all members are in, the arm
a branch head chose. Nothing here calls back recursively: what follows goes on the run's ready
queue, so a chain of any length runs without recursion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..graph import Parallel
from ..remote import fetched

if TYPE_CHECKING:
    from .run import Run


class Frame:
    """A running block. `parent.child_done(run, slot, ok, value, descriptor)` reports its end."""

    __slots__ = ("parent", "slot")

    def child_done(self, run: Run, slot: int, ok: bool, value: Any, descriptor: int) -> None:
        raise NotImplementedError


class SequenceFrame(Frame):
    __slots__ = ("block",)

    def child_done(self, run: Run, slot: int, ok: bool, value: Any, descriptor: int) -> None:
        block = self.block
        if slot == len(block.items) - 1:
            run._ready.append((self.parent.child_done, (run, self.slot, ok, value, descriptor)))
            return
        previous = None
        if block.links[slot] == "pipe":
            # A pipe hands on the source's value; a failed source has none (SPEC 2.3: failed
            # members of a group are left out, so a group pipes while one member succeeded).
            if not ok and not (value and type(block.items[slot]) is Parallel):
                run._skip(block.items[slot + 1])  # reported as skipped, never run with None
                run._ready.append((self.child_done, (run, slot + 1, False, None, 0)))
                return
            previous = value
        run._start(block.items[slot + 1], self, slot + 1, previous)


class ParallelFrame(Frame):
    __slots__ = ("block", "outcomes", "remaining")

    def child_done(self, run: Run, slot: int, ok: bool, value: Any, descriptor: int) -> None:
        self.outcomes[slot] = (ok, value)
        self.remaining -= 1
        if self.remaining:
            return
        block = self.block
        successes = [v for good, v in self.outcomes if good]
        judged = run.plan.group_states[block.group].judge(len(successes), len(self.outcomes))
        if judged and len(successes) < len(self.outcomes):
            run._handled(block)
        run._ready.append(
            (self.parent.child_done, (run, self.slot, judged, tuple(successes), 1 if judged else 0))
        )


class BranchFrame(Frame):
    __slots__ = ("arm", "block")

    def child_done(self, run: Run, slot: int, ok: bool, value: Any, descriptor: int) -> None:
        block = self.block
        if slot != -1:  # the chosen arm finished
            run._ready.append((self.parent.child_done, (run, self.slot, ok, value, descriptor)))
            return
        chosen = None
        for index, arm in enumerate(block.arms):
            if arm.descriptor == descriptor and chosen is None:
                chosen = index
            else:
                run._skip(arm.body)
        if chosen is None:
            run._ready.append((self.parent.child_done, (run, self.slot, ok, value, descriptor)))
            return
        if not ok:
            run._handled(block.head)  # a failure with an arm to go to is handled
        arm = block.arms[chosen]
        previous = value if arm.link == "pipe" else None
        run._start(arm.body, self, chosen, previous)


class RootFrame(Frame):
    """The whole flow: its value is the run's value."""

    __slots__ = ()

    def child_done(self, run: Run, slot: int, ok: bool, value: Any, descriptor: int) -> None:
        run.value = fetched(value)  # a value left on a cluster comes back for the run's end
