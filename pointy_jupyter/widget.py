"""The live run widget: it follows a run by polling and sends the front end what changed.

Nothing of the widget runs in the engine's loop thread. While a run is followed, a daemon
follower (`widget_state.thread_ticker`; in a notebook the session's `SharedTicker`, one thread for
every widget) looks at it every 1/max_rate seconds: the records appended to the run's stream since
the last look name the nodes that changed, whose views are read from the run's node results and
sent as one small `delta` custom message. The full state is a JSON string trait, `nodes_json`
(ipywidgets walks one str, not thousands of dicts), sent with the comm_open of a widget made with
its run, assigned when a run is attached later, when its status changes, every FULL_SYNC_EVERY
seconds and at the end, so that a view that renders later (a page reload, `%pointy show`) starts
from it; a new view also says `hello` to get a fresh one at the next look. A look sends at most
one message, so the front end gets at most max_rate messages a second, whatever the size of the
pipeline.

Threads: looks run on the follower's thread, commands on the kernel's main thread, `finish()` on
the thread that ran the run. `_follow_lock` serialises looks with attach, detach and finish;
`_sync_lock` serialises trait updates and sends (ipywidgets' `hold_sync` is not thread-safe). The
order is always follow lock, then sync lock.
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
import reprlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import traitlets as t

from .saved_view import with_saved_view
from .snapshot import render_snapshot
from .widget_state import (
    Cancellable,
    NodeTable,
    NodeView,
    RunReader,
    TableViews,
    Ticker,
    cache_words,
    controls_for,
    end_message,
    error_text,
    pending_table,
    state_counts,
    thread_ticker,
)

_STATIC = pathlib.Path(__file__).parent / "static"
VALUE_LIMIT = 2_000  # characters of a value's repr shown in the detail panel
OUTPUT_LIMIT = 20_000  # characters of captured output (the tail is kept)
FULL_SYNC_EVERY = 2.0  # seconds between full state syncs while a run is followed
TIMELINE_EVERY = 1.0  # seconds between timeline layouts while a view shows the timeline tab
RERUN_MODES = ("all", "failed", "from", "stale")

Command = dict[str, Any]
CommandHandler = Callable[[Command], object]


class _BoundedRepr(reprlib.Repr):
    """reprlib bounds the work (a plain repr() of a ten-million-item list would stall the kernel);
    other objects keep their own repr, cut at the end, and a failing __repr__ is named."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = 100
        self.maxdeque = self.maxarray = 100
        self.maxdict = 50
        self.maxstring = self.maxother = self.maxlong = VALUE_LIMIT

    def repr_instance(self, obj: object, level: int) -> str:
        try:
            return repr(obj)[: self.maxother + 1]  # one extra so short_repr marks the cut
        except Exception as exc:
            return f"<repr failed: {type(exc).__name__}: {exc}>"


_REPR = _BoundedRepr()


def short_repr(value: object) -> str:
    """A repr of at most VALUE_LIMIT characters that never raises."""
    try:
        text = _REPR.repr(value)
    except Exception as exc:  # e.g. a container whose element's repr fails inside reprlib itself
        text = f"<repr failed: {type(exc).__name__}: {exc}>"
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


@functools.cache
def static_text(name: str) -> str:
    """A file of `static/`, read once per process (every widget's comm_open carries it)."""
    return (_STATIC / name).read_text(encoding="utf-8")


def _clip_tail(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else "…" + text[-(OUTPUT_LIMIT - 1) :]


def _as_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):  # a traceback given as a list of lines
        return "".join(str(line) for line in value)
    return str(value)


class RunWidget(anywidget.AnyWidget):
    """Live picture of one Pointy run, with re-run and cancel controls.

    `on_command(command)` receives `{"type": "rerun", "mode": "all" | "failed" | "from",
    "node": id | None}` and `{"type": "cancel"}` from the buttons; the magic layer acts on them
    (and calls `attach` with the new run after a re-run). `ticker` and `clock` are for tests: a
    ticker is called as `ticker(interval, tick)` and calls `tick()` every interval until it
    returns False or the handle it returned is cancelled.
    """

    # anywidget adds `_esm`, `_css` and `_anywidget_id` to each instance with `add_traits`, which
    # builds a new class per widget (a quarter of a millisecond); declared here they are plain
    # class traits, and `add_traits` below leaves them alone.
    _esm = t.Unicode().tag(sync=True)
    _css = t.Unicode().tag(sync=True)
    _anywidget_id = t.Unicode("pointy_jupyter.widget.RunWidget").tag(sync=True)

    @t.default("_esm")
    def _default_esm(self) -> str:
        return static_text("widget.js")

    @t.default("_css")
    def _default_css(self) -> str:
        return static_text("widget.css")

    def add_traits(self, **traits: Any) -> None:
        new = {name: trait for name, trait in traits.items() if not self.has_trait(name)}
        if new:
            super().add_traits(**new)

    # The graph JSON of docs/design.md, as a string: ipywidgets walks one str, not 10,000 dicts.
    graph_json = t.Unicode("").tag(sync=True)
    # The node table of the whole graph as JSON: {"run", "ids", "state", "attempts",
    # "duration_us", "descriptor"}, one entry per node in every list.
    nodes_json = t.Unicode("").tag(sync=True)
    status = t.Unicode("pending").tag(sync=True)
    run_id = t.Unicode(None, allow_none=True).tag(sync=True)
    selected = t.Unicode(None, allow_none=True).tag(sync=True)
    detail = t.Dict().tag(sync=True)
    controls = t.Dict().tag(sync=True)
    message = t.Unicode("").tag(sync=True)
    # Node ids whose event a later cell redefined, and what is downstream (see staleness.py).
    stale = t.List(t.Unicode()).tag(sync=True)
    # `timeline_layout` of the run as JSON, kept up to date only while a view shows the timeline.
    timeline_json = t.Unicode("").tag(sync=True)
    # The Dask dashboard of the cluster the run's events went to; "" when there is none.
    dashboard = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        run: Any = None,
        *,
        on_command: CommandHandler | None = None,
        max_rate: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        ticker: Ticker = thread_ticker,
        name_cells: Callable[[str], str] | None = None,
        **kwargs: Any,
    ) -> None:
        self._clock = clock
        # Rewrites a traceback's notebook-cell file names the way IPython shows them.
        self._name_cells = name_cells
        self._ticker = ticker
        self._follow_lock = threading.RLock()
        self._sync_lock = threading.RLock()
        self._on_command = on_command
        self._run: Any = None
        self._reader: RunReader | None = None  # set while the run is followed
        self._follower: Cancellable | None = None
        self._graph: dict[str, Any] = {}
        self._ids: list[str] = []
        self._known: frozenset[str] = frozenset()
        self._table: NodeTable = pending_table([])  # what the last full sync showed
        self._run_message = ""  # the message derived from the run, as last put in `message`
        self._live_message = ""  # ... as last sent (full sync or delta)
        self._last_full = -math.inf
        self._want_full = False
        self._timeline_wanted = False  # a view shows the timeline tab
        self._last_timeline = -math.inf
        self.last_error: BaseException | None = None  # the last error swallowed to protect the run
        if max_rate <= 0:  # checked once close() (from __del__) has what it needs
            raise ValueError(f"max_rate must be positive, got {max_rate!r}")
        self.interval = 1.0 / max_rate
        # The first picture travels in the comm_open itself: graph, node table and controls in
        # one message rather than an open followed by updates.
        state: dict[str, Any] = {}
        failure: BaseException | None = None
        done = True
        if run is not None:
            state, done, failure = self._wire(run)
        state.setdefault("controls", self._controls())
        super().__init__(**state, **kwargs)
        self.on_msg(self._on_custom_msg)
        if failure is not None:
            self._report(failure)
        if not done:
            self._follower = self._ticker(self.interval, self.tick)

    # --- run wiring ---------------------------------------------------------------------------

    @property
    def run(self) -> Any:
        return self._run

    @property
    def graph(self) -> dict[str, Any]:
        """The graph JSON shown (what `graph_json` holds)."""
        return self._graph

    @property
    def following(self) -> bool:
        """A follower is looking at the run (it has not ended yet, as far as the widget knows)."""
        return self._reader is not None

    def attach(self, run: Any) -> None:
        """Show `run` from now on (also a run under way or finished) and stop following the last."""
        self.detach()
        with self._follow_lock:
            state, done, failure = self._wire(run)
            with self._sync_lock, self.hold_sync():  # one message: graph and the whole state
                self._assign(state)
            if failure is not None:
                self._report(failure)
            if not done:
                self._follower = self._ticker(self.interval, self.tick)

    def _wire(self, run: Any) -> tuple[dict[str, Any], bool, Exception | None]:
        """Take `run` as the one shown: the trait values that show it, whether it has ended, and
        the error that kept its state from being read (then the graph is still shown, and the
        follower's looks try again)."""
        graph = run.graph.to_json()
        ids = [node["id"] for node in graph.get("nodes", [])]
        self._run, self._reader = run, RunReader(run)
        self._ids, self._known = ids, frozenset(ids)
        self._graph = graph
        self._run_message = self._live_message = ""
        stale = list(getattr(run, "stale", ()))
        state: dict[str, Any] = {
            "graph_json": _dump(graph),  # the same text again (a re-run) syncs nothing
            "run_id": run.id,
            "selected": None,
            "stale": stale,
            "detail": {},
            "timeline_json": "",
            "message": "",
        }
        try:
            full, done = self._full_state(self._reader, None, stale)
        except Exception as exc:
            return state, False, exc
        state.update(full)
        if done:
            self._stop_following()
        return state, done, None

    def show_graph(self, graph: dict[str, Any]) -> None:
        """Draw a graph JSON with no run behind it (a plan): every node pending, no controls."""
        self.detach()
        ids = [node["id"] for node in graph.get("nodes", [])]
        table = pending_table(ids)
        with self._follow_lock, self._sync_lock, self.hold_sync():
            self._ids, self._known, self._table = ids, frozenset(ids), table
            self._graph = graph
            self.graph_json = _dump(graph)
            self.run_id = None
            self.selected = None
            self.detail = {}
            self.timeline_json = ""
            self.nodes_json = _dump({"run": None, **table})
            self.status = "pending"
            self.dashboard = ""
            self._run_message = self._live_message = self.message = ""
            self.controls = self._controls()

    def detach(self) -> None:
        """Stop following the current run and forget it; the picture stays as it is."""
        with self._follow_lock:
            self._stop_following()
            self._run = None

    def close(self) -> None:
        self.detach()
        super().close()

    def finish(self, timeout: float | None = None) -> bool:
        """Wait for the followed run to end, then push its final state at once (not at the next
        look). The blocking magic calls this right after `run.start()` returns, before it
        updates the cell's display. False when the run is still going after `timeout` seconds."""
        reader = self._reader
        if reader is None:
            return True
        try:
            if not reader.done:
                reader.run.wait(timeout)
        except TimeoutError:
            return False
        with self._follow_lock:
            if self._reader is reader:
                try:
                    self._full_sync()
                except Exception as exc:
                    self._report(exc)
                    self._stop_following()
        return True

    def tick(self) -> bool:
        """One look at the followed run; the follower calls this every 1/max_rate seconds.

        Returns False when there is nothing more to follow. Never raises: an error is shown in
        `message` and the next look (at the latest the final full sync) puts things right.
        """
        with self._follow_lock:
            reader = self._reader
            if reader is None:
                return False
            try:
                return self._look(reader)
            except Exception as exc:
                self._report(exc)
                try:
                    ended = reader.done
                except Exception:
                    ended = True
                if ended:  # no later look would do better
                    self._stop_following()
                return not ended

    def _look(self, reader: RunReader) -> bool:
        if reader.done or self._want_full or self._clock() - self._last_full >= FULL_SYNC_EVERY:
            return not self._full_sync()
        status = reader.status
        if status != self.status:  # pending -> running: this look sends only that
            with self._sync_lock, self.hold_sync():
                self.status = status
                self.controls = self._controls()
            return True  # the records wait for the next look
        if self._timeline_wanted and self._clock() - self._last_timeline >= TIMELINE_EVERY:
            self._push_timeline(reader)
        changed = reader.changed()
        if not changed:
            return True
        table = reader.table(list(changed))
        delta: dict[str, Any] = {
            "type": "delta",
            "run": reader.run.id,
            "nodes": table,
            "status": status,
            "now": time.time(),
        }
        message = reader.failure_message(table)
        if message and message != self._live_message:
            delta["message"] = self._live_message = message
        selected = self.selected
        if selected is not None and selected in changed:
            delta["detail"] = self._detail(selected)
        with self._sync_lock:
            self.send(delta)
        return True

    def _full_sync(self) -> bool:
        """Assign the whole state in one message; once the run has ended, its final state and the
        follower stops. Returns whether the run has ended. Called with the follow lock held."""
        reader = self._reader
        assert reader is not None
        with self._sync_lock:  # a selection made meanwhile must not be overwritten
            state, done = self._full_state(reader, self.selected, self.stale)
            with self.hold_sync():
                self._assign(state)
        if done:
            self._stop_following()
        return done

    def _full_state(
        self, reader: RunReader, selected: str | None, stale: list[str]
    ) -> tuple[dict[str, Any], bool]:
        """The trait values of the whole state as the run is now, and whether it has ended."""
        done = reader.done  # first: once it is true, every record and result is in place
        reader.skip()
        table = reader.full_table(self._ids)
        status = reader.status
        message = reader.failure_message(table) or self._live_message
        if done:
            message = end_message(status, reader.crash(), message)
        state: dict[str, Any] = {
            "nodes_json": _dump({"run": reader.run.id, "now": time.time(), **table}),
            "status": status,
            "dashboard": reader.dashboard,
            "controls": self._controls_of(status, table, selected, stale),
        }
        if self._timeline_wanted:
            state["timeline_json"] = self._timeline_text(reader)
        if message != self._run_message:
            state["message"] = message
        if selected is not None:
            state["detail"] = self._detail(selected)
        self._table = table
        self._run_message = self._live_message = message
        self._last_full = self._clock()
        self._want_full = False
        return state, done

    def _assign(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def _timeline_text(self, reader: RunReader) -> str:
        from pointy_engine.telemetry.timeline import timeline_layout  # only once the tab shows

        self._last_timeline = self._clock()
        return _dump(timeline_layout(reader.records(), now=None if reader.done else time.time()))

    def _push_timeline(self, reader: RunReader) -> None:
        text = self._timeline_text(reader)
        with self._sync_lock:
            self.timeline_json = text

    def show_view(self, view: object) -> None:
        """A view switched between its `graph` and `timeline` tabs."""
        if view not in ("graph", "timeline"):
            self._say(f"unknown view: {view!r}")
            return
        self._timeline_wanted = view == "timeline"
        if not self._timeline_wanted:
            return
        with self._follow_lock:
            reader = self._reader or (RunReader(self._run) if self._run is not None else None)
            if reader is not None:
                self._push_timeline(reader)

    def _stop_following(self) -> None:
        follower, self._follower, self._reader = self._follower, None, None
        if follower is not None:
            follower.cancel()

    def _report(self, exc: BaseException) -> None:
        self.last_error = exc
        text = f"widget error: {type(exc).__name__}: {exc}"
        try:
            with self._sync_lock:
                if self.message != text:  # a follower that fails on every look logs once
                    self.log.warning("Pointy widget: %s: %s", type(exc).__name__, exc)
                    self.message = text
        except Exception as inner:  # even the message could not be set; keep it for debugging
            self.last_error = inner

    # --- commands from the front end ----------------------------------------------------------

    def _on_custom_msg(self, _widget: object, content: Any, _buffers: object) -> None:
        try:
            self.command(content)
        except Exception as exc:
            self._report(exc)

    def command(self, content: Command) -> None:
        """Handle one front-end command (what `model.send(...)` in widget.js sends)."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "select":
            self.select(content.get("node"))
        elif kind == "rerun":
            self._rerun(content.get("mode"), content.get("node"))
        elif kind == "cancel":
            self._forward({"type": "cancel"}, "cancel")
        elif kind == "view":
            self.show_view(content.get("view"))
        elif kind == "hello":
            # A view rendered: while a run is followed, the next look sends the full state. (After
            # the end, the traits already hold the final state.)
            self._want_full = self._reader is not None
        else:
            self._say(f"unknown command: {kind!r}")

    def select(self, node_id: str | None) -> None:
        """Show the details of `node_id` (None clears the panel)."""
        if node_id is not None and node_id not in self._known:
            self._say(f"unknown node: {node_id!r}")
            return
        with self._sync_lock, self.hold_sync():
            self.selected = node_id
            self.detail = self._detail(node_id) if node_id is not None else {}
            self.controls = self._controls()

    def _rerun(self, mode: object, node: object) -> None:
        if mode not in RERUN_MODES:
            self._say(f"unknown re-run mode: {mode!r}")
            return
        target = None
        if mode == "from":
            target = node if node is not None else self.selected
            if target is None:
                self._say("select a node to re-run from")
                return
        self._forward({"type": "rerun", "mode": mode, "node": target}, "re-run")

    def _forward(self, command: Command, label: str) -> None:
        if self._on_command is None:
            self._say(f"{label} is not available here")
            return
        try:
            self._on_command(command)
        except Exception as exc:
            self._say(f"{label} failed: {type(exc).__name__}: {exc}")

    def show_stale(self, node_ids: list[str]) -> None:
        """Mark these nodes stale in every view, and offer "Re-run stale"."""
        with self._sync_lock, self.hold_sync():
            self.stale = list(node_ids)
            self.controls = self._controls()

    def _say(self, text: str) -> None:
        with self._sync_lock:
            self.message = text

    # --- derived views ------------------------------------------------------------------------

    def node_views(self) -> dict[str, NodeView]:
        """`{id: view}` as the last full sync showed it (the final state once the run ended)."""
        return dict(TableViews(self._table))

    def _controls(self) -> dict[str, bool]:
        return self._controls_of(self.status, self._table, self.selected, self.stale)

    def _controls_of(
        self, status: str, table: NodeTable, selected: str | None, stale: list[str]
    ) -> dict[str, bool]:
        states = table["state"]
        counts = {"failed": states.count("failed"), "cancelled": states.count("cancelled")}
        can_command = self._on_command is not None and self._run is not None
        controls = controls_for(status, counts, selected, can_command)
        controls["rerun_stale"] = controls["rerun_all"] and bool(stale)
        return controls

    def _detail(self, node_id: str) -> dict[str, Any]:
        node = None
        if self._run is not None:
            try:
                node = self._run.nodes[node_id]
            except (LookupError, AttributeError, TypeError):
                node = None
        state = getattr(node, "state", None) or "pending"
        value = getattr(node, "value", None)
        error = getattr(node, "error", None)
        duration = _seconds(getattr(node, "duration", None))
        attempts = _count(getattr(node, "attempts", None)) or 0
        output = _as_text(getattr(node, "output", None))
        show_value = value is not None or state == "succeeded"
        return {
            "node": node_id,
            "state": state,
            "attempts": attempts,
            "duration": None if duration is None else round(duration, 6),
            "total": _total_seconds(node) if attempts > 1 else None,
            "descriptor": getattr(node, "descriptor", None),
            "worker": getattr(node, "worker", None) or None,
            "value": short_repr(value) if show_value else None,
            "error": error_text(error) or None,
            "traceback": self._traceback(getattr(error, "traceback", None)),
            "output": _clip_tail(output) if output else None,
            **cache_words(node),
        }

    def _traceback(self, traceback: object) -> str | None:
        text = _as_text(traceback)
        if text is None or self._name_cells is None:
            return text
        try:
            return self._name_cells(text)
        except Exception:  # a broken name map must not hide the traceback
            return text

    # --- what a saved notebook keeps ----------------------------------------------------------

    def snapshot_html(self) -> str:
        """A static, script-free picture of the current state (for viewers without a kernel)."""
        table = self._table
        return render_snapshot(
            self.graph,
            TableViews(table),
            self.status,
            self.run_id,
            self._run_message,
            counts=state_counts(table["state"]),
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        # Front ends with the widget manager draw the live widget (it ranks above text/html);
        # GitHub and nbviewer fall back to the snapshot. Re-display at the end of a run
        # (display handle `update`) to save the final picture.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return with_saved_view({**data, "text/html": self.snapshot_html()}), metadata

    def __repr__(self) -> str:
        table = getattr(self, "_table", None)  # traitlets may repr a half-built instance
        if table is None:
            return "RunWidget()"
        counts = state_counts(table["state"])
        tally = "".join(f", {name}={count}" for name, count in counts.items() if count)
        return (
            f"RunWidget(run={self.run_id!r}, status={self.status!r}, "
            f"nodes={len(table['ids'])}{tally})"
        )


def _dump(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def _count(attempts: object) -> int | None:
    """Attempts may be a number or the run's list of attempt records."""
    if attempts is None:
        return None
    if isinstance(attempts, int):
        return attempts
    try:
        return len(attempts)  # type: ignore[arg-type]
    except TypeError:
        return None


def _total_seconds(node: object) -> float | None:
    """From a retried node's first start to its end: every attempt and the waits between."""
    started = _seconds(getattr(node, "started", None))
    finished = _seconds(getattr(node, "finished", None))
    if started is None or finished is None or finished < started:
        return None
    return round(finished - started, 6)


def _seconds(duration: object) -> float | None:
    if duration is None:
        return None
    total_seconds = getattr(duration, "total_seconds", None)  # a timedelta
    if callable(total_seconds):
        return float(total_seconds())
    try:
        return float(duration)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
