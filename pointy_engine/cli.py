"""The `pointy` command: run or schedule a `.pty` flow outside a notebook, and read run history.

    pointy run FLOW.pty --events MODULE [--input NAME=VALUE ...]
    pointy schedule FLOW.pty --events MODULE (--every S | --cron EXPR | --at WHEN)
    pointy history [--limit N]

Exit codes follow the run's status: 0 succeeded, 1 failed, 2 usage, 130 cancelled.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import PointyError

EXIT = {"succeeded": 0, "failed": 1, "cancelled": 130, "skipped": 0}
USAGE = 2


class UsageProblem(Exception):
    """Bad arguments: reported as one line, exit code 2."""


# ----- what the arguments name ------------------------------------------------------------------


def load_events(spec: str) -> dict[str, Any]:
    """The namespace that defines the events: a module name, a `.py` file or a notebook."""
    path = Path(spec)
    if spec.endswith(".ipynb"):
        return _notebook_namespace(path)
    if spec.endswith(".py"):
        if not path.is_file():
            raise UsageProblem(f"--events: no file {spec!r}")
        import runpy

        return runpy.run_path(str(path), run_name=f"pointy_events_{path.stem}")
    if str(Path.cwd()) not in sys.path and "" not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` finds modules
    try:
        return vars(importlib.import_module(spec))
    except ModuleNotFoundError as error:
        if error.name and spec.split(".")[0] == error.name.split(".")[0]:
            raise UsageProblem(f"--events: no module {spec!r} importable from here") from None
        raise


def _notebook_namespace(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageProblem(f"--events: no notebook {str(path)!r}")
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (ValueError, KeyError) as error:
        raise UsageProblem(f"--events: {str(path)!r} is not a notebook ({error})") from None
    namespace: dict[str, Any] = {"__name__": f"pointy_events_{path.stem}"}
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell.get("source", ""))
        if source.lstrip().startswith("%%"):
            continue  # a cell magic (a %%pointy cell is a flow, not events)
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        exec(compile("\n".join(lines), f"{path}#cell{number}", "exec"), namespace)
    return namespace


def parse_inputs(pairs: Sequence[str]) -> dict[str, Any]:
    """`NAME=VALUE`: a Python literal (42, [1, 2], 'x') or else the text as it is."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        if not equals or not name.strip().isidentifier():
            raise UsageProblem(f"--input takes NAME=VALUE, not {pair!r}")
        try:
            inputs[name.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            inputs[name.strip()] = text
    return inputs


def flow_pipeline(flow: str, inputs: dict[str, Any]) -> Any:
    """A Pipeline class for a `.pty` file, with one field per given input."""
    from .fields import InputDataField
    from .pipeline import Pipeline

    path = Path(flow)
    if not path.is_file():
        raise UsageProblem(f"no flow file {flow!r}")
    name = "".join(part.capitalize() for part in path.stem.replace("-", "_").split("_")) or "Flow"
    body: dict[str, Any] = {name_: InputDataField() for name_ in inputs}
    body["Meta"] = type("Meta", (), {"file": str(path)})
    return type(name if name.isidentifier() else "Flow", (Pipeline,), body)


# ----- commands -----------------------------------------------------------------------------------


def _report(run: Any) -> None:
    line = f"{run.name} run {run.id}: {run.status}"
    for node, error in run.errors.items():
        line += f"\n  {node} failed: {error}"
    print(line, flush=True)


def command_run(args: argparse.Namespace) -> int:
    from .scheduling.history import RunHistory

    inputs = parse_inputs(args.input)
    pipeline = flow_pipeline(args.flow, inputs)
    events = load_events(args.events)
    history = RunHistory(args.history)
    try:
        pipeline(**inputs).plan(events)  # unknown events are usage errors, before running
        from .observers import run_observers

        run_observers.add(history.observe)
        try:
            result = pipeline(**inputs).start(events=events, tags={"trigger": "cli"})
        except KeyboardInterrupt:
            print("cancelled", file=sys.stderr)
            return 130
        finally:
            run_observers.remove(history.observe)
        _report(result)
        return EXIT[result.status]
    finally:
        history.close()


def command_schedule(args: argparse.Namespace) -> int:
    from .scheduling import Scheduler

    inputs = parse_inputs(args.input)
    pipeline = flow_pipeline(args.flow, inputs)
    events = load_events(args.events)
    pipeline(**inputs).plan(events)  # unknown events fail now, not at the first firing
    stop = threading.Event()
    finished: list[str] = []

    def ended(run: Any) -> None:
        def listener(record: Any) -> None:
            if not record.node and record.state in EXIT:
                _report(run)
                finished.append(record.state)
                if args.max_runs is not None and len(finished) >= args.max_runs:
                    stop.set()

        run.add_listener(listener)

    from .observers import run_observers

    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    scheduler = Scheduler(args.history, timezone=args.timezone)
    run_observers.add(ended)
    try:
        with scheduler:
            job = scheduler.schedule(
                pipeline, every=args.every, cron=args.cron, at=args.at, inputs=inputs,
                events=events,
            )  # fmt: skip
            print(f"scheduled {job.id} ({job.trigger}); next run {job.next_run_time}", flush=True)
            print("Ctrl-C or SIGTERM stops", flush=True)
            while not stop.wait(0.1):
                if job.next_run_time is None and not job.paused and scheduler.job(job.id).last_run:
                    break  # a one-off that has run
        return EXIT[finished[-1]] if finished and args.max_runs is not None else 0
    finally:
        run_observers.remove(ended)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def command_history(args: argparse.Namespace) -> int:
    from .scheduling.history import read_rows

    rows = read_rows(args.history or _default_path(), args.limit)
    if not rows:
        print("no runs yet")
        return 0
    from datetime import datetime

    print(f"{'started':19}  {'status':9}  {'trigger':8}  {'seconds':>8}  pipeline  run id")
    for run_id, pipeline, trigger, _job, started, ended, status, _nodes, error in rows:
        when = datetime.fromtimestamp(started).strftime("%Y-%m-%d %H:%M:%S")
        seconds = f"{ended - started:.3f}" if ended is not None else "-"
        line = f"{when}  {status:9}  {trigger:8}  {seconds:>8}  {pipeline}  {run_id}"
        print(line + (f"  ({error})" if error else ""))
    return 0


def _default_path() -> Path:
    from .scheduling.history import default_history_path

    return default_history_path()


# ----- argument parsing ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit code 2
        raise UsageProblem(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pointy", description="Run and schedule Pointy flows; read run history.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    history_help = "run history file (default: $POINTY_HISTORY or the user data dir)"

    def flow_command(name: str, text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("flow", help="the flow, a .pty file")
        command.add_argument(
            "--events", required=True,
            help="where the events are: a module importable from here, a .py file or a .ipynb",
        )  # fmt: skip
        command.add_argument(
            "--input", action="append", default=[], metavar="NAME=VALUE",
            help="an input (a Python literal, else text); repeat for more",
        )  # fmt: skip
        command.add_argument("--history", type=Path, help=history_help)
        return command

    flow_command("run", "run a flow once; the exit code follows its status")
    schedule = flow_command("schedule", "run a flow on a trigger, in the foreground")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--every", help="interval: seconds, or text like 30s, 10m, 1h30m")
    when.add_argument("--cron", help='five crontab fields, e.g. "*/5 * * * *"')
    when.add_argument("--at", help='one date and time, e.g. "2026-12-24 09:00"')
    schedule.add_argument("--timezone", help="IANA timezone of the trigger (default: local)")
    schedule.add_argument(
        "--max-runs", type=int, metavar="N", help="stop after N runs; exit with the last status"
    )
    history = commands.add_parser("history", help="list recent runs, newest first")
    history.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    history.add_argument("--history", type=Path, help=history_help)
    return parser


def _every(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "schedule":
            args.every = _every(args.every)
            if args.max_runs is not None and args.max_runs < 1:
                raise UsageProblem(f"--max-runs must be at least 1, not {args.max_runs}")
        if args.command == "history" and args.limit < 1:
            raise UsageProblem(f"--limit must be at least 1, not {args.limit}")
        handler = {"run": command_run, "schedule": command_schedule, "history": command_history}
        return handler[args.command](args)
    except UsageProblem as problem:
        print(f"pointy: error: {problem}", file=sys.stderr)
        return USAGE
    except PointyError as error:  # a bad flow, unknown events, a bad trigger: the user's input
        print(f"pointy: error: {error}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
