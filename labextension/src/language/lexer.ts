/**
 * Pointy tokens, as pointy_engine/language/lexer.py makes them: the same token rules (Python's
 * Unicode `\w` and `\d`), the same ignored characters, the same errors for any other character
 * and for brackets nested deeper than `MAX_NESTING`.
 */

import { PointySyntaxError } from './errors';
import { isPrintable, pyRepr } from './text';

export type TokenType =
  | 'NAME'
  | 'NUMBER'
  | 'THEN'
  | 'PIPE'
  | 'PAR'
  | 'STAR'
  | 'COMMA'
  | 'LPAREN'
  | 'RPAREN'
  | 'DIRECTIVE';

/** One token; `pos` is its UTF-16 offset in the source. */
export interface LexToken {
  type: TokenType;
  value: string;
  pos: number;
}

export const MAX_NESTING = 100;

/** How each token is named in error messages. */
export const TOKEN_DISPLAY: Record<string, string> = {
  NAME: 'an event name',
  NUMBER: 'a number',
  THEN: "'->'",
  PIPE: "'|->'",
  PAR: "'||'",
  STAR: "'*'",
  COMMA: "','",
  LPAREN: "'('",
  RPAREN: "')'",
  DIRECTIVE: 'a directive',
  $end: 'end of input'
};

// Python's `\w` is a letter, any kind of number, or `_`; `[^\W\d]` leaves out decimal digits.
// One sticky pattern, one group per rule in PLY's order (the rules never compete for a
// character, so the order only keeps the reading simple); group 1 is the ignored comment.
const WORD = '\\p{L}\\p{N}_';
const TOKEN = new RegExp(
  [
    '(#[^\\n]*)',
    `(@[${WORD}-]*(?::[${WORD}.-]*)?)`,
    `([\\p{L}\\p{Nl}\\p{No}_][${WORD}]*)`,
    '([0-9]+)',
    '(\\|->)',
    '(\\|\\|)',
    '(->)',
    '(\\*)',
    '(,)',
    '(\\()',
    '(\\))'
  ].join('|'),
  'uy'
);
const GROUP_TYPES: (TokenType | null)[] = [
  null,
  null,
  'DIRECTIVE',
  'NAME',
  'NUMBER',
  'PIPE',
  'PAR',
  'THEN',
  'STAR',
  'COMMA',
  'LPAREN',
  'RPAREN'
];
const IGNORED = ' \t\r\n';

export class Lexer {
  /** The bracket depth after the last token read. */
  depth = 0;
  private position = 0;

  constructor(readonly source: string) {}

  /** The next token, or null at the end; throws `PointySyntaxError` on a foreign character. */
  next(): LexToken | null {
    const source = this.source;
    while (this.position < source.length) {
      if (IGNORED.includes(source[this.position])) {
        this.position += 1;
        continue;
      }
      const token = this.match();
      if (token !== undefined) {
        if (token !== null) {
          return token;
        }
        continue;
      }
      const char = String.fromCodePoint(source.codePointAt(this.position) ?? 0);
      const code = (char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
      const problem = isPrintable(char)
        ? `unexpected character ${pyRepr(char)}`
        : `unexpected character ${pyRepr(char)} (U+${code})`;
      throw new PointySyntaxError(problem, source, this.position);
    }
    return null;
  }

  /** A token (null for a comment) at the current position, or undefined when no rule matches. */
  private match(): LexToken | null | undefined {
    TOKEN.lastIndex = this.position;
    const found = TOKEN.exec(this.source);
    if (found === null) {
      return undefined;
    }
    const pos = this.position;
    const value = found[0];
    this.position += value.length;
    if (found[1] !== undefined) {
      return null; // a comment
    }
    let group = 2;
    while (found[group] === undefined) {
      group += 1;
    }
    const type = GROUP_TYPES[group] as TokenType;
    if (type === 'LPAREN') {
      this.depth += 1;
      if (this.depth > MAX_NESTING) {
        throw new PointySyntaxError(
          `parentheses nested deeper than ${MAX_NESTING} levels`,
          this.source,
          pos
        );
      }
    } else if (type === 'RPAREN') {
      this.depth -= 1;
    }
    return { type, value, pos };
  }
}
