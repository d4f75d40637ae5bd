/**
 * Reads one JSON string of Pointy text per line on stdin and writes, per line, the diagnostics
 * of the TypeScript parser as JSON, with offsets in code points as Python counts them.
 * tests/test_labextension_language.py compares this with pointy_engine's own answers.
 */

import { diagnose, pythonOffset } from '../src/language/diagnose';

// Node's own names, declared here so the check needs no @types package.
declare const require: (name: 'fs') => { readFileSync(fd: number, encoding: 'utf-8'): string };
declare const process: { stdout: { write(text: string): void } };
const { readFileSync } = require('fs');

const lines = readFileSync(0, 'utf-8').split('\n').filter(line => line.length > 0);
const out: string[] = [];
for (const line of lines) {
  const source = JSON.parse(line) as string;
  const found = diagnose(source).map(problem => ({
    kind: problem.kind,
    message: problem.message,
    line: problem.line,
    column: problem.column,
    start: pythonOffset(source, problem.from),
    end: pythonOffset(source, problem.to)
  }));
  out.push(JSON.stringify(found));
}
process.stdout.write(out.join('\n') + (out.length > 0 ? '\n' : ''));
