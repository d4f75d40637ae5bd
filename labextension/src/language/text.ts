/**
 * Python's view of text, so messages read exactly as the kernel's: `repr()` of a string,
 * `str.isprintable`, `str.strip` and `str.splitlines`, and positions counted in code points
 * (CodeMirror and JavaScript count UTF-16 units; Python counts characters).
 */

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

// Python's str.strip() whitespace and str.splitlines() boundaries.
const WHITESPACE = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004' +
  '\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

export function isPrintable(char: string): boolean {
  return char === ' ' || !NOT_PRINTABLE.test(char);
}

function escaped(char: string, quote: string): string {
  if (char === '\\' || char === quote) {
    return '\\' + char;
  }
  const named: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };
  if (named[char] !== undefined) {
    return named[char];
  }
  if (isPrintable(char)) {
    return char;
  }
  const code = char.codePointAt(0) ?? 0;
  const hex = code.toString(16);
  if (code < 0x100) {
    return '\\x' + hex.padStart(2, '0');
  }
  if (code < 0x10000) {
    return '\\u' + hex.padStart(4, '0');
  }
  return '\\U' + hex.padStart(8, '0');
}

/** Python's `repr(text)` for a str. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  return quote + Array.from(text, char => escaped(char, quote)).join('') + quote;
}

export function isBlank(text: string): boolean {
  return Array.from(text).every(char => WHITESPACE.includes(char));
}

export function pyRstripLength(text: string): number {
  let end = text.length;
  while (end > 0 && WHITESPACE.includes(text[end - 1])) {
    end -= 1;
  }
  return end;
}

/** Python's `all(not l.strip() or l.lstrip().startswith('#') for l in text.splitlines())`. */
export function onlyComments(text: string): boolean {
  return text
    .split(LINE_BREAK)
    .every(line => isBlank(line) || Array.from(line).find(c => !WHITESPACE.includes(c)) === '#');
}

/** Code points in `text` between UTF-16 offsets `from` and `offset`. */
export function codePoints(text: string, offset: number, from = 0): number {
  let count = 0;
  for (let index = from; index < offset; index++) {
    const unit = text.charCodeAt(index);
    const previous = index > from ? text.charCodeAt(index - 1) : 0;
    const pairTail = unit >= 0xdc00 && unit <= 0xdfff && previous >= 0xd800 && previous <= 0xdbff;
    if (!pairTail) {
      count += 1;
    }
  }
  return count;
}

/** 1-based line and column of a UTF-16 offset, counted as Python counts them. */
export function lineAndColumn(text: string, offset: number): [number, number] {
  let line = 1;
  let lineStart = 0;
  for (let index = text.indexOf('\n'); index !== -1 && index < offset; index = text.indexOf('\n', index + 1)) {
    line += 1;
    lineStart = index + 1;
  }
  return [line, codePoints(text, offset, lineStart) + 1];
}
