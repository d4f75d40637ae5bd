"""`%%pointy?` as plain text: IPython writes its usage as an RST code block (a `::` line)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def plain_help(magic: F) -> F:
    """Drop the RST `::` line IPython puts above a magic's usage; apply above `magic_arguments`."""
    if magic.__doc__:
        magic.__doc__ = magic.__doc__.replace("::\n\n  %", "%", 1)
    return magic
