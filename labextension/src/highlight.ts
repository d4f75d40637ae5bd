/**
 * Highlighting of `%%pointy` cells and `.pty` files: mark decorations with stable CSS classes
 * (`cm-pointy-<kind>`), so themes and tests can rely on them. Python's own colouring of a cell
 * stays underneath; a cell that stops starting with `%%pointy` loses the marks on the next edit.
 */

import { language, StreamLanguage, StringStream } from '@codemirror/language';
import { EditorState, Range } from '@codemirror/state';
import { Decoration, DecorationSet, EditorView, ViewPlugin, ViewUpdate } from '@codemirror/view';

import { isPointyCell, magicLine, tokenize, TokenKind } from './tokens';

/** The `.pty` file language: comments and brackets; the marks below do the colouring. */
export const ptyLanguage = StreamLanguage.define<null>({
  name: 'pointy',
  startState: () => null,
  token(stream: StringStream): string | null {
    if (stream.match(/^#.*/)) {
      return 'comment';
    }
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: '#' } }
});

const MARKS: Record<TokenKind | 'magic' | 'option', Decoration> = {
  magic: Decoration.mark({ class: 'cm-pointy-magic' }),
  option: Decoration.mark({ class: 'cm-pointy-option' }),
  event: Decoration.mark({ class: 'cm-pointy-event' }),
  operator: Decoration.mark({ class: 'cm-pointy-operator' }),
  arm: Decoration.mark({ class: 'cm-pointy-arm' }),
  retry: Decoration.mark({ class: 'cm-pointy-retry' }),
  number: Decoration.mark({ class: 'cm-pointy-number' }),
  comment: Decoration.mark({ class: 'cm-pointy-comment' }),
  directive: Decoration.mark({ class: 'cm-pointy-directive' }),
  bracket: Decoration.mark({ class: 'cm-pointy-bracket' }),
  punctuation: Decoration.mark({ class: 'cm-pointy-punctuation' }),
  invalid: Decoration.mark({ class: 'cm-pointy-invalid' })
};

/** Where the pipeline text of this editor starts, or null when it is not Pointy. */
export function pipelineStart(view: EditorView): number | null {
  if (view.state.facet(language) === ptyLanguage) {
    return 0;
  }
  const doc = view.state.doc;
  if (!isPointyCell(doc.sliceString(0, Math.min(doc.length, 16)))) {
    return null;
  }
  const first = doc.line(1);
  return first.to < doc.length ? first.to + 1 : doc.length;
}

/** How many lines around an edit are re-tokenized: a number's role (arm, retry) hangs on its neighbours. */
const CONTEXT_LINES = 1;

/**
 * The marks of lines `top`..`bottom` (1-based, whole lines: tokens never cross a line), the magic
 * line's parts included when line 1 is among them.
 */
function marksOf(state: EditorState, start: number, top: number, bottom: number): Range<Decoration>[] {
  const doc = state.doc;
  const marks: Range<Decoration>[] = [];
  if (start > 0 && top === 1) {
    const parts = magicLine(doc.line(1).text);
    if (parts !== null) {
      marks.push(MARKS.magic.range(parts.magic[0], parts.magic[1]));
      if (parts.options !== null) {
        marks.push(MARKS.option.range(parts.options[0], parts.options[1]));
      }
    }
  }
  const from = Math.max(doc.line(top).from, start);
  const to = doc.line(bottom).to;
  if (from < to) {
    for (const token of tokenize(doc.sliceString(from, to), from)) {
      marks.push(MARKS[token.kind].range(token.from, token.to));
    }
  }
  return marks;
}

/** Marks for the whole text: when an editor opens, or its text starts or stops being Pointy. */
function decorateAll(state: EditorState, start: number | null): DecorationSet {
  if (start === null) {
    return Decoration.none;
  }
  return Decoration.set(marksOf(state, start, 1, state.doc.lines));
}

/**
 * The old marks moved through the edit, with only the edited lines (and CONTEXT_LINES around
 * them) tokenized again. Untouched marks stay the same objects, so CodeMirror's comparison of old
 * and new decorations stops at the edited lines instead of redrawing every line it shows. A
 * number whose role hangs on a token further than CONTEXT_LINES from the edit keeps its old role
 * until that line is edited.
 */
function decorateChanges(marks: DecorationSet, update: ViewUpdate, start: number): DecorationSet {
  const doc = update.state.doc;
  const spans: [number, number][] = [];
  update.changes.iterChangedRanges((_fromA, _toA, fromB, toB) => {
    const top = Math.max(doc.lineAt(fromB).number - CONTEXT_LINES, 1);
    const bottom = Math.min(doc.lineAt(toB).number + CONTEXT_LINES, doc.lines);
    const last = spans[spans.length - 1];
    if (last !== undefined && top <= last[1] + 1) {
      last[1] = Math.max(last[1], bottom);
    } else {
      spans.push([top, bottom]);
    }
  });
  let result = marks.map(update.changes);
  for (const [top, bottom] of spans) {
    const from = doc.line(top).from;
    const to = doc.line(bottom).to;
    result = result.update({
      filter: (markFrom, markTo) => markTo <= from || markFrom >= to,
      filterFrom: from,
      filterTo: to,
      add: marksOf(update.state, start, top, bottom),
      sort: true
    });
  }
  return result;
}

export const pointyHighlight = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    start: number | null;
    constructor(view: EditorView) {
      this.start = pipelineStart(view);
      this.decorations = decorateAll(view.state, this.start);
    }
    update(update: ViewUpdate): void {
      if (!update.docChanged && update.startState.facet(language) === update.state.facet(language)) {
        return;
      }
      const start = pipelineStart(update.view);
      const sameStart = start === this.start && update.startState.facet(language) === update.state.facet(language);
      // The magic line's length moves where the pipeline starts: rare, so all is marked again.
      this.decorations =
        sameStart && start !== null
          ? decorateChanges(this.decorations, update, start)
          : decorateAll(update.state, start);
      this.start = start;
    }
  },
  { decorations: plugin => plugin.decorations }
);

/** `Ctrl-/` comments a `%%pointy` cell with `#`, whatever language the notebook gave the cell. */
export const pointyCommentTokens = EditorState.languageData.of(state =>
  isPointyCell(state.doc.sliceString(0, Math.min(state.doc.length, 16)))
    ? [{ commentTokens: { line: '#' } }]
    : []
);
