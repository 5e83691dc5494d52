/**
 * Mounts (frontend): the Workbench sidebar's "Mounts" section.
 *
 * Mounted storage shows in JupyterLab's own file browser at `mnt/<name>` (the server's
 * contents manager serves it); this plugin adds the panel to add and remove mounts and to
 * reach entries beyond the first page of a very large mount folder.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';

import { IMount, MountsPanel } from './mountsPanel';
import { IWorkbenchSidebar } from './tokens';

export const MOUNTS_PLUGIN_ID = 'jupyter-workbench:mounts';

namespace MountsCommandIDs {
  export const refresh = 'workbench:refresh-mounts';
}

const mountsPlugin: JupyterFrontEndPlugin<void> = {
  id: MOUNTS_PLUGIN_ID,
  description: 'Mount OSS buckets, NAS and SMB shares into the file browser.',
  autoStart: true,
  requires: [IWorkbenchSidebar],
  optional: [IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    sidebar: IWorkbenchSidebar,
    fileBrowser: IDefaultFileBrowser | null
  ): void => {
    const openFolder = async (path: string) => {
      await app.commands.execute('filebrowser:go-to-path', { path });
      if (fileBrowser) {
        app.shell.activateById(fileBrowser.id);
      }
    };
    const panel = new MountsPanel({
      openFolder,
      openFile: async path => {
        await app.commands.execute('docmanager:open', { path });
      },
      browserState: () => {
        if (!fileBrowser) {
          return null;
        }
        let count = 0;
        for (const _ of fileBrowser.model.items()) {
          count++;
        }
        return { path: fileBrowser.model.path, count };
      },
      unmounted: async (mount: IMount) => {
        if (!fileBrowser) {
          return;
        }
        const path = fileBrowser.model.path;
        if (path === mount.path || path.startsWith(mount.path + '/')) {
          await fileBrowser.model.cd('/');
        } else {
          await fileBrowser.model.refresh();
        }
      }
    });
    if (fileBrowser) {
      fileBrowser.model.pathChanged.connect(() => panel.updateMore());
      fileBrowser.model.refreshed.connect(() => panel.updateMore());
    }
    app.commands.addCommand(MountsCommandIDs.refresh, {
      label: 'Workbench: Refresh Mounts',
      execute: () => panel.refresh()
    });
    void sidebar.features.then(features => {
      if (features && features.mounts) {
        sidebar.addSection('Mounts', panel, 'mounts');
        void panel.refresh();
      }
    });
  }
};

export const mountsPlugins: JupyterFrontEndPlugin<any>[] = [mountsPlugin];
