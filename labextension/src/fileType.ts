/**
 * The `.pty` file type: opened in the text editor with Pointy highlighting, shown with its own
 * icon, and created from the launcher or File → New.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { ILauncher } from '@jupyterlab/launcher';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { LabIcon } from '@jupyterlab/ui-components';

import ptySvg from '../style/icons/pty.svg';

export const PTY_MIME = 'text/x-pty';
export const NEW_FILE_COMMAND = 'pointy:new-file';

export const ptyIcon = new LabIcon({ name: 'pointy:pty', svgstr: ptySvg });

export function registerFileType(
  app: JupyterFrontEnd,
  launcher: ILauncher | null,
  mainMenu: IMainMenu | null
): void {
  app.docRegistry.addFileType({
    name: 'pointy',
    displayName: 'Pointy file',
    extensions: ['.pty'],
    mimeTypes: [PTY_MIME],
    fileFormat: 'text',
    contentType: 'file',
    icon: ptyIcon
  });
  app.commands.addCommand(NEW_FILE_COMMAND, {
    label: args => (args.isLauncher ? 'Pointy File' : 'New Pointy file'),
    caption: 'Create a new Pointy pipeline file',
    icon: args => (args.isPalette ? undefined : ptyIcon),
    execute: async args => {
      const cwd = typeof args.cwd === 'string' ? args.cwd : '';
      const model = await app.commands.execute('docmanager:new-untitled', {
        path: cwd,
        type: 'file',
        ext: '.pty'
      });
      return app.commands.execute('docmanager:open', { path: model.path, factory: 'Editor' });
    }
  });
  launcher?.add({ command: NEW_FILE_COMMAND, category: 'Other', rank: 10 });
  mainMenu?.fileMenu.newMenu.addGroup([{ command: NEW_FILE_COMMAND }], 30);
}
