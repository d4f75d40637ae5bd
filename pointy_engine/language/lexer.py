"""Pointy tokens, on PLY's lexer.

The master lexer is built once, on first use, without writing or printing anything; each parse
works on its own clone, so lexing is safe from several threads at once.
"""

from __future__ import annotations

import threading

import ply.lex

from ..errors import PointySyntaxError

tokens = (
    "NAME",
    "NUMBER",
    "THEN",
    "PIPE",
    "PAR",
    "STAR",
    "COMMA",
    "LPAREN",
    "RPAREN",
    "DIRECTIVE",
)

# How each token is named in error messages.
TOKEN_DISPLAY = {
    "NAME": "an event name",
    "NUMBER": "a number",
    "THEN": "'->'",
    "PIPE": "'|->'",
    "PAR": "'||'",
    "STAR": "'*'",
    "COMMA": "','",
    "LPAREN": "'('",
    "RPAREN": "')'",
    "DIRECTIVE": "a directive",
    "$end": "end of input",
}

# PLY compiles these with re.VERBOSE, hence the escaped '#'.
t_ignore = " \t\r\n"
t_ignore_COMMENT = r"\#[^\n]*"
t_PIPE = r"\|->"
t_THEN = r"->"
t_PAR = r"\|\|"
t_STAR = r"\*"
t_COMMA = r","
t_NUMBER = r"[0-9]+"
t_NAME = r"[^\W\d]\w*"
t_DIRECTIVE = r"@[\w-]*(?::[\w.-]*)?"


MAX_NESTING = 100
"""Deepest parenthesis nesting accepted, so later passes may walk the tree recursively."""


def t_LPAREN(token: ply.lex.LexToken) -> ply.lex.LexToken:
    r"\("
    lexer = token.lexer
    lexer.depth += 1
    if lexer.depth > MAX_NESTING:
        raise PointySyntaxError(
            f"parentheses nested deeper than {MAX_NESTING} levels", lexer.lexdata, token.lexpos
        )
    return token


def t_RPAREN(token: ply.lex.LexToken) -> ply.lex.LexToken:
    r"\)"
    token.lexer.depth -= 1
    return token


def t_error(token: ply.lex.LexToken) -> None:
    char = token.value[0]
    problem = (
        f"unexpected character {char!r}"
        if char.isprintable()
        else f"unexpected character {char!r} (U+{ord(char):04X})"
    )
    raise PointySyntaxError(problem, token.lexer.lexdata, token.lexpos)


class _NullLog:
    """Swallows PLY's build messages: building the lexer must print nothing."""

    def _ignore(self, *args: object, **kwargs: object) -> None:
        pass

    debug = info = warning = error = critical = _ignore


_master: ply.lex.Lexer | None = None
_master_lock = threading.Lock()


def new_lexer(source: str) -> ply.lex.Lexer:
    """A fresh lexer over `source`. Its `depth` attribute is the current bracket depth."""
    global _master
    if _master is None:
        with _master_lock:
            if _master is None:
                import sys

                _master = ply.lex.lex(
                    module=sys.modules[__name__], optimize=False, errorlog=_NullLog()
                )
    lexer = _master.clone()
    lexer.input(source)
    lexer.depth = 0
    return lexer
