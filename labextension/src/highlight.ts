/**
 * Highlighting of `%%pointy` cells and `.pty` files: mark decorations with stable CSS classes
 * (`cm-pointy-<kind>`), so themes and tests can rely on them. Python's own colouring of a cell
 * stays underneath; a cell that stops starting with `%%pointy` loses the marks on the next edit.
 */

import { language, StreamLanguage, StringStream } from '@codemirror/language';
import { EditorState, RangeSetBuilder } from '@codemirror/state';
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

const WHOLE_TEXT_LINES = 300;

/**
 * Marks for the lines CodeMirror draws (its viewport: the screen and a margin) and one line
 * around them, so a keystroke in a 1,000-line cell costs what is drawn, not the whole
 * cell. Tokens never cross a line, so whole lines tokenize alone; only a number's role can hang on a neighbour
 * further away than one line (`3` on one line, `* A` two lines below), and then it shows as a
 * plain number until it scrolls in with its neighbour.
 */
function decorate(view: EditorView): DecorationSet {
  const start = pipelineStart(view);
  if (start === null) {
    return Decoration.none;
  }
  const builder = new RangeSetBuilder<Decoration>();
  const doc = view.state.doc;
  if (start > 0) {
    const parts = magicLine(doc.line(1).text);
    if (parts !== null) {
      builder.add(parts.magic[0], parts.magic[1], MARKS.magic);
      if (parts.options !== null) {
        builder.add(parts.options[0], parts.options[1], MARKS.option);
      }
    }
  }
  // Past a few hundred lines, only the viewport (not `visibleRanges`, whose changes are not
  // announced) and a line around it; a smaller text is marked whole, drawn or not.
  const whole = doc.lines <= WHOLE_TEXT_LINES;
  const viewport = whole ? { from: start, to: doc.length } : view.viewport;
  const top = Math.max(doc.lineAt(Math.max(viewport.from, start)).number - 1, doc.lineAt(start).number);
  const bottom = Math.min(doc.lineAt(Math.max(viewport.to, start)).number + 1, doc.lines);
  const from = Math.max(doc.line(top).from, start);
  const to = doc.line(bottom).to;
  if (from < to) {
    for (const token of tokenize(doc.sliceString(from, to), from)) {
      builder.add(token.from, token.to, MARKS[token.kind]);
    }
  }
  return builder.finish();
}

export const pointyHighlight = ViewPlugin.fromClass(
  class {
    decorations: DecorationSet;
    constructor(view: EditorView) {
      this.decorations = decorate(view);
    }
    update(update: ViewUpdate): void {
      if (
        update.docChanged ||
        update.viewportChanged ||
        update.geometryChanged ||
        update.startState.facet(language) !== update.state.facet(language)
      ) {
        this.decorations = decorate(update.view);
      }
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
