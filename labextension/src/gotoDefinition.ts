/**
 * Go to definition. Everything arrives as one DOM event, `pointy:goto-definition` with
 * `detail.name`: the run widget dispatches it from its node details, and Ctrl/⌘-click on an
 * event name in a `%%pointy` cell dispatches it from the editor. The listener on `document`
 * finds the notebook and cell the event came from and selects the last cell above defining it.
 */

import { EditorView } from '@codemirror/view';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { definingCell } from './definitions';
import { pipelineStart } from './highlight';
import { tokenize } from './tokens';

export const GOTO_EVENT = 'pointy:goto-definition';

/** The cell index selected, or -1 when nothing above defines the name. */
export function goToDefinition(panel: NotebookPanel, fromCell: number, name: string): number {
  const notebook = panel.content;
  const sources = notebook.widgets.map(cell => cell.model.sharedModel.getSource());
  const index = definingCell(sources, fromCell, name);
  if (index >= 0) {
    notebook.activeCellIndex = index;
    notebook.deselectAll();
    void notebook.scrollToItem(index, 'smart');
  }
  return index;
}

/** Listens on `document` until the returned function is called. */
export function listenForGoto(tracker: INotebookTracker): () => void {
  const onGoto = (event: Event): void => {
    const detail = (event as CustomEvent<{ name?: unknown }>).detail;
    const target = event.composedPath()[0] ?? event.target;
    if (!detail || typeof detail.name !== 'string' || !(target instanceof Node)) {
      return;
    }
    const panel = tracker.find(candidate => candidate.node.contains(target));
    if (!panel) {
      return;
    }
    const cells = panel.content.widgets;
    const fromCell = cells.findIndex(cell => cell.node.contains(target));
    goToDefinition(panel, fromCell < 0 ? cells.length : fromCell, detail.name);
  };
  document.addEventListener(GOTO_EVENT, onGoto);
  return () => document.removeEventListener(GOTO_EVENT, onGoto);
}

/** The event name under `pos` in a Pointy editor, if any. */
export function eventNameAt(view: EditorView, pos: number): string | null {
  const start = pipelineStart(view);
  if (start === null || pos < start) {
    return null;
  }
  const line = view.state.doc.lineAt(pos);
  const from = Math.max(line.from, start);
  const hit = tokenize(view.state.doc.sliceString(from, line.to), from).find(
    token => token.kind === 'event' && token.from <= pos && pos <= token.to
  );
  return hit ? hit.text : null;
}

function requestGoto(view: EditorView, name: string): void {
  view.dom.dispatchEvent(
    new CustomEvent(GOTO_EVENT, { bubbles: true, composed: true, detail: { name } })
  );
}

/** Ctrl/⌘-click on an event name asks for its definition. */
export const ctrlClickGoto = EditorView.domEventHandlers({
  mousedown(event: MouseEvent, view: EditorView): boolean {
    if (!(event.ctrlKey || event.metaKey) || event.button !== 0) {
      return false;
    }
    const pos = view.posAtCoords({ x: event.clientX, y: event.clientY });
    const name = pos === null ? null : eventNameAt(view, pos);
    if (name === null) {
      return false;
    }
    event.preventDefault();
    requestGoto(view, name);
    return true;
  }
});

/** For the context-menu command: the event name at the active cell's cursor. */
export function gotoFromActiveCell(tracker: INotebookTracker): boolean {
  const editor = tracker.activeCell?.editor as { editor?: EditorView } | undefined;
  const view = editor?.editor;
  if (!view) {
    return false;
  }
  const name = eventNameAt(view, view.state.selection.main.head);
  if (name === null) {
    return false;
  }
  requestGoto(view, name);
  return true;
}
