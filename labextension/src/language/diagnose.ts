/**
 * Diagnostics of Pointy text without a kernel: the syntax error or the check problems the
 * kernel would report, each with its message, line and column as the kernel words them.
 */

import { check } from './check';
import { located, PointySyntaxError, syntaxProblem } from './errors';
import { parse } from './parser';
import { codePoints, lineAndColumn } from './text';

/** One problem: `from`/`to` are UTF-16 offsets into the text checked. */
export interface Diagnostic {
  kind: 'syntax' | 'check' | 'name';
  message: string;
  line: number;
  column: number;
  from: number;
  to: number;
}

/**
 * The problems of `source`. `firstLine` is the line number of its first line where it sits
 * (2 in a `%%pointy` cell, below the magic line). Names are not checked: that needs the kernel.
 */
export function diagnose(source: string, firstLine = 1): Diagnostic[] {
  const at = (offset: number): [number, number] => {
    const [line, column] = lineAndColumn(source, offset);
    return [line + firstLine - 1, column];
  };
  let tree;
  try {
    tree = parse(source);
  } catch (error) {
    if (!(error instanceof PointySyntaxError)) {
      throw error;
    }
    const [line, column] = at(error.offset);
    return [
      {
        kind: 'syntax',
        message: syntaxProblem(error) + located(source, error.offset, firstLine),
        line,
        column,
        from: error.offset,
        to: error.offset + error.width
      }
    ];
  }
  return check(tree).map(problem => {
    const [line, column] = at(problem.start);
    return {
      kind: 'check',
      message: problem.message + located(source, problem.start, firstLine),
      line,
      column,
      from: problem.start,
      to: problem.end
    };
  });
}

/** A UTF-16 offset as Python counts it (code points), for comparing with the kernel. */
export function pythonOffset(source: string, offset: number): number {
  return codePoints(source, offset);
}
