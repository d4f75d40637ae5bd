/** The Pointy syntax tree, shaped as pointy_engine/language/ast.py; spans are UTF-16 offsets. */

export type Span = [number, number];
export type Link = 'then' | 'pipe';

export interface EventRef {
  kind: 'event';
  name: string;
  span: Span;
}
export interface Group {
  kind: 'group';
  body: Flow;
  span: Span;
}
export interface Arm {
  kind: 'arm';
  /** The descriptor as Python's `int()` would print it (digits without leading zeros). */
  descriptor: string;
  link: Link;
  body: Flow;
  span: Span;
}
export interface Branched {
  kind: 'branched';
  target: EventRef | Group;
  arms: Arm[];
  span: Span;
}
export interface Retry {
  kind: 'retry';
  target: Unit;
  factor: string;
  span: Span;
}
export interface Parallel {
  kind: 'parallel';
  members: Unit[];
  span: Span;
}
export interface Flow {
  kind: 'flow';
  steps: Step[];
  links: Link[];
  span: Span;
}
export interface Directive {
  kind: 'directive';
  name: string;
  value: string | null;
  span: Span;
}
export interface Pipeline {
  kind: 'pipeline';
  flow: Flow;
  directives: Directive[];
  span: Span;
}

export type Unit = EventRef | Group | Branched | Retry;
export type Step = Unit | Parallel | Arm;

/** Python's `int(digits)` printed back: no leading zeros. */
export function integer(digits: string): string {
  return digits.replace(/^0+(?=.)/, '');
}

/** Compare two integers written as digit strings without leading zeros. */
export function compareIntegers(left: string, right: string): number {
  if (left.length !== right.length) {
    return left.length - right.length;
  }
  return left < right ? -1 : left > right ? 1 : 0;
}
