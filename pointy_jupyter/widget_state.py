"""What the run widget shows, read from a run without listening to it. Pure Python: no Jupyter.

The widget *follows* a run (see `widget.py`): a few times a second it asks a `RunReader` which
nodes changed since its last look (the records appended to the run's stream since then name
them) and reads those nodes' results into a `NodeTable`. Nothing runs per record in the engine's
loop thread, and the work per look is one pass over the new records plus one per changed node.

`Throttle` is the push-side helper for streamed text (`output.OutputSink`).
"""

from __future__ import annotations

import heapq
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import attrgetter
from typing import Any, Protocol

NODE_STATES = ("pending", "running", "retrying", "succeeded", "failed", "skipped", "cancelled")
NODE_STATES += ("cached",)  # a success taken from the run's cache (the event did not run)
RUN_STATES = ("pending", "running", "succeeded", "failed", "cancelled")
RUN_END_STATES = frozenset({"succeeded", "failed", "cancelled"})
NODE_END_STATES = frozenset({"succeeded", "failed", "skipped", "cancelled", "cached"})

NodeView = dict[str, Any]  # {"state", "attempts", "duration" (seconds), "descriptor"}
# Columns of node views, one entry per id: {"ids", "state", "attempts", "duration_us",
# "descriptor", "started"} (`started`: for a running node, epoch seconds when its current attempt
# started on the engine's clock, so the front end counts its elapsed time from the kernel's time).
# Columns of plain lists serialise several times faster than a dict per node, and durations in
# whole microseconds faster than floats.
NodeTable = dict[str, list[Any]]


class ErrorLike(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def traceback(self) -> str: ...


def error_text(error: ErrorLike | None) -> str:
    """`Type: message` for an error record, "" for none."""
    if error is None:
        return ""
    kind, message = getattr(error, "type", ""), getattr(error, "message", "")
    return f"{kind}: {message}" if message else str(kind)


def arm_words(descriptor: int) -> str:
    """What an arm's descriptor means (SPEC 2.4): `1` success, `0` failure, others the event's."""
    return {0: "failure", 1: "success"}.get(descriptor, "chosen by the event")


def attempts_text(attempts: int, max_attempts: int | None = None) -> str:
    """The one notation for attempts (widget, snapshot, text progress): `↻2/3` is the second
    of at most three attempts, `↻2` when the most is not known from the flow."""
    return f"↻{attempts}/{max_attempts}" if max_attempts else f"↻{attempts}"


def summary_text(status: str, counts: Mapping[str, int]) -> str:
    """`failed: 4 succeeded, 1 failed, 1 skipped` (states with no node are left out)."""
    parts = [f"{count} {state}" for state, count in counts.items() if count]
    return f"{status}: {', '.join(parts)}" if parts else status


def cache_words(result: Any) -> dict[str, str]:
    """What the details pane says about the cache for one node result ({} when nothing):
    `where` for a value taken from the cache, with when it was computed (the duration shown
    beside it is what the event took then); `cache` when the cache could not be used, and why."""
    words: dict[str, str] = {}
    if getattr(result, "state", None) == "cached":
        computed = getattr(result, "cached_at", None)
        words["where"] = "from the cache: the event did not run" + (
            time.strftime("; computed %Y-%m-%d %H:%M:%S", time.localtime(computed))
            if computed
            else ""
        )
    note = getattr(result, "cache_note", "")
    if note:
        words["cache"] = str(note)
    return words


def pending_view() -> NodeView:
    return {"state": "pending", "attempts": 0, "duration": None, "descriptor": None}


# --- node tables ---------------------------------------------------------------------------------

_NODE = attrgetter("node")
_STATE = attrgetter("state")
_ATTEMPTS = attrgetter("attempts")
_DURATION = attrgetter("duration")
_DESCRIPTOR = attrgetter("descriptor")
_STARTED = attrgetter("started")


def node_table(ids: list[str], results: Mapping[str, Any]) -> NodeTable:
    """The views of `ids`, read from the run's node results (`NodeResult`: state, attempts,
    duration in seconds, descriptor). Reads race the engine's loop; a torn read is corrected by
    the next look, since every change of a node also appends a record naming it."""
    return result_table(ids, list(map(results.__getitem__, ids)))


def result_table(ids: list[str], nodes: list[Any]) -> NodeTable:
    """`node_table` from the result objects of `ids`, in the same order."""
    states = list(map(_STATE, nodes))
    return {
        "ids": ids,
        "state": states,
        "attempts": list(map(_ATTEMPTS, nodes)),
        "duration_us": _micros(list(map(_DURATION, nodes))),
        "descriptor": list(map(_DESCRIPTOR, nodes)),
        "started": _running_since(states, nodes),
        "error": _first_error_lines(states, nodes),
    }


def _running_since(states: list[str], nodes: list[Any]) -> list[float | None]:
    """Start times of the running nodes only (the front end counts their elapsed time); None
    for the others keeps a final table of 10,000 nodes free of 10,000 floats to serialise."""
    if "running" not in states:  # every final table, scanned in C
        return [None] * len(states)
    return [
        node.started if state == "running" else None
        for state, node in zip(states, nodes, strict=True)
    ]


ERROR_LINE_LIMIT = 200
"""Characters of an error's first line that a node's hover tooltip shows."""


def _first_error_lines(states: list[str], nodes: list[Any]) -> list[str | None]:
    """The first line of each failed or retrying node's error (its hover tooltip shows it);
    None for the others, as for `started`."""
    if "failed" not in states and "retrying" not in states:  # scanned in C
        return [None] * len(states)
    lines: list[str | None] = []
    for state, node in zip(states, nodes, strict=True):
        text = error_text(getattr(node, "error", None)) if state in ("failed", "retrying") else ""
        line = text.split("\n", 1)[0]
        if len(line) > ERROR_LINE_LIMIT:
            line = line[: ERROR_LINE_LIMIT - 1] + "…"
        lines.append(line or None)
    return lines


def _micros(seconds: list[float | None]) -> list[int | None]:
    if None in seconds:
        return [None if value is None else round(value * 1e6) for value in seconds]
    return list(map(round, map((1e6).__mul__, seconds)))  # the same, in C: most of a final table


def pending_table(ids: list[str]) -> NodeTable:
    """Every node of `ids` pending: a plan with no run behind it."""
    size = len(ids)
    return {
        "ids": ids,
        "state": ["pending"] * size,
        "attempts": [0] * size,
        "duration_us": [None] * size,
        "descriptor": [None] * size,
        "started": [None] * size,
        "error": [None] * size,
    }


class TableViews(Mapping[str, NodeView]):
    """A node table seen as `{id: view}`; a view is built only when asked for (the snapshot of a
    10,000-node run draws a few hundred boxes at most)."""

    def __init__(self, table: NodeTable) -> None:
        self._table = table
        self._index = {node_id: index for index, node_id in enumerate(table["ids"])}

    def __getitem__(self, node_id: str) -> NodeView:
        index, table = self._index[node_id], self._table
        micros = table["duration_us"][index]
        return {
            "state": table["state"][index],
            "attempts": table["attempts"][index],
            "duration": None if micros is None else micros / 1e6,
            "descriptor": table["descriptor"][index],
        }

    def __iter__(self) -> Iterator[str]:
        return iter(self._table["ids"])

    def __len__(self) -> int:
        return len(self._table["ids"])


def state_counts(states: Iterable[str]) -> dict[str, int]:
    """Nodes per state, every state present, in `NODE_STATES` order."""
    counts = dict.fromkeys(NODE_STATES, 0)
    counts.update(Counter(states))
    return counts


# --- messages ------------------------------------------------------------------------------------


def failure_message(ids: Sequence[str], states: Sequence[str], results: Mapping[str, Any]) -> str:
    """`Score failed: ValueError: score < 0` for the failed node among `ids` that finished last
    (the last one in `ids` on a tie), or "" when none of them failed."""
    if "failed" not in states:  # the usual case, scanned in C
        return ""
    failed = [node_id for node_id, state in zip(ids, states, strict=True) if state == "failed"]
    node_id = max(reversed(failed), key=lambda key: _finished(results[key]))
    detail = error_text(getattr(results[node_id], "error", None))
    return f"{node_id} failed: {detail}" if detail else f"{node_id} failed"


def _finished(result: Any) -> float:
    finished = getattr(result, "finished", None)
    return -math.inf if finished is None else finished


def end_message(status: str, crash: ErrorLike | None, node_message: str) -> str:
    """What the widget says when a run has ended."""
    if status == "cancelled":
        return "cancelled"
    if status == "failed" and crash is not None:
        return f"run failed: {error_text(crash)}"
    if status == "failed" and not node_message:
        return "run failed"
    return node_message


def controls_for(
    status: str, counts: Mapping[str, int], selected: str | None, can_command: bool
) -> dict[str, bool]:
    """Which buttons the front end enables."""
    finished = can_command and status in RUN_END_STATES
    # Disabled when nothing failed: a cancelled run with no failure has nothing to re-run "failed".
    has_failures = counts.get("failed", 0) > 0
    return {
        "rerun_all": finished,
        "rerun_failed": finished and has_failures,
        "rerun_from": finished and selected is not None,
        "cancel": can_command and status in ("pending", "running"),
    }


# --- following a run -----------------------------------------------------------------------------


class RunReader:
    """Looks at one run now and then: which nodes changed since the last look, and their results.

    The engine's `RecordStream` keeps its records in a plain list that only grows (appends are
    atomic in CPython), so a look slices it from a cursor: no listener, nothing done per record in
    the engine's thread. A run without that list (a test fake) is read through `run.records()`.
    """

    def __init__(self, run: Any) -> None:
        self.run = run
        records = getattr(getattr(run, "stream", None), "records", None)
        self._records: list[Any] | None = records if isinstance(records, list) else None
        self.cursor = 0
        self._all: tuple[list[str], list[Any]] | None = None  # every node, for full tables
        self._attempt_started: dict[str, tuple[int, float]] = {}  # node -> (attempt, its start)

    def records(self) -> Sequence[Any]:
        return self._records if self._records is not None else self.run.records()

    @property
    def done(self) -> bool:
        return bool(self.run.done)

    @property
    def status(self) -> str:
        return str(getattr(self.run, "status", "pending"))

    @property
    def dashboard(self) -> str:
        """The run's Dask dashboard link, when it is a web address; else ''."""
        link = getattr(self.run, "dashboard_link", None)
        return link if isinstance(link, str) and link.startswith(("http://", "https://")) else ""

    def skip(self) -> None:
        """Count every record so far as seen (a full read of the nodes follows)."""
        self.cursor = len(self.records())

    def changed(self) -> dict[str, None]:
        """Ids of the nodes named by the records appended since the last look, in order of first
        appearance (a dict used as an ordered set; run records, `node == ""`, are left out)."""
        records = self.records()
        end = len(records)
        new = records[self.cursor : end]
        self.cursor = end
        changed = dict.fromkeys(map(_NODE, new))
        changed.pop("", None)
        return changed

    def table(self, ids: list[str]) -> NodeTable:
        return self._from_current_attempts(node_table(ids, self.run.nodes))

    def full_table(self, ids: list[str]) -> NodeTable:
        """The table of every node. The run's result objects are looked up once: the engine
        updates them in place (a reused result is copied into the run's own)."""
        if self._all is None or self._all[0] is not ids:
            self._all = (ids, list(map(self.run.nodes.__getitem__, ids)))
        return self._from_current_attempts(result_table(ids, self._all[1]))

    def _from_current_attempts(self, table: NodeTable) -> NodeTable:
        """A retried node's elapsed time counts from its current attempt: the result keeps only
        the first start, so the start of a later attempt comes from its `running` record."""
        attempts = table["attempts"]
        if not attempts or max(attempts) < 2:  # no node was retried: the common case, in C
            return table
        started = table["started"]
        for index, first in enumerate(started):
            if first is not None and attempts[index] > 1:
                started[index] = self._attempt_start(table["ids"][index], attempts[index], first)
        return table

    def _attempt_start(self, node: str, attempt: int, first: float) -> float:
        known = self._attempt_started.get(node)
        if known is not None and known[0] == attempt:
            return known[1]
        records = self.records()
        # Newest first: the attempt began recently, so its record is near the end.
        for index in range(len(records) - 1, -1, -1):
            record = records[index]
            if record.node == node and record.attempt == attempt and record.state == "running":
                self._attempt_started[node] = (attempt, record.time)
                return record.time
        return first  # its record is not there (a fake run without records): the first start

    def failure_message(self, table: NodeTable) -> str:
        return failure_message(table["ids"], table["state"], self.run.nodes)

    def crash(self) -> ErrorLike | None:
        """The error of the record that ended the run, if the run itself failed."""
        records = self.records()
        last = records[-1] if records else None
        return getattr(last, "error", None) if getattr(last, "node", None) == "" else None


class Cancellable(Protocol):
    def cancel(self) -> None: ...


# `ticker(interval, tick)` calls `tick()` every `interval` seconds until `tick` returns False or
# the returned handle is cancelled.
Ticker = Callable[[float, Callable[[], bool]], Cancellable]


class _TickThread:
    def __init__(self, interval: float, tick: Callable[[], bool]) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(interval, tick), name="pointy-widget-follower", daemon=True
        )
        self._thread.start()

    def _loop(self, interval: float, tick: Callable[[], bool]) -> None:
        while not self._stop.wait(interval):
            if not tick():
                return

    def cancel(self) -> None:
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the follower to stop (it stops by itself once the run it follows ended)."""
        self._thread.join(timeout)


def thread_ticker(interval: float, tick: Callable[[], bool]) -> Cancellable:
    """Default ticker: a daemon thread, so a follower never blocks kernel shutdown."""
    return _TickThread(interval, tick)


class _Follow:
    """One follower of a `SharedTicker`: its interval, its look, and whether it has stopped."""

    def __init__(self, interval: float, tick: Callable[[], bool]) -> None:
        self.interval = interval
        self.tick = tick
        self.cancelled = False
        self._stopped = threading.Event()

    def cancel(self) -> None:
        self.cancelled = True  # dropped by the ticker's thread when its next look comes due
        self._stopped.set()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def alive(self) -> bool:
        return not self._stopped.is_set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the follower to stop (it stops by itself once the run it follows ended)."""
        self._stopped.wait(timeout)


class SharedTicker:
    """A ticker whose followers all look from one daemon thread, started with the first of them.

    Following a run then costs no thread start, and a follower cancelled before its first look
    is due (a run that ended at once, the usual cell) never wakes the thread on the cell's path:
    the thread is woken only when a new look is due before the one it is waiting for.
    """

    def __init__(self, name: str = "pointy-widget-follower") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, _Follow]] = []  # a heap of (when, order, follower)
        self._order = 0
        self._wakes_at = math.inf  # when the waiting thread looks by itself; -inf: it is busy
        self._thread: threading.Thread | None = None
        self._closed = False

    def __call__(self, interval: float, tick: Callable[[], bool]) -> Cancellable:
        if self._closed:  # the session went away; a widget still wanting to follow gets its own
            return thread_ticker(interval, tick)
        follow = _Follow(interval, tick)
        with self._cond:
            self._push(time.monotonic() + interval, follow)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            elif self._due[0][2] is follow and self._due[0][0] < self._wakes_at:
                self._cond.notify()
        return follow

    def close(self) -> None:
        """Stop the thread; followers still looking are stopped with it."""
        with self._cond:
            self._closed = True
            for _, _, follow in self._due:
                follow.stop()
            self._due.clear()
            self._cond.notify()

    def _push(self, when: float, follow: _Follow) -> None:
        self._order += 1
        heapq.heappush(self._due, (when, self._order, follow))

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                if not self._due:
                    self._wakes_at = math.inf
                    self._cond.wait()
                    continue
                when, _, follow = self._due[0]
                if follow.cancelled:
                    heapq.heappop(self._due)
                    continue
                now = time.monotonic()
                if when > now:
                    self._wakes_at = when
                    self._cond.wait(when - now)
                    continue
                heapq.heappop(self._due)
                self._wakes_at = -math.inf  # looking: a new follower needs no wake-up
                self._cond.release()
                try:
                    again = _look_once(follow)
                finally:
                    self._cond.acquire()
                if again and not follow.cancelled and not self._closed:
                    self._push(time.monotonic() + follow.interval, follow)
                else:
                    follow.stop()


def _look_once(follow: _Follow) -> bool:
    """One look; a look that raises stops that follower only, never the thread the others use."""
    try:
        return bool(follow.tick())
    except Exception:
        logging.getLogger(__name__).exception("Pointy widget follower failed; it stopped")
        return False


# --- pushing streamed text -----------------------------------------------------------------------

Scheduler = Callable[[float, Callable[[], None]], Cancellable]


def thread_timer(delay: float, callback: Callable[[], None]) -> Cancellable:
    """Default scheduler: a daemon timer, so a pending flush never blocks kernel shutdown."""
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()
    return timer


class Throttle:
    """Calls `flush` at most `max_rate` times a second, with a trailing call for the last changes.

    `poke()` says "something changed". The first poke after a quiet interval flushes at once; later
    ones inside the interval schedule one trailing flush. `poke(final=True)` flushes at once and
    drops any pending one (the run ended: show the exact final state now).
    """

    def __init__(
        self,
        flush: Callable[[], None],
        max_rate: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = thread_timer,
    ) -> None:
        self._flush = flush
        self._clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._last = -math.inf
        self._timer: Cancellable | None = None
        self._token = 0  # identifies the live timer; a cancelled timer that fires anyway is ignored
        self.interval = 0.0
        self.set_rate(max_rate)

    def set_rate(self, max_rate: float) -> None:
        if max_rate <= 0:
            raise ValueError(f"max_rate must be positive, got {max_rate!r}")
        self.interval = 1.0 / max_rate

    @property
    def pending(self) -> bool:
        """A trailing flush is scheduled."""
        return self._timer is not None

    def poke(self, final: bool = False) -> None:
        with self._lock:
            now = self._clock()
            if not final and now - self._last < self.interval:
                if self._timer is None:
                    self._token += 1
                    token = self._token
                    delay = self._last + self.interval - now
                    self._timer = self._schedule(delay, lambda: self._on_timer(token))
                return
            self._drop_timer()
            self._last = now
        self._flush()

    def close(self) -> None:
        """Drop a pending flush (the widget is going away or shows another run)."""
        with self._lock:
            self._drop_timer()

    def _drop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._token += 1

    def _on_timer(self, token: int) -> None:
        with self._lock:
            if token != self._token:
                return
            self._timer = None
            self._last = self._clock()
        self._flush()
