"""Baseline numbers from the original ``event_pipeline`` 2.0.0, measured in the same run as Pointy.

The library lives in its own venv (``benchmarks/.cache/event_pipeline-2.0.0/``) and every
case runs in a fresh ``_ep_probe.py`` subprocess there, so it never shares an interpreter
with Pointy, each case starts from clean caches/registries, and a hang or crash costs one case.

What is timed in the original library (``time.perf_counter`` around it, median of repeats):

* ``measure_parse``: ``event_pipeline.task.PipelineTask.build_pipeline_from_execution_code(code)``,
  the function ``Pipeline``'s metaclass calls for ``Meta.pointy``. It is one step covering
  ``event_pipeline.parser.pointy_parser`` (PLY lex + LALR parse into its AST; the parser tables
  are built at import, outside the timing), ``PipelineTask._parse_ast`` (AST -> PipelineTask
  tree) and ``get_root()``. Both of the latter recurse once per event, hence RecursionError
  near 1,000 events at the default recursion limit, which is recorded, not raised.
* ``measure_engine``: ``BenchPipeline()`` + ``.start()`` on a pipeline class whose
  ``Meta.pointy`` was parsed beforehand (class creation is not timed), with the default
  (inline) executor and logging muted. Event-name resolution is ``lru_cache``d by the library,
  so only the first repeat pays for it. Note the library runs the head of a fan
  ``E0 || E1 || ...`` as its own step and the rest as one parallel group.

Each result is the probe's JSON: ``ok``, ``median_s_per_event``, ``median_s``, ``samples_s``
and, on failure, ``error = {"type", "message"}`` (``type`` is ``"timeout"`` for a case that
exceeded its time budget). Engine results also carry ``process_calls``/``expected_calls``;
a run where they differ is reported as an ``IncompleteRun`` error, never as a timing.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
PROBE = HERE / "_ep_probe.py"
ENV_DIR = HERE / ".cache" / "event_pipeline-2.0.0"
REQUIREMENTS = ("event-pipeline==2.0.0", "cloudpickle")  # the library imports cloudpickle
MARKER = "@@EP_PROBE_RESULT@@"  # keep in sync with _ep_probe.py
DEFAULT_TIMEOUT_S = 120.0

Result = dict[str, Any]


def _env_python() -> pathlib.Path:
    return ENV_DIR / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _run_quiet(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def ensure_env() -> pathlib.Path:
    """Create the baseline venv on first use and return its python; later calls reuse it."""
    python = _env_python()
    stamp = ENV_DIR / ".installed"
    wanted = "\n".join(REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    # --clear so a half-built env from an interrupted earlier attempt is rebuilt from scratch.
    _run_quiet([sys.executable, "-m", "venv", "--clear", str(ENV_DIR)], "creating venv")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    _run_quiet([*pip, *REQUIREMENTS], "pip install " + " ".join(REQUIREMENTS))
    _run_quiet([str(python), "-c", "import event_pipeline"], "importing event_pipeline")
    stamp.write_text(wanted)
    return python


def _probe(task: dict[str, Any], timeout: float) -> Result:
    cmd = [str(ensure_env()), str(PROBE), json.dumps(task)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {**task, "ok": False, "error": {"type": "timeout", "message": f">{timeout:g} s"}}
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = "\n".join(proc.stderr.splitlines()[-5:])
    message = f"exit {proc.returncode}: {tail}"
    return {**task, "ok": False, "error": {"type": "ProbeCrashed", "message": message}}


def measure_parse(
    sizes: tuple[int, ...] = (100, 1000, 10000, 100000),
    shapes: tuple[str, ...] = ("chain", "fan"),
    repeats: int = 5,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[tuple[str, int], Result]:
    """Time the original parser on ``E0 -> ... -> En-1`` (chain) / ``E0 || ...`` (fan)."""
    return {
        (shape, size): _probe(
            {"kind": "parse", "shape": shape, "size": size, "repeats": repeats}, timeout
        )
        for shape in shapes
        for size in sizes
    }


def measure_engine(
    cases: tuple[tuple[str, int], ...] = (("chain", 20), ("chain", 200), ("fan", 10), ("fan", 100)),
    repeats: int = 5,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> dict[tuple[str, int], Result]:
    """Time a start-to-finish run of N trivial events (``process`` returns ``(True, None)``)."""
    return {
        (shape, size): _probe(
            {"kind": "engine", "shape": shape, "size": size, "repeats": repeats}, timeout
        )
        for shape, size in cases
    }


def format_table(title: str, results: dict[tuple[str, int], Result]) -> str:
    lines = [title, f"{'shape':<6} {'events':>7} {'us/event':>10}  detail"]
    for (shape, size), res in results.items():
        if res["ok"]:
            per_event = f"{res['median_s_per_event'] * 1e6:10.2f}"
            if "process_calls" in res:
                detail = f"process() calls {res['process_calls']}/{res['expected_calls']}"
            else:
                detail = f"tree nodes {res['nodes']}"
        else:
            per_event = f"{'-':>10}"
            detail = f"{res['error']['type']}: {res['error']['message']}"
        lines.append(f"{shape:<6} {size:>7} {per_event}  {detail}")
    return "\n".join(lines)


def main() -> None:
    print(f"baseline env: {ensure_env()}")
    print(format_table("\nevent_pipeline 2.0.0 - parse (median per event)", measure_parse()))
    print(format_table("\nevent_pipeline 2.0.0 - engine (median per event)", measure_engine()))


if __name__ == "__main__":
    main()
