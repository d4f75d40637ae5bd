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

// The tables as flat typed arrays, indexed by state and symbol number: the LR loop runs once per
// token and per reduction, so it reads numbers, not string-keyed objects.
const TERMINALS = [...new Set(Object.values(ACTIONS).flatMap(row => Object.keys(row)))];
const NONTERMINALS = [...new Set(PRODUCTIONS.map(([name]) => name))];
const TERMINAL: Record<string, number> = {};
TERMINALS.forEach((name, index) => (TERMINAL[name] = index));
const END = TERMINAL.$end;
const NAME = TERMINAL.NAME;
const STATES = Object.keys(ACTIONS).length;
const NO_ACTION = 0x7fffffff;
const ACTION = new Int32Array(STATES * TERMINALS.length).fill(NO_ACTION);
const GOTO = new Int32Array(STATES * NONTERMINALS.length).fill(-1);
// PLY reduces without reading a token in states whose only action is one reduction.
const DEFAULTED = new Int32Array(STATES);
for (const [state, row] of Object.entries(ACTIONS)) {
  const rules = Object.values(row);
  for (const [name, action] of Object.entries(row)) {
    ACTION[Number(state) * TERMINALS.length + TERMINAL[name]] = action;
  }
  if (rules.length === 1 && rules[0] < 0) {
    DEFAULTED[Number(state)] = rules[0];
  }
}
for (const [state, row] of Object.entries(GOTOS)) {
  for (const [name, next] of Object.entries(row)) {
    GOTO[Number(state) * NONTERMINALS.length + NONTERMINALS.indexOf(name)] = next;
  }
}
const LHS = PRODUCTIONS.map(([name]) => NONTERMINALS.indexOf(name));
const LENGTH = PRODUCTIONS.map(([, length]) => length);
const ACTION_OF = PRODUCTIONS.map(([, , action]) => action);

/** The parser's stacks: per symbol its value, its kind (terminal number, or -1 for a
 * nonterminal) and, for tokens, its offset (PLY's `p.lexpos`). */
interface Stack {
  values: Value[];
  kinds: number[];
  offsets: number[];
  base: number; // where the symbols of the production being reduced start
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

function eventAt(stack: Stack, index: number): ast.EventRef {
  const name = stack.values[index] as string;
  const offset = stack.offsets[index];
  return { kind: 'event', name, span: [offset, offset + name.length] };
}

/** A NAME token or a compound, as the retry rules take either. */
function targetOf(stack: Stack, index: number): ast.Unit {
  return stack.kinds[index] === NAME ? eventAt(stack, index) : (stack.values[index] as ast.Unit);
}

function retryOf(target: ast.Unit, factor: string, span: ast.Span): ast.Retry {
  return { kind: 'retry', target, factor: ast.integer(factor), span };
}

/** The value of the left-hand side of a reduction by the Python action `action`, whose
 * `length` symbols sit on `stack` from `stack.base`. */
function reduce(action: string, length: number, stack: Stack, source: string): Value {
  // No closures here: this runs once per reduction, and garbage is what slows a long cell.
  const { values, offsets, base } = stack;
  switch (action) {
    case 'p_pipeline': {
      const flow = values[base + 1] as ast.Flow;
      return { kind: 'pipeline', flow, directives: values[base] as ast.Directive[], span: flow.span };
    }
    case 'p_directives': {
      if (length === 1) {
        return [];
      }
      const text = values[base + 1] as string;
      const colon = text.indexOf(':');
      const name = colon === -1 ? text : text.slice(0, colon);
      const offset = offsets[base + 1];
      const list = values[base] as ast.Directive[];
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
      const chain = values[base] as Chain;
      return flowOf(closeGroups(chain.steps), chain.links);
    }
    case 'p_flow_stray_arm': {
      const chain = values[base] as Chain;
      const steps = closeGroups(chain.steps);
      steps.push(values[base + 2] as ast.Arm);
      chain.links.push(linkOf(values[base + 1] as string));
      return flowOf(steps, chain.links);
    }
    case 'p_flow_arm':
      return flowOf([values[base] as ast.Arm], []);
    case 'p_chain_first':
      return { steps: [values[base] as ast.Unit], links: [] };
    case 'p_chain_then':
    case 'p_chain_pipe': {
      const chain = values[base] as Chain;
      chain.steps.push(values[base + 2] as ast.Unit);
      chain.links.push(action === 'p_chain_then' ? 'then' : 'pipe');
      return chain;
    }
    case 'p_chain_par': {
      const chain = values[base] as Chain;
      const last = chain.steps[chain.steps.length - 1];
      if (Array.isArray(last)) {
        last.push(values[base + 2] as ast.Unit);
      } else {
        chain.steps[chain.steps.length - 1] = [last as ast.Unit, values[base + 2] as ast.Unit];
      }
      return chain;
    }
    case 'p_unit_name':
      return eventAt(stack, base);
    case 'p_unit_compound':
      return values[base];
    case 'p_unit_retry': {
      const target = targetOf(stack, base);
      const factor = values[base + 2] as string;
      return retryOf(target, factor, [target.span[0], offsets[base + 2] + factor.length]);
    }
    case 'p_unit_prefix_retry': {
      const target = targetOf(stack, base + 2);
      return retryOf(target, values[base] as string, [offsets[base], target.span[1]]);
    }
    case 'p_unit_both_retries': {
      const target = targetOf(stack, base + 2);
      const factor = values[base + 4] as string;
      const inner = retryOf(target, factor, [target.span[0], offsets[base + 4] + factor.length]);
      return retryOf(inner, values[base] as string, [offsets[base], inner.span[1]]);
    }
    case 'p_compound_branches':
      return branchedOf(eventAt(stack, base), values[base + 1] as Parens, source);
    case 'p_compound_group':
      return groupOf(values[base] as Parens, source);
    case 'p_compound_group_branches':
      return branchedOf(groupOf(values[base] as Parens, source), values[base + 1] as Parens, source);
    case 'p_parens':
      return { items: values[base + 1] as ast.Flow[], start: offsets[base], end: offsets[base + length - 1] + 1 };
    case 'p_items': {
      if (length === 1) {
        return [values[base] as ast.Flow];
      }
      const items = values[base] as ast.Flow[];
      items.push(values[base + 2] as ast.Flow);
      return items;
    }
    case 'p_arm': {
      const body = values[base + 2] as ast.Flow;
      return {
        kind: 'arm',
        descriptor: ast.integer(values[base] as string),
        link: linkOf(values[base + 1] as string),
        body,
        span: [offsets[base], body.span[1]]
      };
    }
  }
  throw new Error(`no reduction for ${action}`); // tables and parser out of step: a bug
}

/** Parse Pointy text into its syntax tree, or throw `PointySyntaxError`. */
export function parse(source: string): ast.Pipeline {
  const lexer = new Lexer(source);
  const states: number[] = [0];
  const stack: Stack = { values: [null], kinds: [END], offsets: [0], base: 0 };
  let top = 0; // index of the top symbol; the arrays may hold stale entries above it
  let kind = -1; // the look-ahead token's terminal number, -1 when none is read
  let token: LexToken | null = null;
  for (;;) {
    const state = states[top];
    let action = DEFAULTED[state];
    if (action === 0) {
      if (kind === -1) {
        token = lexer.next();
        kind = token === null ? END : TERMINAL[token.type];
      }
      action = ACTION[state * TERMINALS.length + kind];
    }
    if (action === NO_ACTION) {
      throw syntaxError(source, token, state, lexer.depth);
    }
    if (action > 0) {
      top += 1;
      states[top] = action;
      stack.values[top] = token === null ? null : token.value;
      stack.kinds[top] = kind;
      stack.offsets[top] = token === null ? source.length : token.pos;
      kind = -1;
    } else if (action < 0) {
      const production = -action;
      const length = LENGTH[production];
      stack.base = top - length + 1;
      const value = reduce(ACTION_OF[production], length, stack, source);
      top -= length;
      const next = GOTO[states[top] * NONTERMINALS.length + LHS[production]];
      top += 1;
      states[top] = next;
      stack.values[top] = value;
      stack.kinds[top] = -1;
      stack.offsets[top] = 0;
    } else {
      return stack.values[top] as ast.Pipeline;
    }
  }
}

function syntaxError(
  source: string,
  token: LexToken | null,
  state: number,
  depth: number
): PointySyntaxError {
  const acceptable = new Set(Object.keys(ACTIONS[state]));
  if (token !== null && token.type === 'LPAREN') {
    depth -= 1; // the lexer already counted the offending bracket
  }
  if (depth === 0) {
    CLOSING.forEach(name => acceptable.delete(name));
  }
  let expected = EXPECTED_ORDER.filter(name => acceptable.has(name)).map(name => TOKEN_DISPLAY[name]);
  if (token === null) {
    if (isBlank(source) || onlyComments(source)) {
      return new PointySyntaxError('empty pipeline', source, pyRstripLength(source), ['an event name']);
    }
    return new PointySyntaxError('unexpected end of input', source, afterLastToken(source), expected);
  }
  const value = token.value;
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
