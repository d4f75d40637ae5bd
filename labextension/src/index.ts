/** Pointy's JupyterLab extension: one plugin per concern. */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';
import { LanguageSupport } from '@codemirror/language';
import { ILauncher } from '@jupyterlab/launcher';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { INotebookTracker } from '@jupyterlab/notebook';

import { listenForChecks, pointyDiagnostics } from './diagnostics';
import { NEW_FILE_COMMAND, PTY_MIME, registerFileType } from './fileType';
import { ctrlClickGoto, gotoFromActiveCell, listenForGoto } from './gotoDefinition';
import { pointyCommentTokens, pointyHighlight, ptyLanguage } from './highlight';
import { savedViewPlugin } from './savedView';

/** Kept equal to package.json's version (checked by tests/test_labextension_browser.py). */
export const VERSION = '0.1.0';
const GOTO_COMMAND = 'pointy:go-to-definition';

const languagePlugin: JupyterFrontEndPlugin<void> = {
  id: 'pointy-labextension:language',
  description: 'Pointy highlighting and diagnostics in %%pointy cells and .pty files',
  autoStart: true,
  requires: [IEditorLanguageRegistry, IEditorExtensionRegistry],
  activate: (
    _app: JupyterFrontEnd,
    languages: IEditorLanguageRegistry,
    extensions: IEditorExtensionRegistry
  ) => {
    languages.addLanguage({
      name: 'pointy',
      displayName: 'Pointy',
      mime: PTY_MIME,
      extensions: ['pty'],
      support: new LanguageSupport(ptyLanguage)
    });
    extensions.addExtension({
      name: 'pointy-labextension:highlight',
      factory: () =>
        EditorExtensionRegistry.createImmutableExtension([
          pointyHighlight,
          pointyCommentTokens,
          ctrlClickGoto,
          pointyDiagnostics
        ])
    });
  }
};

const fileTypePlugin: JupyterFrontEndPlugin<void> = {
  id: 'pointy-labextension:file-type',
  description: 'The .pty file type and "New Pointy file"',
  autoStart: true,
  optional: [ILauncher, IMainMenu],
  activate: (app: JupyterFrontEnd, launcher: ILauncher | null, mainMenu: IMainMenu | null) => {
    registerFileType(app, launcher, mainMenu);
  }
};

let stopGoto: (() => void) | null = null;

const gotoPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pointy-labextension:go-to-definition',
  description: 'Go to the cell defining an event, from a %%pointy cell or the run widget',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    stopGoto = listenForGoto(tracker);
    // The run widget shows its "Go to definition" link only when this attribute exists.
    document.body.dataset.pointyLabextension = VERSION;
    app.commands.addCommand(GOTO_COMMAND, {
      label: 'Go to Pointy Event Definition',
      execute: () => gotoFromActiveCell(tracker)
    });
    app.contextMenu.addItem({ command: GOTO_COMMAND, selector: '.jp-CodeCell .cm-content', rank: 0 });
  },
  deactivate: () => {
    stopGoto?.();
    stopGoto = null;
    delete document.body.dataset.pointyLabextension;
  }
};

let stopChecks: (() => void) | null = null;

const kernelChecksPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pointy-labextension:kernel-checks',
  description: "Asks a notebook's kernel about the event names of its %%pointy cells",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    stopChecks = listenForChecks(tracker);
  },
  deactivate: () => {
    stopChecks?.();
    stopChecks = null;
  }
};

export { NEW_FILE_COMMAND };
export default [languagePlugin, fileTypePlugin, gotoPlugin, kernelChecksPlugin, savedViewPlugin];
