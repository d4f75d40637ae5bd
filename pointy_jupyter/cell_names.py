"""Tracebacks that name notebook cells the way IPython does: `Cell In[4], line 3`.

An event defined in a notebook cell lives in a file the kernel made up for that cell
(`<tmp>/ipykernel_<pid>/<hash>.py`); the engine formats tracebacks with the standard library,
which prints that path. IPython's compiler knows which cell each such file holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_FRAME = re.compile(r'File "(?P<file>[^"\n]+)", line (?P<line>\d+)')


def cell_namer(compiler: Any) -> Callable[[str], str]:
    """A function that rewrites the frames of a traceback text whose file is a notebook cell
    (`compiler.format_code_name(file)` knows it, as IPython's `CachingCompiler` does)."""

    def swap(match: re.Match[str]) -> str:
        named = compiler.format_code_name(match["file"])
        if not named:
            return match[0]
        label, name = named
        return f"{label} {name}, line {match['line']}"

    def name_cells(text: str) -> str:
        return _FRAME.sub(swap, text)

    return name_cells
