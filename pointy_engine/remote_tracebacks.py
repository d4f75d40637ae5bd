"""Where an event's code really is, for tracebacks and errors that come back from a worker.

cloudpickle ships code by value with its file name replaced by `<dynamic-code>`, so a worker's
traceback says `File "<dynamic-code>", line 8, in process` and shows no source. The parent still
holds the real code objects: each such frame is matched by function name and line to one of
them, and gets back its file and, from `linecache` (which also knows notebook cells), its line.
"""

from __future__ import annotations

import linecache
import re
import types
from collections.abc import Iterator
from typing import Any

_DYNAMIC_FRAME = re.compile(
    r'^(?P<indent> *)File "<dynamic-code>", line (?P<line>\d+), in (?P<name>.+)$'
)


def event_functions(target: Any) -> Iterator[types.FunctionType]:
    """The functions an event is made of: its own, its class's methods (bases included), and
    the functions and classes its module-level helpers reach one step away."""
    seen: set[int] = set()
    stack: list[Any] = [getattr(target, "function", target)]
    depth = {id(stack[0]): 0}
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        level = depth.get(id(item), 0)
        if isinstance(item, type):
            for klass in item.__mro__:
                if klass.__module__ == "builtins":
                    continue
                for member in vars(klass).values():
                    member = getattr(member, "__func__", member)  # static/class methods
                    if isinstance(member, types.FunctionType):
                        depth.setdefault(id(member), level)
                        stack.append(member)
        elif isinstance(item, types.FunctionType):
            yield item
            if level >= 1:
                continue
            for name in item.__code__.co_names:
                helper = item.__globals__.get(name)
                if isinstance(helper, types.FunctionType | type) and id(helper) not in seen:
                    depth.setdefault(id(helper), level + 1)
                    stack.append(helper)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


def _locate(target: Any, name: str, line: int) -> str | None:
    """The file of the code object called `name` whose lines hold `line`."""
    for function in event_functions(target):
        for code in _code_objects(function.__code__):
            if code.co_name != name:
                continue
            lines = [number for _, _, number in code.co_lines() if number is not None]
            if lines and min(*lines, code.co_firstlineno) <= line <= max(lines):
                return code.co_filename
    return None


def restore_locations(text: str, target: Any) -> str:
    """`text` (a formatted traceback) with each `<dynamic-code>` frame given its real file and,
    when the source is known, the source line under it."""
    if "<dynamic-code>" not in text:
        return text
    out: list[str] = []
    for row in text.splitlines(keepends=True):
        match = _DYNAMIC_FRAME.match(row.rstrip("\n"))
        filename = match and _locate(target, match["name"], int(match["line"]))
        if not filename:
            out.append(row)
            continue
        number = int(match["line"])
        out.append(f'{match["indent"]}File "{filename}", line {number}, in {match["name"]}\n')
        source = linecache.getline(filename, number).strip()
        if source:
            out.append(f"{match['indent']}  {source}\n")
    return "".join(out)


def definition_site(target: Any) -> str | None:
    """`path, line N` of the function that is an event's body (`process` for a class)."""
    body = getattr(target, "function", None) or target
    if isinstance(body, type):
        body = getattr(body, "process", None)
    code = getattr(body, "__code__", None)
    if code is None:
        return None
    return f"{code.co_filename}, line {code.co_firstlineno}"
