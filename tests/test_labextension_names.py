"""The kernel side of the lab extension's diagnostics: pointy_jupyter/names.py.

The editor sends a `%%pointy` cell's body and underlines `from`/`to` (UTF-16 offsets into the
body) with the message; line and column count the cell's lines, the magic line being line 1.
"""

from __future__ import annotations

from typing import Any

from pointy_jupyter.names import TARGET, DiagnosticsTarget, diagnose


def Fetch() -> int:
    return 1


def test_unknown_names_come_with_the_kernels_did_you_mean() -> None:
    assert diagnose("Fetch -> Fetc || Clean", {"Fetch": Fetch}) == [
        {
            "kind": "name",
            "message": "unknown event 'Fetc' (did you mean 'Fetch'?) at line 2, column 10",
            "line": 2,
            "column": 10,
            "from": 9,
            "to": 13,
        },
        {
            "kind": "name",
            "message": "unknown event 'Clean' at line 2, column 18",
            "line": 2,
            "column": 18,
            "from": 17,
            "to": 22,
        },
    ]


def test_a_value_that_is_not_an_event_is_named_so() -> None:
    [problem] = diagnose("Fetch -> total", {"Fetch": Fetch, "total": 3})
    assert problem["message"] == (
        "'total' is a value of type int, not an event (a function or EventBase class)"
        " at line 2, column 10"
    )


def test_offsets_count_utf16_units_and_columns_count_characters() -> None:
    body = "# ☕ 𐐀\n𐐀 -> Fetc"
    [first, second] = diagnose(body, {"Fetch": Fetch})
    assert (first["line"], first["column"], first["from"], first["to"]) == (3, 1, 7, 9)
    assert (second["line"], second["column"], second["from"], second["to"]) == (3, 6, 13, 17)


def test_syntax_and_check_problems_read_as_the_cell_error() -> None:
    assert diagnose("Fetch ->", {"Fetch": Fetch}) == [
        {
            "kind": "syntax",
            "message": "unexpected end of input; expected an event name, a number or '('"
            " at line 2, column 9",
            "line": 2,
            "column": 9,
            "from": 8,
            "to": 9,
        }
    ]
    [problem] = diagnose("Fetch * 1", {"Fetch": Fetch})
    assert problem["message"] == "retry factor 1 is out of range 2..1000 at line 2, column 1"
    assert (problem["kind"], problem["from"], problem["to"]) == ("check", 0, 9)


def test_missing_inputs_are_left_to_the_run() -> None:
    def needs(amount: int) -> int:
        return amount

    assert diagnose("needs", {"needs": needs}) == []


class FakeComm:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.closed = False

    def send(self, data: Any) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


class FakeManager:
    def __init__(self) -> None:
        self.targets: dict[str, Any] = {}

    def register_target(self, name: str, callback: Any) -> None:
        self.targets[name] = callback

    def unregister_target(self, name: str, callback: Any) -> Any:
        return self.targets.pop(name)


class FakeShell:
    def __init__(self) -> None:
        self.kernel = type("Kernel", (), {"comm_manager": FakeManager()})()
        self.user_ns = {"Fetch": Fetch}


def test_the_target_answers_once_and_closes_then_unregisters() -> None:
    shell = FakeShell()
    target = DiagnosticsTarget(shell)
    opened = shell.kernel.comm_manager.targets[TARGET]
    comm = FakeComm()
    opened(comm, {"content": {"data": {"source": "Fetch -> Fetch"}}})
    assert comm.sent == [{"diagnostics": []}]
    assert comm.closed

    comm = FakeComm()
    opened(comm, {"content": {"data": {"source": 42}}})  # not a cell body: no answer
    assert comm.sent == []
    assert comm.closed

    target.close()
    assert shell.kernel.comm_manager.targets == {}
    target.close()  # twice is harmless


def test_without_a_kernel_nothing_is_registered() -> None:
    shell = type("Shell", (), {"user_ns": {}})()
    DiagnosticsTarget(shell).close()
