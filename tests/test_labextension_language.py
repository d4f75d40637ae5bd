"""The lab extension's TypeScript parser agrees with pointy_engine on every fixture and fuzz case.

The TypeScript sources under labextension/src/language are compiled for Node
(labextension/tsconfig.test.json) and run over the same texts as the Python parser; syntax
errors and check problems must match in message, line, column and span. Needs Node and the
extension's node_modules (`scripts/labextension` installs them from the lock file).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pointy_engine.errors import PointyCheckError, PointySyntaxError
from pointy_engine.fuzzing import fuzz_inputs
from pointy_engine.language import check, parse

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "labextension"
FIXTURES = Path(__file__).parent / "fixtures"
TSC = EXT / "node_modules" / ".bin" / "tsc"
AGREE = EXT / "lib-test" / "test" / "agree.js"

VALID = [
    line
    for line in (FIXTURES / "valid_pipelines.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
INVALID = [
    json.loads(line)
    for line in (FIXTURES / "invalid_pipelines.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]
# Corners where JavaScript and Python see text differently: code points against UTF-16 units,
# Unicode word characters, repr() quoting, str.splitlines() boundaries, numbers past 2**53.
CORNERS = [
    "A -> 😀B",
    "😀 -> B",
    "Événement -> ð -> Ж ->",
    "A -> ²B",
    "A٣ -> ٣A",
    "A -> '",
    'A -> "',
    "A -> \\",
    "A -> '\"",
    "# c\x85A",
    "# c\u2028 # d",
    "A\x0b",
    "A -> \u200b",
    "A -> \ufeff",
    "A * 99999999999999999999",
    "A (000 -> B, 0 -> C)",
    "007 * A",
    "@recursive-depth:٣ A",
    "@recursive-depth:x A",
    "@recursive-depth: A",
    "@ A",
    "(" * 101 + "A" + ")" * 101,
    "(" * 100 + "A" + ")" * 100,
    "A\r\n-> B\r\n->",
    "A -> B,",
    "A || (0 -> B)",
    "(A, B)",
    "(0 -> A, 1 -> B)",
    "A (0 -> B) (1 -> C)",
    "A -> B\n\n   \t -> C D",
]


def python_diagnostics(source: str) -> list[dict[str, Any]]:
    """What the kernel says about `source`, shaped as the TypeScript driver prints it."""
    try:
        check(parse(source), source)
    except PointySyntaxError as error:
        return [
            {
                "kind": "syntax",
                "message": error.summary,
                "line": error.line,
                "column": error.column,
                "start": error.offset,
                "end": error.offset + error.width,
            }
        ]
    except PointyCheckError as error:
        return [
            {
                "kind": "check",
                "message": f"{message} at line {line}, column {column}",
                "line": line,
                "column": column,
                "start": problem.start,
                "end": problem.end,
            }
            for problem, (message, line, column) in zip(error.problems, error.located())
        ]
    return []


@pytest.fixture(scope="module")
def typescript_diagnostics() -> Any:
    """A function running the compiled TypeScript parser over many texts in one Node process."""
    node = shutil.which("node")
    assert node, "Node is needed to check the lab extension's parser (apt-get install nodejs)"
    assert TSC.exists(), f"{TSC} is missing: run scripts/labextension (npm ci) first"
    subprocess.run(
        [str(TSC), "-p", str(EXT / "tsconfig.test.json")],
        cwd=EXT,
        check=True,
        capture_output=True,
        timeout=120,
    )

    def run(sources: list[str]) -> list[list[dict[str, Any]]]:
        stdin = "".join(json.dumps(source) + "\n" for source in sources)
        done = subprocess.run(
            [node, str(AGREE)], input=stdin, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    return run


def disagreements(sources: list[str], answers: list[list[dict[str, Any]]]) -> list[str]:
    assert len(answers) == len(sources)
    return [
        f"{source!r}: Python {python_diagnostics(source)} TypeScript {answer}"
        for source, answer in zip(sources, answers)
        if answer != python_diagnostics(source)
    ]


def test_valid_fixtures_parse_clean_in_typescript(typescript_diagnostics: Any) -> None:
    answers = typescript_diagnostics(VALID)
    assert answers == [[] for _ in VALID]


def test_invalid_fixtures_get_the_kernels_message_line_and_column(
    typescript_diagnostics: Any,
) -> None:
    sources = [case["source"] for case in INVALID]
    answers = typescript_diagnostics(sources)
    assert disagreements(sources, answers) == []
    for case, answer in zip(INVALID, answers):
        first = answer[0]
        assert (first["kind"], first["line"], first["column"]) == (
            case["error"],
            case["line"],
            case["column"],
        ), case["source"]
        assert first["message"].startswith(case["message"].split(" at line ")[0])


def test_corner_cases_agree(typescript_diagnostics: Any) -> None:
    answers = typescript_diagnostics(CORNERS)
    assert disagreements(CORNERS, answers) == []
    assert all(answers[:3]), "the first corners are mistakes; both sides must say so"


def test_fuzzed_inputs_agree(typescript_diagnostics: Any) -> None:
    sources = list(fuzz_inputs(seed=12, count=4000, valid=VALID))
    answers = typescript_diagnostics(sources)
    assert disagreements(sources, answers)[:5] == []
    # The corpus exercises all three outcomes, so agreement is not agreement on one kind only.
    kinds = {answer[0]["kind"] if answer else "ok" for answer in answers}
    assert kinds == {"ok", "syntax", "check"}


def test_the_committed_tables_are_the_python_parsers() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "grammar_tables", EXT / "tools" / "grammar_tables.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (EXT / "src" / "language" / "tables.ts").read_text(encoding="utf-8")
    assert committed == module.render(), "run labextension/tools/grammar_tables.py"
