/** What goes wrong in Pointy text, located as pointy_engine/errors.py locates it. */

import { lineAndColumn } from './text';

/** A syntax error: the problem, what the grammar would have taken, where (UTF-16 offsets). */
export class PointySyntaxError extends Error {
  constructor(
    readonly problem: string,
    readonly source: string,
    readonly offset: number,
    readonly expected: string[] = [],
    readonly width = 1
  ) {
    super(problem);
  }
}

/** One problem of a text that parses, at [start, end) (UTF-16 offsets). */
export interface Problem {
  message: string;
  start: number;
  end: number;
}

function oneOf(options: string[]): string {
  return options.length === 1
    ? options[0]
    : options.slice(0, -1).join(', ') + ' or ' + options[options.length - 1];
}

/** Python's `PointySyntaxError.summary` without its location. */
export function syntaxProblem(error: PointySyntaxError): string {
  return error.expected.length > 0
    ? `${error.problem}; expected ${oneOf(error.expected)}`
    : error.problem;
}

/** ` at line L, column C` with lines counted from `firstLine`. */
export function located(source: string, offset: number, firstLine = 1): string {
  const [line, column] = lineAndColumn(source, offset);
  return ` at line ${line + firstLine - 1}, column ${column}`;
}
