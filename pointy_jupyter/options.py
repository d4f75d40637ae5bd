"""The options of a `%%pointy` cell, checked and resolved against the notebook namespace."""

from __future__ import annotations

import contextlib
import difflib
from argparse import Namespace
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import parse_argstring

if TYPE_CHECKING:
    from pointy_engine.pipeline import Pipeline

from .errors import PointyCellError

EXECUTORS = ("inline", "thread", "process", "dask")
Evaluator = Callable[[str], Any]  # evaluates an expression in the notebook namespace


@dataclass(frozen=True)
class CellOptions:
    """What the options line asks for, with inputs already evaluated in the notebook."""

    out: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    pipeline: type[Pipeline] | None = None
    executor: str | None = None
    max_workers: int | None = None
    background: bool = False
    plan_only: bool = False
    timeout: float | None = None
    widget: bool = True
    every: float | str | None = None  # --every / --cron / --at: register a job, run nothing now
    cron: str | None = None
    at: str | None = None
    cache: bool = False  # --cache: take unchanged steps from the notebook's .pointy-cache/


def parse_line(magic: Callable[..., Any], line: str, prog: str) -> Namespace:
    """argparse over the options line; its complaints become a short error naming `prog`."""
    try:
        return parse_argstring(magic, line)
    except UsageError as error:
        raise PointyCellError(f"{prog}: {error}") from None


def read_options(args: Namespace, namespace: Mapping[str, Any], evaluate: Evaluator) -> CellOptions:
    """Check the parsed options and evaluate the inputs (`evaluate` runs in the notebook)."""
    if args.out is not None and not args.out.isidentifier():
        raise PointyCellError(f"-o takes a Python name, not {args.out!r}")
    if args.max_workers is not None:
        if args.max_workers < 1:
            raise PointyCellError(
                f"--max-workers must be a whole number >= 1, not {args.max_workers}"
            )
        if args.executor not in ("thread", "process"):
            raise PointyCellError("--max-workers needs --executor thread or --executor process")
    if args.timeout is not None and not args.timeout > 0:
        raise PointyCellError(
            f"--timeout must be a positive number of seconds, not {args.timeout:g}"
        )
    if args.plan and (args.background or args.timeout is not None):
        raise PointyCellError("--plan runs nothing: leave out --background and --timeout")
    return CellOptions(
        out=args.out,
        inputs=_inputs(args.inputs, args.input, namespace, evaluate),
        pipeline=_pipeline(args.pipeline, namespace) if args.pipeline else None,
        executor=args.executor,
        max_workers=args.max_workers,
        background=args.background,
        plan_only=args.plan,
        timeout=args.timeout,
        widget=not args.no_widget,
        **_schedule(args),
        cache=getattr(args, "cache", False),
    )


def _inputs(
    dict_name: str | None, pairs: list[str], namespace: Mapping[str, Any], evaluate: Evaluator
) -> dict[str, Any]:
    """`--inputs DICT_VAR` first, then each `--input NAME=EXPR` on top."""
    inputs: dict[str, Any] = {}
    if dict_name is not None:
        if dict_name not in namespace:
            raise PointyCellError(f"--inputs: no variable {dict_name!r} in the notebook")
        given = namespace[dict_name]
        if not isinstance(given, Mapping):
            raise PointyCellError(
                f"--inputs: {dict_name!r} is {_a(type(given).__name__)}, not a dict"
            )
        bad = [key for key in given if not (isinstance(key, str) and key.isidentifier())]
        if bad:
            raise PointyCellError(f"--inputs: key {bad[0]!r} of {dict_name!r} is not a Python name")
        inputs.update(given)
    for pair in pairs:
        text = _unquote(pair)
        name, equals, expression = text.partition("=")
        name = name.strip()
        if not equals or not expression.strip():
            raise PointyCellError(f"--input takes NAME=EXPR, not {text!r}")
        if not name.isidentifier():
            raise PointyCellError(f"--input {text}: {name!r} is not a Python name")
        try:
            inputs[name] = evaluate(expression)
        except Exception as error:
            raise PointyCellError(f"--input {text}: {type(error).__name__}: {error}") from None
    return inputs


def _pipeline(name: str, namespace: Mapping[str, Any]) -> type[Pipeline]:
    from pointy_engine.pipeline import Pipeline  # at first use: loading is quick

    value = namespace.get(name)
    if isinstance(value, type) and issubclass(value, Pipeline):
        return value
    if name not in namespace:
        known = [
            key
            for key, item in namespace.items()
            if isinstance(item, type) and issubclass(item, Pipeline) and not key.startswith("_")
        ]
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = " (did you mean " + " or ".join(map(repr, close)) + "?)" if close else ""
        raise PointyCellError(f"--pipeline: no {name!r} in the notebook{hint}")
    raise PointyCellError(
        f"--pipeline: {name!r} is {_a(type(value).__name__)}, not a Pipeline subclass"
    )


def _schedule(args: Namespace) -> dict[str, Any]:
    """--every / --cron / --at, at most one, and not with options that run the cell now."""
    given = {
        name: _unquote(value)
        for name in ("every", "cron", "at")
        if (value := getattr(args, name, None)) is not None
    }
    if len(given) > 1:
        raise PointyCellError("give one of --every, --cron or --at, not " + " and ".join(given))
    if given and (args.background or args.plan or args.timeout is not None):
        raise PointyCellError(f"--{next(iter(given))} registers a job: leave out "
                              "--background, --plan and --timeout")  # fmt: skip
    if "every" in given:
        with contextlib.suppress(ValueError):
            given["every"] = float(given["every"])
    return given


def _unquote(text: str) -> str:
    """IPython keeps the quotes around an argument: `--input "xs=[1, 2]"`."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"
