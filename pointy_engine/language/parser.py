"""Pointy grammar on PLY's LALR parser: text in, `ast.Pipeline` out.

The parse tables are built once, on first use, with no table files, no debug output and a null
error log. PLY keeps parse state on the parser object, so every call gets its own light
`LRParser` over the shared tables: parsing is safe from several threads at once. The LR loop is
iterative and lists are built in place, so long chains and wide fan-outs cost linear time and no
recursion.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import ply.yacc

from ..errors import PointySyntaxError
from . import ast
from .lexer import MAX_NESTING, TOKEN_DISPLAY, _NullLog, new_lexer, tokens

__all__ = ["MAX_NESTING", "parse", "tokens"]

start = "pipeline"


class _Stop(Exception):
    """Raised by `p_error` to leave PLY's loop; `parse` turns it into a `PointySyntaxError`."""

    def __init__(self, token: Any) -> None:
        self.token = token


def _end(node: Any) -> int:
    return node.span[1]


def _flow(steps: list[Any], links: list[ast.Link]) -> ast.Flow:
    return ast.Flow(tuple(steps), tuple(links), (steps[0].span[0], steps[-1].span[1]))


# Grammar rules. Intermediate lists are mutated in place: that keeps long inputs linear.


def p_pipeline(p: Any) -> None:
    """pipeline : directives flow"""
    flow = p[2]
    p[0] = ast.Pipeline(flow, tuple(p[1]), flow.span)


def p_directives(p: Any) -> None:
    """directives : directives DIRECTIVE
    | empty"""
    if len(p) == 2:
        p[0] = []
        return
    text: str = p[2]
    name, _, value = text.partition(":")
    offset = p.lexpos(2)
    p[1].append(
        ast.Directive(name[1:], value if ":" in text else None, (offset, offset + len(text)))
    )
    p[0] = p[1]


def p_empty(p: Any) -> None:
    """empty :"""


def p_flow_chain(p: Any) -> None:
    """flow : chain"""
    steps, links = p[1]
    p[0] = _flow(_close_groups(steps), links)


def p_flow_stray_arm(p: Any) -> None:
    """flow : chain THEN arm
    | chain PIPE arm"""
    steps, links = p[1]
    steps = _close_groups(steps)
    steps.append(p[3])
    links.append("then" if p[2] == "->" else "pipe")
    p[0] = _flow(steps, links)


def p_flow_arm(p: Any) -> None:
    """flow : arm"""
    p[0] = _flow([p[1]], [])


# `chain` collects units and the operators between them in one left-recursive list, two
# reductions per event; `||` binds tighter, so a unit after `||` joins the open parallel group
# (a plain list until `_close_groups` turns it into an `ast.Parallel`).


def p_chain_first(p: Any) -> None:
    """chain : unit"""
    p[0] = ([p.slice[1].value], [])


def p_chain_then(p: Any) -> None:
    """chain : chain THEN unit"""
    symbols = p.slice
    pair = symbols[1].value
    pair[0].append(symbols[3].value)
    pair[1].append("then")
    symbols[0].value = pair


def p_chain_pipe(p: Any) -> None:
    """chain : chain PIPE unit"""
    symbols = p.slice
    pair = symbols[1].value
    pair[0].append(symbols[3].value)
    pair[1].append("pipe")
    symbols[0].value = pair


def p_chain_par(p: Any) -> None:
    """chain : chain PAR unit"""
    symbols = p.slice
    pair = symbols[1].value
    steps = pair[0]
    last = steps[-1]
    if type(last) is list:
        last.append(symbols[3].value)
    else:
        steps[-1] = [last, symbols[3].value]
    symbols[0].value = pair


def _close_groups(steps: list[Any]) -> list[Any]:
    for index, step in enumerate(steps):
        if type(step) is list:
            steps[index] = ast.Parallel(tuple(step), (step[0].span[0], step[-1].span[1]))
    return steps


def p_unit_name(p: Any) -> None:
    """unit : NAME"""
    symbols = p.slice
    token = symbols[1]
    name: str = token.value
    offset: int = token.lexpos
    symbols[0].value = ast.EventRef(name, (offset, offset + len(name)))


def p_unit_compound(p: Any) -> None:
    """unit : compound"""
    p[0] = p[1]


def p_unit_retry(p: Any) -> None:
    """unit : NAME STAR NUMBER
    | compound STAR NUMBER"""
    target = _target(p, 1)
    p[0] = ast.Retry(target, int(p[3]), (target.span[0], p.lexpos(3) + len(p[3])))


def p_unit_prefix_retry(p: Any) -> None:
    """unit : NUMBER STAR NAME
    | NUMBER STAR compound"""
    target = _target(p, 3)
    p[0] = ast.Retry(target, int(p[1]), (p.lexpos(1), target.span[1]))


def p_unit_both_retries(p: Any) -> None:
    """unit : NUMBER STAR NAME STAR NUMBER
    | NUMBER STAR compound STAR NUMBER"""
    target = _target(p, 3)
    inner = ast.Retry(target, int(p[5]), (target.span[0], p.lexpos(5) + len(p[5])))
    p[0] = ast.Retry(inner, int(p[1]), (p.lexpos(1), inner.span[1]))


def _target(p: Any, index: int) -> Any:
    value = p[index]
    if isinstance(value, str):
        offset = p.lexpos(index)
        return ast.EventRef(value, (offset, offset + len(value)))
    return value


def p_compound_branches(p: Any) -> None:
    """compound : NAME parens"""
    name: str = p[1]
    offset = p.lexpos(1)
    target = ast.EventRef(name, (offset, offset + len(name)))
    p[0] = _branched(target, p[2])


def p_compound_group(p: Any) -> None:
    """compound : parens"""
    p[0] = _group(p[1])


def p_compound_group_branches(p: Any) -> None:
    """compound : parens parens"""
    p[0] = _branched(_group(p[1]), p[2])


def p_parens(p: Any) -> None:
    """parens : LPAREN items RPAREN
    | LPAREN items COMMA RPAREN"""
    # (items, start, end, source): everything `_group` and `_branched` need to judge the shape.
    end = p.lexpos(len(p) - 1) + 1
    p[0] = (p[2], p.lexpos(1), end, p.lexer.lexdata)


def p_items(p: Any) -> None:
    """items : items COMMA flow
    | flow"""
    if len(p) == 2:
        p[0] = [p[1]]
    else:
        p[1].append(p[3])
        p[0] = p[1]


def p_arm(p: Any) -> None:
    """arm : NUMBER THEN flow
    | NUMBER PIPE flow"""
    body = p[3]
    link: ast.Link = "then" if p[2] == "->" else "pipe"
    p[0] = ast.Arm(int(p[1]), link, body, (p.lexpos(1), _end(body)))


def p_error(token: Any) -> None:
    raise _Stop(token)


def _lone_arm(flow: ast.Flow) -> ast.Arm | None:
    if len(flow.steps) == 1 and isinstance(flow.steps[0], ast.Arm):
        return flow.steps[0]
    return None


def _group(parens: tuple[list[ast.Flow], int, int, str]) -> ast.Group:
    items, start, end, source = parens
    if len(items) > 1:
        if all(_lone_arm(item) for item in items):
            raise PointySyntaxError(
                "branch arms must directly follow an event or a group, as in 'A (0 -> B, 1 -> C)'",
                source,
                start,
            )
        second = items[1]
        raise PointySyntaxError(
            "',' separates branch arms, which must follow an event or a group",
            source,
            second.span[0],
        )
    return ast.Group(items[0], (start, end))


def _branched(target: ast.EventRef | ast.Group, parens: tuple[Any, int, int, str]) -> ast.Branched:
    items, _start, end, source = parens
    arms = []
    for item in items:
        arm = _lone_arm(item)
        if arm is None:
            raise PointySyntaxError(
                "a branch arm must start with a descriptor and an arrow, as in '0 -> B'",
                source,
                item.span[0],
            )
        arms.append(arm)
    return ast.Branched(target, tuple(arms), (target.span[0], end))


_tables: ply.yacc.LRTable | None = None
_error_func: Any = None
_build_lock = threading.Lock()


def _shared_tables() -> ply.yacc.LRTable:
    global _tables, _error_func
    if _tables is None:
        with _build_lock:
            if _tables is None:
                built = ply.yacc.yacc(
                    module=sys.modules[__name__],
                    start=start,
                    debug=False,
                    write_tables=False,
                    errorlog=_NullLog(),
                )
                _error_func = built.errorfunc
                _tables = built  # an LRParser; it exposes the table attributes LRParser needs
    return _tables


class _Tables:
    """Adapter giving `ply.yacc.LRParser` the attribute names it reads from a table object."""

    __slots__ = ("lr_action", "lr_goto", "lr_method", "lr_productions")

    def __init__(self, built: Any) -> None:
        self.lr_action = built.action
        self.lr_goto = built.goto
        self.lr_productions = built.productions
        self.lr_method = "LALR"


_table_view: _Tables | None = None


def _new_parser() -> ply.yacc.LRParser:
    global _table_view
    built = _shared_tables()
    if _table_view is None:
        _table_view = _Tables(built)
    return ply.yacc.LRParser(_table_view, _error_func)


# Tokens that LALR's merged look-aheads offer but that can only close a bracket.
_CLOSING = {"RPAREN", "COMMA"}
_EXPECTED_ORDER = (
    "NAME",
    "NUMBER",
    "THEN",
    "PIPE",
    "PAR",
    "STAR",
    "LPAREN",
    "COMMA",
    "RPAREN",
    "$end",
)


def parse(source: str) -> ast.Pipeline:
    """Parse Pointy text into its syntax tree, or raise `PointySyntaxError`.

    No other exception escapes for any `str` input, nothing is printed and no file is written.
    """
    if not isinstance(source, str):
        raise TypeError(f"parse() takes the pipeline text as str, not {type(source).__name__}")
    parser = _new_parser()
    lexer = new_lexer(source)
    try:
        return parser.parse(lexer=lexer)
    except _Stop as stop:
        raise _syntax_error(source, stop.token, parser, lexer.depth) from None
    except RecursionError:  # pragma: no cover - the loop is iterative; kept as a promise
        raise PointySyntaxError("pipeline nested too deeply", source, 0) from None


def _syntax_error(source: str, token: Any, parser: Any, depth: int) -> PointySyntaxError:
    state = parser.statestack[-1]
    acceptable = set(parser.action[state])
    # A defaulted reduction may have run before the error was noticed; its look-aheads are
    # then the ones of the state PLY shows us, which is what we report.
    if token is not None and token.type == "LPAREN":
        depth -= 1  # the lexer already counted the offending bracket
    if depth == 0:
        acceptable -= _CLOSING
    expected = [TOKEN_DISPLAY[name] for name in _EXPECTED_ORDER if name in acceptable]
    if token is None:
        if not source.strip() or _only_comments(source):
            end = len(source.rstrip())  # where the text stops, not below it
            return PointySyntaxError("empty pipeline", source, end, ("an event name",))
        return PointySyntaxError(
            "unexpected end of input", source, _after_last_token(source), expected
        )
    value = token.value
    width = len(value)
    if token.type == "NAME":
        problem = f"unexpected event name {value!r}"
    elif token.type == "NUMBER":
        problem = f"unexpected number {value}"
    elif token.type == "DIRECTIVE":
        problem = f"directive {value!r} must come before the flow"
        expected = []
    else:
        problem = f"unexpected {value!r}"
    return PointySyntaxError(problem, source, token.lexpos, expected, width)


def _after_last_token(source: str) -> int:
    """The offset just after the last token, so a caret points where the text stops."""
    lexer = new_lexer(source)
    end = len(source)
    for token in iter(lexer.token, None):
        end = token.lexpos + len(token.value)
    return end


def _only_comments(source: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in source.splitlines())
