/**
 * jupyter-workbench frontend: the Workbench sidebar, its commands and settings.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { ExportPanel } from './exportPanel';
import { WorkbenchSidebar } from './sidebar';
import { environmentsPlugins } from './environments';
import { mountsPlugins } from './mounts';
import { jobsPlugins } from './jobs';
import { servingPlugins } from './serving';
import { sessionPlugins } from './session';
import { CommandIDs, IWorkbenchSidebar, PLUGIN_ID, TRANSLATION_DOMAIN } from './tokens';

const MODEL_FILE = /\.(keras|h5|hdf5)$/i;

const plugin: JupyterFrontEndPlugin<IWorkbenchSidebar> = {
  id: PLUGIN_ID,
  provides: IWorkbenchSidebar,
  description: 'Workbench sidebar: SavedModel export, mounts, environments, sessions.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    IDefaultFileBrowser,
    INotebookTracker,
    ISettingRegistry,
    ITranslator,
    IStateDB
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    fileBrowser: IDefaultFileBrowser | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    state: IStateDB | null
  ): IWorkbenchSidebar => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const settings = {
      pollInterval: 500,
      defaultDestination: 'models',
      openOnStart: false
    };
    const sidebar = new WorkbenchSidebar({ translator, state });
    const selectedPath = (): string | null => {
      const item = fileBrowser?.selectedItems().next();
      return item && !item.done ? item.value.path : null;
    };
    const exportPanel = new ExportPanel({
      notebooks,
      selectedPath,
      pollInterval: () => settings.pollInterval,
      defaultDestination: () => settings.defaultDestination,
      trans
    });
    sidebar.addSection(trans.__('Export to SavedModel'), exportPanel, 'export');
    void exportPanel.refresh(); // (an export still running from before a reload shows)
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, 'jupyter-workbench-sidebar');
    const handshake = sidebar.refresh();

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(s => {
        const update = () => {
          settings.pollInterval = s.get('pollInterval').composite as number;
          settings.defaultDestination = s.get('defaultDestination').composite as string;
          settings.openOnStart = s.get('openOnStart').composite as boolean;
        };
        update();
        s.changed.connect(update);
        if (settings.openOnStart) {
          app.shell.activateById(sidebar.id);
        }
      });
    }

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: trans.__('Workbench: Open Sidebar'),
      execute: () => app.shell.activateById(sidebar.id)
    });
    app.commands.addCommand(CommandIDs.checkServer, {
      label: trans.__('Workbench: Check Server Extension'),
      execute: async () => {
        const state = await sidebar.refresh();
        if (!state.ok) {
          await showErrorMessage(trans.__('Workbench server extension'), state.message);
        }
        return state.ok;
      }
    });
    app.commands.addCommand(CommandIDs.exportFile, {
      label: trans.__('Export to SavedModel…'),
      caption: trans.__(
        'Export the selected Keras/h5 model file to a versioned SavedModel'
      ),
      isVisible: () => {
        const path = selectedPath();
        return path === null || MODEL_FILE.test(path);
      },
      execute: () => {
        const path = selectedPath();
        if (path) {
          exportPanel.setSource(path);
        }
        app.shell.activateById(sidebar.id);
        sidebar.reveal('export');
      }
    });
    app.contextMenu.addItem({
      command: CommandIDs.exportFile,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 60
    });
    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.checkServer,
        CommandIDs.exportFile
      ]) {
        palette.addItem({ command, category: trans.__('Workbench') });
      }
    }
    return {
      addSection: (title, body, id, options) =>
        sidebar.addSection(title, body, id, options),
      reveal: id => sidebar.reveal(id),
      translator,
      features: handshake.then(state => (state.ok ? state.status.features : null))
    };
  }
};

export default [
  plugin,
  ...mountsPlugins,
  ...environmentsPlugins,
  ...sessionPlugins,
  ...jobsPlugins,
  ...servingPlugins
];
