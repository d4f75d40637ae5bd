"""Per-node output capture: what an event prints (stdout, stderr) and logs, kept per thread.

While at least one run captures, `sys.stdout` and `sys.stderr` are wrapped in a `_Tee` that
echoes everything to the stream it replaced and, when the writing thread is running an event
that captures, also appends the text to that event's buffer. A handler on the root logger adds
each log record the event makes, formatted on one line (`LEVEL:logger:message`). Buffers are
per thread, so several threads printing at once are told apart. Capture is reference-counted:
the streams and the handler are put back when the last capturing run ends.

Choices: only the thread running the event is captured (threads the event starts itself are
echoed, not captured); writes made below Python (C extensions writing to file descriptor 1)
are not seen; log records are captured when they reach the root logger (so at the levels the
loggers let through), once: not again when one of the logging module's own stream handlers
(`logging.lastResort` included) writes them to the wrapped stderr. While capture is on, a
record that no handler would have shown still goes to `logging.lastResort`, as before. A
process-pool worker captures the same way around each event and sends the text back with the
attempt's result; a thread event that times out keeps what it printed until then.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

_local = threading.local()  # .sink: the list the current thread's event writes into, or None
_lock = threading.Lock()
_users = 0
_installed: tuple[_Tee, _Tee, _LogHandler] | None = None
_LOGGING_FILE = logging.__file__
_FORMAT = logging.Formatter(logging.BASIC_FORMAT)


def current_sink() -> list[str] | None:
    return getattr(_local, "sink", None)


def set_sink(sink: list[str] | None) -> list[str] | None:
    """Make `sink` the current thread's buffer; return the one it replaces."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    return previous


class _Tee:
    """A text stream that echoes to `stream` and copies into the writing thread's sink."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        sink = getattr(_local, "sink", None)
        # A logging handler writing here (its stream was looked up after we were installed,
        # like logging.lastResort's) was already captured by _LogHandler.
        if sink is not None and sys._getframe(1).f_code.co_filename != _LOGGING_FILE:
            sink.append(text)
        return self.stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _LogHandler(logging.Handler):
    """Copies log records made by a capturing thread into its sink, one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = getattr(_local, "sink", None)
        if sink is not None:
            try:
                sink.append(_FORMAT.format(record) + "\n")
            except Exception:
                self.handleError(record)
        if not _has_other_handler(record, self):
            # With no handler of its own, logging would have used lastResort; our being on
            # the root logger must not silence that.
            last = logging.lastResort
            if last is not None and record.levelno >= last.level:
                last.handle(record)


def _has_other_handler(record: logging.LogRecord, ours: logging.Handler) -> bool:
    logger: Any = logging.getLogger(record.name) if record.name != "root" else logging.root
    while logger is not None:
        if any(handler is not ours for handler in logger.handlers):
            return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


def install() -> None:
    """One more capturing run: wrap the streams (the first time) and add the log handler."""
    global _users, _installed
    with _lock:
        _users += 1
        if _installed is not None:
            return
        out, err = _Tee(sys.stdout), _Tee(sys.stderr)
        handler = _LogHandler(logging.NOTSET)
        sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
        logging.root.addHandler(handler)
        _installed = (out, err, handler)


def uninstall() -> None:
    """One capturing run fewer: after the last, put back whatever we replaced."""
    global _users, _installed
    with _lock:
        _users -= 1
        if _users > 0 or _installed is None:
            return
        out, err, handler = _installed
        _installed = None
        logging.root.removeHandler(handler)
        # Someone may have replaced the streams since; then ours stay in their chain, echoing.
        if sys.stdout is out:
            sys.stdout = out.stream
        if sys.stderr is err:
            sys.stderr = err.stream
