"""Where events' printed output goes in a kernel: under the cell that started the run.

A blocking run prints straight into its cell. Output printed after the cell finished (a
background run, a re-run from the widget's buttons) carries the old cell's parent header, which
JupyterLab drops once that cell's request is done, and ipykernel sends a print from a thread it
knows nothing about to whichever cell runs now. So:

- the engine's thread pools run each task in a copy of the submitting thread's `contextvars`
  context, so an event on a worker thread prints as if it ran where its run's loop runs;
- a run started in the background sets `current_sink` to an `OutputSink` (an ipywidgets `Output`
  shown under the run's widget) in its own context, and `StreamRouter`s standing in for
  `sys.stdout` / `sys.stderr` send what is written in that context there.
"""

from __future__ import annotations

import contextvars
import html
import sys
import threading
from collections.abc import Callable
from typing import Any

from .widget_state import Throttle

OUTPUT_LIMIT = 100_000  # characters kept per stream in an Output (the tail)

current_sink: contextvars.ContextVar[OutputSink | None] = contextvars.ContextVar(
    "pointy_output_sink", default=None
)


class OutputSink:
    """Appends text to an ipywidgets `Output`, a few trait syncs a second at most."""

    def __init__(self, output: Any, max_rate: float = 10.0) -> None:
        self.output = output
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Any]] = []  # (stream name, text) or ("", display data)
        self._throttle = Throttle(self._flush, max_rate)

    def write(self, name: str, text: str) -> None:
        with self._lock:
            self._pending.append((name, text))
        self._throttle.poke()

    def header(self, text: str) -> None:
        """A small line naming what comes next ("re-run failed · 14:02:11"), so a re-run's output
        does not run on anonymously from the output before it."""
        data = {
            "text/plain": f"── {text} ──",
            "text/html": (
                '<div class="pointy-output-header" style="font-size:11px;margin-top:4px;'
                "padding-top:2px;color:var(--jp-ui-font-color2,#57606a);"
                f'border-top:1px solid var(--jp-border-color2,#d0d7de)">{html.escape(text)}</div>'
            ),
        }
        with self._lock:
            self._pending.append(("", data))
        self._throttle.poke()

    def flush(self) -> None:
        """Show everything written so far now."""
        self._throttle.poke(final=True)

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            outputs = list(self.output.outputs)
            for name, text in pending:
                if not name:
                    outputs.append({"output_type": "display_data", "data": text, "metadata": {}})
                    continue
                last = outputs[-1] if outputs else None
                if last and last.get("output_type") == "stream" and last.get("name") == name:
                    outputs[-1] = {**last, "text": _tail(last["text"] + text)}
                else:
                    outputs.append({"output_type": "stream", "name": name, "text": _tail(text)})
            self.output.outputs = tuple(outputs)


def printed_text(outputs: Any) -> str:
    """The plain text of an Output widget's outputs (what a viewer without a kernel shows)."""
    parts = []
    for output in outputs:
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        else:
            text = output.get("data", {}).get("text/plain", "")
            parts.append(text if text.endswith("\n") or not text else text + "\n")
    return "".join(parts)


def _tail(text: str) -> str:
    return text if len(text) <= OUTPUT_LIMIT else "…" + text[-(OUTPUT_LIMIT - 1) :]


class StreamRouter:
    """Stands in for `sys.stdout` or `sys.stderr`: text written where `current_sink` is set goes
    to that sink, everything else to the stream it replaced."""

    def __init__(self, stream: Any, name: str) -> None:
        self.stream = stream
        self.name = name

    def write(self, text: str) -> int:
        sink = current_sink.get()
        if sink is None:
            return self.stream.write(text)
        sink.write(self.name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        sink = current_sink.get()
        if sink is not None:
            sink.flush()
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def install_routers() -> Callable[[], None]:
    """Put routers in front of `sys.stdout` and `sys.stderr`; return what takes them out."""
    out, err = StreamRouter(sys.stdout, "stdout"), StreamRouter(sys.stderr, "stderr")
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]

    def uninstall() -> None:
        # Someone may have wrapped ours since; then ours stay in their chain, passing through.
        if sys.stdout is out:
            sys.stdout = out.stream
        if sys.stderr is err:
            sys.stderr = err.stream

    return uninstall
