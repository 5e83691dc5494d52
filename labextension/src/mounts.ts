/**
 * Mounts (frontend): the Workbench sidebar's "Mounts" section, and mount actions where
 * users look for them: "Mount Storage…" in the file browser's toolbar and "Unmount" in the
 * context menu of a mount folder.
 *
 * Mounted storage shows in JupyterLab's own file browser at `mnt/<name>` (the server's
 * contents manager serves it); this plugin adds the panel to add and remove mounts, and a
 * banner in the file browser for a mount folder larger than the server's listing bound, with
 * "Load the next N" there (`listingBanner.ts`).
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { addIcon, LabIcon, refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';

import { ListingBanner } from './listingBanner';
import { IMount, MountsModel, MountsPanel } from './mountsPanel';
import { IWorkbenchSidebar, SIDEBAR_ID, TRANSLATION_DOMAIN } from './tokens';

/** The file browser's "Mount" button: a cloud (object storage and shares live elsewhere),
 * icon-only like the toolbar's other buttons (a text label was cut to "Mou" at the default
 * width). */
const mountIcon = new LabIcon({
  name: 'jupyter-workbench:mount',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<path class="jp-icon3" fill="#616161" d="M19.35 10.04A7.49 7.49 0 0 0 12 4C9.11 4 6.6 5.64 5.35 8.04A5.994 5.994 0 0 0 0 14c0 3.31 2.69 6 6 6h13c2.76 0 5-2.24 5-5 0-2.64-2.05-4.78-4.65-4.96zM17 13h-4v4h-2v-4H7l5-5 5 5z"/>
</svg>`
});

export const MOUNTS_PLUGIN_ID = 'jupyter-workbench:mounts';

namespace MountsCommandIDs {
  export const refresh = 'workbench:refresh-mounts';
  export const add = 'workbench:add-mount';
  export const unmount = 'workbench:unmount';
}

/** Paths of the documents open in the main area. */
function openDocumentPaths(app: JupyterFrontEnd): string[] {
  const paths: string[] = [];
  for (const widget of app.shell.widgets('main')) {
    const path = (widget as { context?: { path?: string } }).context?.path;
    if (path) {
      paths.push(path);
    }
  }
  return paths;
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
    const trans = sidebar.translator.load(TRANSLATION_DOMAIN);
    const refreshBrowser = async () => {
      await fileBrowser?.model.refresh();
    };
    const openFolder = async (path: string) => {
      if (fileBrowser) {
        app.shell.activateById(fileBrowser.id);
      }
      await app.commands.execute('filebrowser:go-to-path', { path });
    };
    const model = new MountsModel();
    const panel = new MountsPanel({
      model,
      trans,
      openFolder,
      mounted: refreshBrowser,
      openDocuments: () => openDocumentPaths(app),
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
      // Above the breadcrumbs and the listing, below the toolbar: seen whatever is scrolled.
      fileBrowser.insertWidget(
        0,
        new ListingBanner({ browser: fileBrowser, model, trans })
      );
    }
    const selectedMount = (): IMount | null => {
      const item = fileBrowser?.selectedItems().next();
      if (!item || item.done) {
        return null;
      }
      return model.mounts.find(m => m.path === item.value.path) ?? null;
    };
    app.commands.addCommand(MountsCommandIDs.refresh, {
      label: trans.__('Workbench: Refresh Mounts'),
      execute: () => panel.refresh()
    });
    app.commands.addCommand(MountsCommandIDs.add, {
      label: trans.__('Mount Storage…'),
      caption: trans.__('Mount an OSS bucket, NAS or SMB share into mnt/'),
      execute: () => {
        app.shell.activateById(SIDEBAR_ID);
        sidebar.reveal('mounts');
        panel.showForm();
      }
    });
    app.commands.addCommand(MountsCommandIDs.unmount, {
      label: trans.__('Unmount'),
      caption: trans.__('Remove this mount from the file browser (the files stay)'),
      isVisible: () => selectedMount() !== null,
      execute: async () => {
        const mount = selectedMount();
        if (mount) {
          await panel.unmount(mount);
        }
      }
    });
    app.contextMenu.addItem({
      command: MountsCommandIDs.unmount,
      selector: '.jp-DirListing-item[data-isdir="true"]',
      rank: 62
    });
    void sidebar.features.then(features => {
      if (!features || !features.mounts) {
        return;
      }
      sidebar.addSection(trans.__('Mounts'), panel, 'mounts', {
        toolbar: [
          {
            name: 'add',
            icon: addIcon,
            tooltip: trans.__('Add a mount'),
            onClick: () => panel.showForm()
          },
          {
            name: 'refresh',
            icon: refreshIcon,
            tooltip: trans.__('Refresh the mounts'),
            onClick: () => void panel.refresh()
          }
        ]
      });
      if (fileBrowser) {
        const mountButton = new ToolbarButton({
          icon: mountIcon,
          className: 'jp-WorkbenchMountButton',
          tooltip: trans.__('Mount an OSS bucket, NAS or SMB share into mnt/'),
          onClick: () => void app.commands.execute(MountsCommandIDs.add)
        });
        if (!fileBrowser.toolbar.insertAfter('refresh', 'workbench-mount', mountButton)) {
          fileBrowser.toolbar.addItem('workbench-mount', mountButton);
        }
      }
      void panel.refresh();
    });
  }
};

export const mountsPlugins: JupyterFrontEndPlugin<any>[] = [mountsPlugin];
