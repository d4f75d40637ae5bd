"""The Pointy language: lexer and parser (PLY), syntax tree, checks and canonical text."""

from .check import check, check_names, event_refs
from .parser import parse
from .unparse import unparse

__all__ = ["check", "check_names", "event_refs", "parse", "unparse"]
