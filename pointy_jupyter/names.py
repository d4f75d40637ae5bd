"""Diagnostics for the lab extension, answered by the kernel that would run the cell.

The extension checks syntax itself (labextension/src/language, which agrees with the engine on
every fixture); what only the kernel knows is which names the notebook defines. It opens a comm on
`TARGET` with a `%%pointy` cell's body; the kernel checks it the way the magic would (syntax,
checks, then every event name against the notebook, with the same did-you-mean) and answers once
with every problem, then closes the comm. Without this target (no `%load_ext pointy_jupyter`) the
kernel closes the comm unanswered and the editor stays silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pointy_engine.errors import PointyCheckError, PointyError, PointySyntaxError

from .errors import in_cell

TARGET = "pointy.diagnostics"


def diagnose(body: str, namespace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Problems of a cell body, worded as the cell's error would word them.

    Each is `{kind, message, line, column, from, to}`: line and column count the cell's lines
    (the `%%pointy` line is line 1), `from`/`to` are UTF-16 offsets into `body`, as the editor
    counts them.
    """
    from pointy_engine.errors import UnknownEventError
    from pointy_engine.graph import build_graph
    from pointy_engine.plan import Plan

    try:
        Plan(build_graph(body), namespace)
    except PointySyntaxError as error:
        end = error.offset + error.width
        return [_located(body, "syntax", error.problem, error.offset, end, error.expected)]
    except PointyCheckError as error:
        kind = "name" if isinstance(error, UnknownEventError) else "check"
        return [_located(body, kind, p.message, p.start, p.end) for p in error.problems]
    except PointyError:
        return []  # missing inputs depend on the cell's options: the run says so
    return []


def _located(
    body: str, kind: str, problem: str, start: int, end: int, expected: tuple[str, ...] = ()
) -> dict[str, Any]:
    in_the_cell = PointySyntaxError(problem, in_cell(body), start + 1, expected)
    message = in_the_cell.summary if kind == "syntax" else f"{problem}{_at(in_the_cell)}"
    return {
        "kind": kind,
        "message": message,
        "line": in_the_cell.line,
        "column": in_the_cell.column,
        "from": _utf16(body, start),
        "to": _utf16(body, end),
    }


def _at(error: PointySyntaxError) -> str:
    return f" at line {error.line}, column {error.column}"


def _utf16(text: str, offset: int) -> int:
    """A code point offset as JavaScript counts it (past the end stays past it)."""
    return len(text[:offset].encode("utf-16-le")) // 2 + max(0, offset - len(text))


class DiagnosticsTarget:
    """The comm target; `close()` takes it out of the kernel again."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
        if self.manager is not None:
            self.manager.register_target(TARGET, self.opened)

    def opened(self, comm: Any, message: dict[str, Any]) -> None:
        data = message.get("content", {}).get("data") or {}
        source = data.get("source")
        try:
            if isinstance(source, str):
                comm.send({"diagnostics": diagnose(source, self.shell.user_ns)})
        finally:
            comm.close()

    def close(self) -> None:
        if self.manager is not None:
            self.manager.unregister_target(TARGET, self.opened)
            self.manager = None
