"""The live run widget: engine records in, JSON traits out, front-end commands back to the magic.

Records arrive on the engine's loop thread, the throttle's trailing flush on a timer thread and
commands on the kernel's main thread. One lock guards the `RunState`, another serialises trait
updates (ipywidgets' `hold_sync` is not thread-safe); the order is always sync lock, then state
lock.
"""

from __future__ import annotations

import pathlib
import reprlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import traitlets as t

from .widget_state import (
    RunState,
    Scheduler,
    Throttle,
    catch_up,
    controls_for,
    error_text,
    pending_view,
    rate_for,
    render_snapshot,
    thread_timer,
)

_STATIC = pathlib.Path(__file__).parent / "static"
VALUE_LIMIT = 2_000  # characters of a value's repr shown in the detail panel
OUTPUT_LIMIT = 20_000  # characters of captured output (the tail is kept)
RERUN_MODES = ("all", "failed", "from")

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
    (and calls `attach` with the new run after a re-run).
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    graph = t.Dict().tag(sync=True)
    nodes = t.Dict().tag(sync=True)
    status = t.Unicode("pending").tag(sync=True)
    run_id = t.Unicode(None, allow_none=True).tag(sync=True)
    selected = t.Unicode(None, allow_none=True).tag(sync=True)
    detail = t.Dict().tag(sync=True)
    controls = t.Dict().tag(sync=True)
    message = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        run: Any = None,
        *,
        on_command: CommandHandler | None = None,
        max_rate: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = thread_timer,
        **kwargs: Any,
    ) -> None:
        self._state = RunState()
        self._state_lock = threading.Lock()
        self._sync_lock = threading.RLock()
        self._run: Any = None
        self._live: list[Any] | None = None  # records buffered while catching up in attach()
        self._on_command = on_command
        self._max_rate = max_rate
        self._pushed_message = ""
        self._throttle = Throttle(self._flush, max_rate, clock, schedule)
        self.last_error: BaseException | None = None  # the last error swallowed to protect the run
        super().__init__(**kwargs)
        self.controls = self._controls()
        self.on_msg(self._on_custom_msg)
        if run is not None:
            self.attach(run)

    # --- run wiring ---------------------------------------------------------------------------

    @property
    def run(self) -> Any:
        return self._run

    def attach(self, run: Any) -> None:
        """Show `run` from now on (also a run already under way) and stop following the last one."""
        self.detach()
        graph = run.graph.to_json()
        node_ids = [node["id"] for node in graph.get("nodes", [])]
        # Read the run before taking our lock: the run is never called while we hold it.
        seeds = [(node_id, _node_view(run, node_id)) for node_id in node_ids]
        status = getattr(run, "status", "pending")
        with self._state_lock:
            self._state.reset(run.id, node_ids, status=status)
            for node_id, view in seeds:
                if view:
                    self._state.seed(node_id, view)
            self._live = []
        history: list[Any] = []
        try:
            # Subscribe before reading the history so no record falls between the two.
            run.add_listener(self.on_record)
            self._run = run
            history = list(run.records())
        finally:
            with self._state_lock:
                live, self._live = self._live or [], None
                for record in catch_up(history, live):
                    self._state.apply(record)
        with self._sync_lock, self.hold_sync():
            self.graph = graph
            self.run_id = run.id
            self.selected = None
            self.detail = {}
            self._pushed_message = ""
            self.message = ""
        self._throttle.set_rate(rate_for(len(node_ids), self._max_rate))
        self._throttle.poke(final=True)

    def show_graph(self, graph: dict[str, Any]) -> None:
        """Draw a graph JSON with no run behind it (a plan): every node pending, no controls."""
        self.detach()
        node_ids = [node["id"] for node in graph.get("nodes", [])]
        with self._state_lock:
            self._state.reset(None, node_ids)
        with self._sync_lock, self.hold_sync():
            self.graph = graph
            self.run_id = None
            self.selected = None
            self.detail = {}
            self._pushed_message = ""
            self.message = ""
        self._throttle.poke(final=True)

    def detach(self) -> None:
        """Stop following the current run; the picture stays as it is."""
        self._throttle.close()
        run, self._run = self._run, None
        if run is None:
            return
        try:
            run.remove_listener(self.on_record)
        except Exception as exc:  # the run may have dropped us already; nothing left to undo
            self.last_error = exc

    def close(self) -> None:
        self.detach()
        super().close()

    def on_record(self, record: Any) -> None:
        """The run listener. Never raises: an error here must not break the run."""
        try:
            with self._state_lock:
                if self._live is not None:
                    self._live.append(record)
                    return
                ends = self._state.apply(record)
            self._throttle.poke(final=ends)
        except Exception as exc:
            self._report(exc)

    def _flush(self) -> None:
        try:
            with self._sync_lock:
                with self._state_lock:
                    changed, status_changed = self._state.take_changes()
                    if not changed and not status_changed:
                        return
                    nodes = self._state.node_views()
                    status, message = self._state.status, self._state.message
                with self.hold_sync():
                    self.nodes = nodes
                    self.status = status
                    if message != self._pushed_message:
                        self._pushed_message = self.message = message
                    self.controls = self._controls()
                    if self.selected is not None and self.selected in changed:
                        self.detail = self._detail(self.selected)
        except Exception as exc:
            self._report(exc)

    def _report(self, exc: BaseException) -> None:
        self.last_error = exc
        self.log.warning("Pointy widget: %s: %s", type(exc).__name__, exc)
        try:
            with self._sync_lock:
                self.message = f"widget error: {type(exc).__name__}: {exc}"
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
        else:
            self._say(f"unknown command: {kind!r}")

    def select(self, node_id: str | None) -> None:
        """Show the details of `node_id` (None clears the panel)."""
        with self._state_lock:
            known = node_id in self._state.nodes
        if node_id is not None and not known:
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

    def _say(self, text: str) -> None:
        with self._sync_lock:
            self.message = text

    # --- derived views ------------------------------------------------------------------------

    def _controls(self) -> dict[str, bool]:
        with self._state_lock:
            status, counts = self._state.status, self._state.counts()
        can_command = self._on_command is not None and self._run is not None
        return controls_for(status, counts, self.selected, can_command)

    def _detail(self, node_id: str) -> dict[str, Any]:
        with self._state_lock:
            view = dict(self._state.nodes.get(node_id) or pending_view())
            worker = self._state.workers.get(node_id)
        node = None
        if self._run is not None:
            try:
                node = self._run.nodes[node_id]
            except (LookupError, AttributeError, TypeError):
                node = None
        value = getattr(node, "value", None)
        error = getattr(node, "error", None)
        duration = view["duration"]
        if duration is None:
            duration = _seconds(getattr(node, "duration", None))
        output = _as_text(getattr(node, "output", None))
        show_value = value is not None or view["state"] == "succeeded"
        return {
            "node": node_id,
            "state": view["state"],
            "attempts": view["attempts"] or _count(getattr(node, "attempts", None)) or 0,
            "duration": duration,
            "descriptor": view["descriptor"],
            "worker": worker,
            "value": short_repr(value) if show_value else None,
            "error": error_text(error) or None,
            "traceback": _as_text(getattr(error, "traceback", None)),
            "output": _clip_tail(output) if output else None,
        }

    # --- what a saved notebook keeps ----------------------------------------------------------

    def snapshot_html(self) -> str:
        """A static, script-free picture of the current state (for viewers without a kernel)."""
        with self._state_lock:
            nodes = self._state.node_views()
            status, run_id, message = self._state.status, self._state.run_id, self._state.message
        return render_snapshot(self.graph, nodes, status, run_id, message)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        # Front ends with the widget manager draw the live widget (it ranks above text/html);
        # GitHub and nbviewer fall back to the snapshot. Re-display at the end of a run
        # (display handle `update`) to save the final picture.
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        return {**data, "text/html": self.snapshot_html()}, metadata

    def __repr__(self) -> str:
        state = getattr(self, "_state", None)  # traitlets may repr a half-built instance
        if state is None:
            return "RunWidget()"
        with self._state_lock:
            run_id, status, counts = state.run_id, state.status, state.counts()
            total = len(state.nodes)
        tally = "".join(f", {name}={count}" for name, count in counts.items() if count)
        return f"RunWidget(run={run_id!r}, status={status!r}, nodes={total}{tally})"


def _node_view(run: Any, node_id: str) -> dict[str, Any]:
    """What the run object knows of a node: a re-run may reuse values without new records."""
    try:
        node = run.nodes[node_id]
    except (LookupError, AttributeError, TypeError):
        return {}
    return {
        "state": getattr(node, "state", None),
        "attempts": _count(getattr(node, "attempts", None)),
        "duration": _seconds(getattr(node, "duration", None)),
        "descriptor": getattr(node, "descriptor", None),
    }


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
