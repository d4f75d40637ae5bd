/**
 * A highlighting tokenizer for Pointy pipeline text. It mirrors the Python lexer's token rules
 * (pointy_engine/language/lexer.py) and names each token by the role a reader sees: a number
 * before `->` is an arm descriptor, a number beside `*` is a retry factor.
 */

export type TokenKind =
  | 'event'
  | 'operator'
  | 'arm'
  | 'retry'
  | 'number'
  | 'comment'
  | 'directive'
  | 'bracket'
  | 'punctuation'
  | 'invalid';

export interface Token {
  kind: TokenKind;
  from: number;
  to: number;
  text: string;
}

// One alternative per token, in the Python lexer's priority order.
const TOKEN_RE =
  /(#[^\n]*)|(\|->|->|\|\||\*)|([0-9]+)|([\p{L}_][\p{L}\p{N}_]*)|(@[\p{L}\p{N}_-]*(?::[\p{L}\p{N}_.-]*)?)|([()])|(,)|([ \t\r\n]+)|(.)/gsu;

/** The tokens of `text`, with offsets shifted by `base`. */
export function tokenize(text: string, base = 0): Token[] {
  const found: Token[] = [];
  TOKEN_RE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = TOKEN_RE.exec(text)) !== null) {
    const from = base + match.index;
    const value = match[0];
    const to = from + value.length;
    let kind: TokenKind | null = null;
    if (match[1] !== undefined) {
      kind = 'comment';
    } else if (match[2] !== undefined) {
      kind = 'operator';
    } else if (match[3] !== undefined) {
      kind = 'number';
    } else if (match[4] !== undefined) {
      kind = 'event';
    } else if (match[5] !== undefined) {
      kind = 'directive';
    } else if (match[6] !== undefined) {
      kind = 'bracket';
    } else if (match[7] !== undefined) {
      kind = 'punctuation';
    } else if (match[9] !== undefined) {
      kind = 'invalid';
    }
    if (kind !== null) {
      found.push({ kind, from, to, text: value });
    }
  }
  return classifyNumbers(found);
}

/** Numbers become arm descriptors (before `->`/`|->`) or retry factors (beside `*`). */
function classifyNumbers(found: Token[]): Token[] {
  const code = found.filter(token => token.kind !== 'comment');
  code.forEach((token, index) => {
    if (token.kind !== 'number') {
      return;
    }
    const next = code[index + 1];
    const previous = code[index - 1];
    if ((next && next.text === '*') || (previous && previous.text === '*')) {
      token.kind = 'retry';
    } else if (next && (next.text === '->' || next.text === '|->')) {
      token.kind = 'arm';
    }
  });
  return found;
}

/** The magic line's parts: `%%pointy` and its options, as offsets into the first line. */
export function magicLine(
  line: string
): { magic: [number, number]; options: [number, number] | null } | null {
  const match = /^(%%pointy)\b(\s*)(.*?)\s*$/.exec(line);
  if (match === null) {
    return null;
  }
  const magic: [number, number] = [0, match[1].length];
  if (match[3].length === 0) {
    return { magic, options: null };
  }
  const start = match[1].length + match[2].length;
  return { magic, options: [start, start + match[3].length] };
}

/** Whether an editor's text is a `%%pointy` cell. */
export function isPointyCell(text: string): boolean {
  return /^%%pointy(?![\p{L}\p{N}_])/u.test(text);
}
