"""Safe defaults: no eval/exec outside the allowed places; loading a flow never runs its text."""

from __future__ import annotations

import re
from pathlib import Path

from pointy_engine import Pipeline

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pointy_engine", "pointy_jupyter")
CALL = re.compile(r"(?<![\w.])(eval|exec)\(|\.ev\b|\.ex\b|run_cell\(")

# Every place allowed to evaluate text, and why. Anything else is a failure of this test.
ALLOWED = {
    "pointy_engine/cli.py": "`pointy run --events X.ipynb`: the user's own cells define events",
    "pointy_jupyter/magics.py": "--input expressions, evaluated by IPython in the notebook",
}


def evaluating_lines() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#", 1)[0]
                if CALL.search(code):
                    found.setdefault(str(path.relative_to(ROOT)), []).append(f"{number}: {line}")
    return found


def test_nothing_in_the_packages_evaluates_text_except_the_allowed_places():
    found = evaluating_lines()
    assert set(found) == set(ALLOWED), found
    assert {path: len(lines) for path, lines in found.items()} == dict.fromkeys(ALLOWED, 1)


def test_the_scan_sees_an_eval_when_there_is_one():
    assert CALL.search("value = eval(text)")
    assert CALL.search("shell.ev(expression)")
    assert CALL.search("read(line, self.shell.ev)")
    assert not CALL.search("evaluate(expression)")
    assert not CALL.search("self.retrieval(x)")


def test_loading_a_pty_file_never_runs_its_text(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    flow = tmp_path / "Flow.pty"
    payload = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    flow.write_text(f"# {payload}\nA -> B\n", encoding="utf-8")

    class FromFile(Pipeline):
        class Meta:
            file = str(flow)

    graph = FromFile.graph()
    assert [node.name for node in graph.nodes] == ["A", "B"]
    assert not marker.exists()
