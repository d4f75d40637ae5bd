/**
 * Diagnostics as you type, in `%%pointy` cells and `.pty` files. After a pause in typing, the
 * text is checked here, with the TypeScript twin of the engine's parser (./language, which agrees
 * with it on every fixture): syntax errors and check problems need no kernel. When those are
 * clean and the editor is a notebook cell, the kernel is asked about event names: the editor
 * dispatches a `pointy:check` DOM event; the listener on `document` opens a comm to the kernel of
 * the notebook holding the editor (target `pointy.diagnostics`, pointy_jupyter/names.py). No
 * kernel, or one without pointy_jupyter, means no answer and no underline: silent, never wrong.
 *
 * Problems are underlined (`cm-pointy-diagnostic`, the message in `data-message`) and hovering
 * one shows its message (`cm-pointy-diagnostic-tooltip`). The editor's `data-pointy-check-ms`
 * (parse and checks), `data-pointy-show-ms` (underlining) and `data-pointy-checks` (how many
 * ran) are kept for the measurement in tests/test_labextension_browser.py; `data-pointy-kernel` says how the last
 * question to the kernel went (`asking`, `answered`, `silent`, `none`).
 */

import { StateEffect, StateField } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  hoverTooltip,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';
import type { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';

import { pipelineStart } from './highlight';
import { diagnose, Diagnostic } from './language/diagnose';

/** `%%pointy --pipeline BatchClass`: the class's own flow runs; the body holds only comments. */
const BATCH_CELL = /\s--pipeline(\s|=|$)/;

export const CHECK_EVENT = 'pointy:check';
export const COMM_TARGET = 'pointy.diagnostics';
/** Sent to a notebook's editors when its kernel may now answer differently: check again. */
export const RECHECK_EVENT = 'pointy:recheck';
const PAUSE_MS = 250;
const KERNEL_PATIENCE_MS = 10000; // a busy or vanished kernel: give up, ask again later

export interface CheckRequest {
  source: string;
  /** The kernel's problems (offsets into `source`), or null when it could not answer. */
  reply: (diagnostics: Diagnostic[] | null) => void;
}

const setDiagnostics = StateEffect.define<DecorationSet>();

const diagnosticField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, transaction) {
    for (const effect of transaction.effects) {
      if (effect.is(setDiagnostics)) {
        return effect.value;
      }
    }
    // Kept in place while typing; the next check replaces them.
    return marks.map(transaction.changes);
  },
  provide: field => EditorView.decorations.from(field)
});

/** Marks for problems whose offsets count from `base` in the editor's text. */
function marksFor(view: EditorView, diagnostics: Diagnostic[], base: number): DecorationSet {
  const length = view.state.doc.length;
  const ranges = [];
  for (const problem of diagnostics) {
    let from = Math.min(base + problem.from, length);
    let to = Math.min(Math.max(base + problem.to, from), length);
    if (from === to) {
      from = Math.max(base, to - 1); // the end of the text: underline its last character
      to = Math.min(Math.max(to, from + 1), length);
    }
    if (from < to) {
      const mark = Decoration.mark({
        class: 'cm-pointy-diagnostic',
        attributes: { 'data-message': problem.message, 'data-kind': problem.kind },
        message: problem.message
      });
      ranges.push(mark.range(from, to));
    }
  }
  return Decoration.set(ranges, true);
}

const checker = ViewPlugin.fromClass(
  class {
    timer: number | undefined;
    asking = false; // one kernel question in flight per editor
    readonly recheck = (): void => this.schedule();
    constructor(readonly view: EditorView) {
      view.dom.addEventListener(RECHECK_EVENT, this.recheck);
      this.schedule();
    }
    update(update: ViewUpdate): void {
      if (update.docChanged) {
        this.schedule();
      }
    }
    schedule(): void {
      window.clearTimeout(this.timer);
      // Says a check is due, so a reader of `pointyChecks` knows the text it counts is not
      // checked yet (the browser tests wait on both).
      this.view.dom.dataset.pointyPending = 'true';
      this.timer = window.setTimeout(() => this.check(), PAUSE_MS);
    }
    show(marks: DecorationSet): void {
      this.view.dispatch({ effects: setDiagnostics.of(marks) });
    }
    check(): void {
      const view = this.view;
      delete view.dom.dataset.pointyPending;
      let base = pipelineStart(view);
      // `%%pointy --pipeline BatchClass` runs that class's own flow: its body is comments only,
      // and the kernel checks the class, so there is no flow here to underline.
      if (base !== null && base > 0 && BATCH_CELL.test(view.state.doc.line(1).text)) {
        base = null;
      }
      if (base === null) {
        if (view.state.field(diagnosticField).size > 0) {
          this.show(Decoration.none);
        }
        return;
      }
      const began = performance.now();
      const source = view.state.doc.sliceString(base);
      let found: Diagnostic[];
      try {
        found = diagnose(source, base > 0 ? 2 : 1);
      } catch (error) {
        console.warn('pointy: the editor check failed; nothing is underlined', error);
        found = [];
      }
      const checked = performance.now();
      if (found.length > 0 || view.state.field(diagnosticField).size > 0) {
        this.show(marksFor(view, found, base));
      }
      const dataset = view.dom.dataset;
      dataset.pointyCheckMs = (checked - began).toFixed(2);
      dataset.pointyShowMs = (performance.now() - checked).toFixed(2);
      dataset.pointyChecks = String(Number(dataset.pointyChecks ?? 0) + 1);
      if (found.length === 0 && base > 0) {
        this.askKernel(source, base);
      }
    }
    askKernel(source: string, base: number): void {
      if (this.asking) {
        return; // the answer's arrival checks again if the text moved on
      }
      const asked = this.view.state.doc;
      const request: CheckRequest = {
        source,
        reply: diagnostics => {
          this.asking = false;
          this.view.dom.dataset.pointyKernel = diagnostics === null ? 'silent' : 'answered';
          if (this.view.state.doc !== asked) {
            this.schedule();
          } else if (diagnostics !== null && diagnostics.length > 0) {
            this.show(marksFor(this.view, diagnostics, base));
          }
        }
      };
      this.asking = true;
      this.view.dom.dataset.pointyKernel = 'asking';
      const event = new CustomEvent(CHECK_EVENT, {
        bubbles: true,
        cancelable: true,
        composed: true,
        detail: request
      });
      this.view.dom.dispatchEvent(event);
      if (!event.defaultPrevented) {
        this.asking = false; // nobody to ask: no notebook around this editor
        this.view.dom.dataset.pointyKernel = 'none';
      }
    }
    destroy(): void {
      window.clearTimeout(this.timer);
      this.view.dom.removeEventListener(RECHECK_EVENT, this.recheck);
    }
  }
);

/** The messages of the problems under the pointer, in a tooltip above them. */
const diagnosticHover = hoverTooltip((view, pos) => {
  const messages: string[] = [];
  let start = pos;
  let end = pos;
  view.state.field(diagnosticField).between(pos, pos, (from, to, mark) => {
    messages.push(mark.spec.message as string);
    start = Math.min(start, from);
    end = Math.max(end, to);
  });
  if (messages.length === 0) {
    return null;
  }
  return {
    pos: start,
    end,
    above: true,
    create: () => {
      const dom = document.createElement('div');
      dom.className = 'cm-pointy-diagnostic-tooltip';
      dom.textContent = messages.join('\n');
      return { dom };
    }
  };
});

export const pointyDiagnostics = [diagnosticField, checker, diagnosticHover];

/** Answers check requests with the kernel of the notebook they come from. */
export function listenForChecks(tracker: INotebookTracker): () => void {
  const onCheck = (event: Event): void => {
    const request = (event as CustomEvent<CheckRequest>).detail;
    const target = event.composedPath()[0] ?? event.target;
    if (!request || typeof request.source !== 'string' || !(target instanceof Node)) {
      return;
    }
    const panel = tracker.find(candidate => candidate.node.contains(target));
    const kernel = panel?.sessionContext.session?.kernel;
    if (!kernel || kernel.isDisposed) {
      return;
    }
    event.preventDefault(); // an answer (or its absence) will come through `reply`
    let answered = false;
    const answer = (diagnostics: Diagnostic[] | null): void => {
      if (!answered) {
        answered = true;
        window.clearTimeout(patience);
        request.reply(diagnostics);
      }
    };
    const patience = window.setTimeout(() => answer(null), KERNEL_PATIENCE_MS);
    try {
      const comm = kernel.createComm(COMM_TARGET);
      comm.onMsg = message => {
        const data = message.content.data as { diagnostics?: Diagnostic[] };
        answer(Array.isArray(data.diagnostics) ? data.diagnostics : null);
      };
      comm.onClose = () => answer(null); // closed unanswered: no pointy_jupyter in the kernel
      comm.open({ source: request.source }).done.catch(() => answer(null));
    } catch {
      answer(null); // a kernel going away mid-check: nothing to say
    }
  };
  document.addEventListener(CHECK_EVENT, onCheck);
  const stopWatching = watchKernels(tracker);
  return () => {
    document.removeEventListener(CHECK_EVENT, onCheck);
    stopWatching();
  };
}

/**
 * Asks a notebook's editors to check again when its kernel may answer differently: every editor
 * once a new or restarted kernel is idle (its names are not the old kernel's), and, whenever the
 * kernel turns idle, the editors it could not answer yet (no kernel, or no pointy_jupyter loaded
 * until a cell ran `%load_ext`). Without this, such a cell waits for its next edit.
 */
function watchKernels(tracker: INotebookTracker): () => void {
  const stops: (() => void)[] = [];
  const watch = (panel: NotebookPanel): void => {
    const context = panel.sessionContext;
    let fresh = true; // a kernel came (or came back) since the last idle
    const onKernelChanged = (): void => {
      fresh = true;
    };
    const onStatus = (_: ISessionContext, status: Kernel.Status): void => {
      if (status === 'starting' || status === 'restarting' || status === 'autorestarting') {
        fresh = true;
      } else if (status === 'idle') {
        recheckEditors(panel, fresh);
        fresh = false;
      }
    };
    context.kernelChanged.connect(onKernelChanged);
    context.statusChanged.connect(onStatus);
    const stop = (): void => {
      context.kernelChanged.disconnect(onKernelChanged);
      context.statusChanged.disconnect(onStatus);
    };
    stops.push(stop);
    panel.disposed.connect(stop);
  };
  tracker.forEach(watch);
  const onAdded = (_: INotebookTracker, panel: NotebookPanel): void => watch(panel);
  tracker.widgetAdded.connect(onAdded);
  return () => {
    tracker.widgetAdded.disconnect(onAdded);
    stops.forEach(stop => stop());
  };
}

function recheckEditors(panel: NotebookPanel, all: boolean): void {
  panel.node.querySelectorAll<HTMLElement>('.cm-editor[data-pointy-kernel]').forEach(editor => {
    const state = editor.dataset.pointyKernel;
    if (all || state === 'none' || state === 'silent') {
      editor.dispatchEvent(new CustomEvent(RECHECK_EVENT));
    }
  });
}
