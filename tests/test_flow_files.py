"""Bad `.pty` files: missing, a folder, unreadable, not UTF-8, huge. Each is one `PointyError`
naming the pipeline and the file, raised before anything runs; the `pointy` command prints it as
one line and exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pointy_engine import Pipeline, PointyError
from pointy_engine import pipeline as pipeline_module


def _pipeline_reading(path: Path) -> type[Pipeline]:
    class Nightly(Pipeline):
        class Meta:
            file = str(path)

    return Nightly


def _problem(path: Path) -> str:
    ran = []
    with pytest.raises(PointyError) as caught:
        _pipeline_reading(path)().start(events={"A": lambda: ran.append("A")})
    assert ran == []  # nothing ran
    return str(caught.value)


def test_a_folder_is_not_a_flow_file(tmp_path: Path) -> None:
    assert _problem(tmp_path) == (
        f"Nightly (Nightly.Meta.file): the Pointy file {str(tmp_path)!r} is not a file"
    )


def test_a_flow_file_the_os_refuses_to_read(tmp_path: Path, monkeypatch) -> None:
    # As root (CI here) chmod 0 does not stop reading, so the refusal is made by the OS call.
    flow = tmp_path / "locked.pty"
    flow.write_text("A", encoding="utf-8")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert _problem(flow) == (
        f"Nightly (Nightly.Meta.file): the Pointy file {str(flow)!r} cannot be read: "
        "permission denied"
    )


def test_a_flow_file_that_is_not_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    flow = tmp_path / "latin1.pty"
    flow.write_bytes("A -> B\n# café\n".encode("latin-1"))
    assert _problem(flow) == (
        f"Nightly (Nightly.Meta.file): the Pointy file {str(flow)!r} is not UTF-8 text: "
        "byte 12 (line 2) is b'\\xe9'"
    )


def test_a_huge_flow_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pipeline_module, "MAX_FLOW_FILE_BYTES", 1_000)
    flow = tmp_path / "huge.pty"
    flow.write_text(" -> ".join(f"E{i}" for i in range(400)), encoding="utf-8")
    size = flow.stat().st_size
    assert _problem(flow) == (
        f"Nightly (Nightly.Meta.file): the Pointy file {str(flow)!r} is {size:,} bytes, "
        "over the 1,000-byte limit for a flow"
    )


def test_the_limit_leaves_room_for_a_100000_event_flow() -> None:
    flow = " -> ".join(f"Event{i}" for i in range(100_000))
    assert len(flow.encode()) < pipeline_module.MAX_FLOW_FILE_BYTES


def test_a_flow_file_beside_the_module_gets_the_same_checks(tmp_path: Path) -> None:
    (tmp_path / "Beside.pty").write_bytes(b"\xff")
    (tmp_path / "beside_module.py").write_text(
        "from pointy_engine import Pipeline\n\nclass Beside(Pipeline):\n    pass\n",
        encoding="utf-8",
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import beside_module

        with pytest.raises(PointyError) as caught:
            beside_module.Beside().start(events={})
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("beside_module", None)
    assert str(caught.value) == (
        f"Beside: the Pointy file {str(tmp_path / 'Beside.pty')!r} is not UTF-8 text: "
        "byte 0 (line 1) is b'\\xff'"
    )


def test_the_pointy_command_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    flow = tmp_path / "latin1.pty"
    flow.write_bytes(b"A -> \xe9")
    (tmp_path / "events.py").write_text("def A():\n    return 1\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pointy_engine.cli", "run", str(flow), "--events", "events"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"pointy: error: Latin1 (Latin1.Meta.file): the Pointy file {str(flow)!r} is not UTF-8 "
        "text: byte 5 (line 1) is b'\\xe9'"
    ]
