/**
 * The Pointy parser: PLY's LR loop over the Python parser's own LALR tables (tables.ts, generated
 * from pointy_engine/language/parser.py), with the same reductions. So the editor and the kernel
 * accept the same texts and word every syntax error the same way, at the same place.
 */

import * as ast from './ast';
import { PointySyntaxError } from './errors';
import { LexToken, Lexer, TOKEN_DISPLAY } from './lexer';
import { ACTIONS, GOTOS, PRODUCTIONS } from './tables';
import { onlyComments, isBlank, pyRepr, pyRstripLength } from './text';

// Values on the parser's stack, besides tokens (strings) and syntax nodes.
type OpenStep = ast.Step | ast.Unit[]; // a plain list is a parallel group still growing
interface Chain {
  steps: OpenStep[];
  links: ast.Link[];
}
interface Parens {
  items: ast.Flow[];
  start: number;
  end: number;
}
type Value =
  | string
  | ast.Directive[]
  | ast.Flow
  | ast.Flow[]
  | ast.Arm
  | ast.Unit
  | ast.Pipeline
  | Chain
  | Parens
  | null;

interface Symbol {
  type: string;
  value: Value;
  pos: number; // tokens only, as PLY's `p.lexpos`
}

// PLY reduces without reading a token in states whose only action is one reduction.
const DEFAULTED: Record<string, number> = {};
for (const [state, actions] of Object.entries(ACTIONS)) {
  const rules = Object.values(actions);
  if (rules.length === 1 && rules[0] < 0) {
    DEFAULTED[state] = rules[0];
  }
}

const CLOSING = new Set(['RPAREN', 'COMMA']);
const EXPECTED_ORDER = [
  'NAME',
  'NUMBER',
  'THEN',
  'PIPE',
  'PAR',
  'STAR',
  'LPAREN',
  'COMMA',
  'RPAREN',
  '$end'
];

function flowOf(steps: ast.Step[], links: ast.Link[]): ast.Flow {
  return { kind: 'flow', steps, links, span: [steps[0].span[0], steps[steps.length - 1].span[1]] };
}

function closeGroups(steps: OpenStep[]): ast.Step[] {
  return steps.map(step =>
    Array.isArray(step)
      ? { kind: 'parallel', members: step, span: [step[0].span[0], step[step.length - 1].span[1]] }
      : step
  );
}

function linkOf(operator: string): ast.Link {
  return operator === '->' ? 'then' : 'pipe';
}

function loneArm(flow: ast.Flow): ast.Arm | null {
  const only = flow.steps.length === 1 ? flow.steps[0] : null;
  return only !== null && only.kind === 'arm' ? only : null;
}

function groupOf(parens: Parens, source: string): ast.Group {
  const { items, start, end } = parens;
  if (items.length > 1) {
    if (items.every(item => loneArm(item) !== null)) {
      throw new PointySyntaxError(
        "branch arms must directly follow an event or a group, as in 'A (0 -> B, 1 -> C)'",
        source,
        start
      );
    }
    throw new PointySyntaxError(
      "',' separates branch arms, which must follow an event or a group",
      source,
      items[1].span[0]
    );
  }
  return { kind: 'group', body: items[0], span: [start, end] };
}

function branchedOf(target: ast.EventRef | ast.Group, parens: Parens, source: string): ast.Branched {
  const arms = parens.items.map(item => {
    const arm = loneArm(item);
    if (arm === null) {
      throw new PointySyntaxError(
        "a branch arm must start with a descriptor and an arrow, as in '0 -> B'",
        source,
        item.span[0]
      );
    }
    return arm;
  });
  return { kind: 'branched', target, arms, span: [target.span[0], parens.end] };
}

function eventAt(symbol: Symbol): ast.EventRef {
  const name = symbol.value as string;
  return { kind: 'event', name, span: [symbol.pos, symbol.pos + name.length] };
}

/** A NAME token or a compound, as the retry rules take either. */
function targetOf(symbol: Symbol): ast.Unit {
  return symbol.type === 'NAME' ? eventAt(symbol) : (symbol.value as ast.Unit);
}

function retryOf(target: ast.Unit, factor: string, span: ast.Span): ast.Retry {
  return { kind: 'retry', target, factor: ast.integer(factor), span };
}

/** The value of the left-hand side of a reduction of `rhs` by the Python action `action`. */
function reduce(action: string, rhs: Symbol[], source: string): Value {
  const v = (index: number): Value => rhs[index].value;
  switch (action) {
    case 'p_pipeline': {
      const flow = v(1) as ast.Flow;
      return { kind: 'pipeline', flow, directives: v(0) as ast.Directive[], span: flow.span };
    }
    case 'p_directives': {
      if (rhs.length === 1) {
        return [];
      }
      const text = v(1) as string;
      const colon = text.indexOf(':');
      const name = colon === -1 ? text : text.slice(0, colon);
      const offset = rhs[1].pos;
      const list = v(0) as ast.Directive[];
      list.push({
        kind: 'directive',
        name: name.slice(1),
        value: colon === -1 ? null : text.slice(colon + 1),
        span: [offset, offset + text.length]
      });
      return list;
    }
    case 'p_empty':
      return null;
    case 'p_flow_chain': {
      const chain = v(0) as Chain;
      return flowOf(closeGroups(chain.steps), chain.links);
    }
    case 'p_flow_stray_arm': {
      const chain = v(0) as Chain;
      const steps = closeGroups(chain.steps);
      steps.push(v(2) as ast.Arm);
      chain.links.push(linkOf(v(1) as string));
      return flowOf(steps, chain.links);
    }
    case 'p_flow_arm':
      return flowOf([v(0) as ast.Arm], []);
    case 'p_chain_first':
      return { steps: [v(0) as ast.Unit], links: [] };
    case 'p_chain_then':
    case 'p_chain_pipe': {
      const chain = v(0) as Chain;
      chain.steps.push(v(2) as ast.Unit);
      chain.links.push(action === 'p_chain_then' ? 'then' : 'pipe');
      return chain;
    }
    case 'p_chain_par': {
      const chain = v(0) as Chain;
      const last = chain.steps[chain.steps.length - 1];
      if (Array.isArray(last)) {
        last.push(v(2) as ast.Unit);
      } else {
        chain.steps[chain.steps.length - 1] = [last as ast.Unit, v(2) as ast.Unit];
      }
      return chain;
    }
    case 'p_unit_name':
      return eventAt(rhs[0]);
    case 'p_unit_compound':
      return v(0);
    case 'p_unit_retry': {
      const target = targetOf(rhs[0]);
      const factor = v(2) as string;
      return retryOf(target, factor, [target.span[0], rhs[2].pos + factor.length]);
    }
    case 'p_unit_prefix_retry': {
      const target = targetOf(rhs[2]);
      return retryOf(target, v(0) as string, [rhs[0].pos, target.span[1]]);
    }
    case 'p_unit_both_retries': {
      const target = targetOf(rhs[2]);
      const factor = v(4) as string;
      const inner = retryOf(target, factor, [target.span[0], rhs[4].pos + factor.length]);
      return retryOf(inner, v(0) as string, [rhs[0].pos, inner.span[1]]);
    }
    case 'p_compound_branches':
      return branchedOf(eventAt(rhs[0]), v(1) as Parens, source);
    case 'p_compound_group':
      return groupOf(v(0) as Parens, source);
    case 'p_compound_group_branches':
      return branchedOf(groupOf(v(0) as Parens, source), v(1) as Parens, source);
    case 'p_parens':
      return { items: v(1) as ast.Flow[], start: rhs[0].pos, end: rhs[rhs.length - 1].pos + 1 };
    case 'p_items': {
      if (rhs.length === 1) {
        return [v(0) as ast.Flow];
      }
      const items = v(0) as ast.Flow[];
      items.push(v(2) as ast.Flow);
      return items;
    }
    case 'p_arm': {
      const body = v(2) as ast.Flow;
      return {
        kind: 'arm',
        descriptor: ast.integer(v(0) as string),
        link: linkOf(v(1) as string),
        body,
        span: [rhs[0].pos, body.span[1]]
      };
    }
  }
  throw new Error(`no reduction for ${action}`); // tables and parser out of step: a bug
}

/** Parse Pointy text into its syntax tree, or throw `PointySyntaxError`. */
export function parse(source: string): ast.Pipeline {
  const lexer = new Lexer(source);
  const states: number[] = [0];
  const symbols: Symbol[] = [{ type: '$end', value: null, pos: 0 }];
  let lookahead: Symbol | null = null;
  for (;;) {
    const state = states[states.length - 1];
    let action: number | undefined = DEFAULTED[state];
    if (action === undefined) {
      if (lookahead === null) {
        const token: LexToken | null = lexer.next();
        lookahead = token === null
          ? { type: '$end', value: null, pos: source.length }
          : { type: token.type, value: token.value, pos: token.pos };
      }
      action = ACTIONS[state][lookahead.type];
    }
    if (action === undefined) {
      throw syntaxError(source, lookahead as Symbol, state, lexer.depth);
    }
    if (action > 0) {
      states.push(action);
      symbols.push(lookahead as Symbol);
      lookahead = null;
    } else if (action < 0) {
      const [name, length, func] = PRODUCTIONS[-action];
      const rhs = length > 0 ? symbols.splice(symbols.length - length, length) : [];
      states.length -= length;
      const value = reduce(func, rhs, source);
      symbols.push({ type: name, value, pos: 0 });
      states.push(GOTOS[states[states.length - 1]][name]);
    } else {
      return symbols[symbols.length - 1].value as ast.Pipeline;
    }
  }
}

function syntaxError(source: string, token: Symbol, state: number, depth: number): PointySyntaxError {
  const acceptable = new Set(Object.keys(ACTIONS[state]));
  if (token.type === 'LPAREN') {
    depth -= 1; // the lexer already counted the offending bracket
  }
  if (depth === 0) {
    CLOSING.forEach(name => acceptable.delete(name));
  }
  let expected = EXPECTED_ORDER.filter(name => acceptable.has(name)).map(name => TOKEN_DISPLAY[name]);
  if (token.type === '$end') {
    if (isBlank(source) || onlyComments(source)) {
      return new PointySyntaxError('empty pipeline', source, pyRstripLength(source), ['an event name']);
    }
    return new PointySyntaxError('unexpected end of input', source, afterLastToken(source), expected);
  }
  const value = token.value as string;
  let problem: string;
  if (token.type === 'NAME') {
    problem = `unexpected event name ${pyRepr(value)}`;
  } else if (token.type === 'NUMBER') {
    problem = `unexpected number ${value}`;
  } else if (token.type === 'DIRECTIVE') {
    problem = `directive ${pyRepr(value)} must come before the flow`;
    expected = [];
  } else {
    problem = `unexpected ${pyRepr(value)}`;
  }
  return new PointySyntaxError(problem, source, token.pos, expected, value.length);
}

/** The offset just after the last token, so the caret points where the text stops. */
function afterLastToken(source: string): number {
  const lexer = new Lexer(source);
  let end = source.length;
  for (let token = lexer.next(); token !== null; token = lexer.next()) {
    end = token.pos + token.value.length;
  }
  return end;
}
