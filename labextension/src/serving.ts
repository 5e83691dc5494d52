/**
 * Serving (frontend): the Workbench sidebar's "Serve / Try it" section, shown when the
 * server offers the `serving` feature.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { refreshIcon } from '@jupyterlab/ui-components';

import { ServingPanel } from './servingPanel';
import { IWorkbenchSidebar, TRANSLATION_DOMAIN } from './tokens';

export const SERVING_PLUGIN_ID = 'jupyter-workbench:serving';

const servingPlugin: JupyterFrontEndPlugin<void> = {
  id: SERVING_PLUGIN_ID,
  description: 'Serve a model base with TF Serving’s APIs and try it from the sidebar.',
  autoStart: true,
  requires: [IWorkbenchSidebar],
  optional: [IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    sidebar: IWorkbenchSidebar,
    fileBrowser: IDefaultFileBrowser | null
  ): void => {
    const trans = sidebar.translator.load(TRANSLATION_DOMAIN);
    void sidebar.features.then(features => {
      if (!features?.serving) {
        return;
      }
      const panel = new ServingPanel({
        trans,
        selectedPath: () => {
          const item = fileBrowser?.selectedItems().next();
          return item && !item.done ? item.value.path : null;
        }
      });
      sidebar.addSection(trans.__('Serve / Try it'), panel, 'serving', {
        caption: trans.__(
          'Serve a model base with TF Serving’s REST and gRPC APIs and try it'
        ),
        toolbar: [
          {
            name: 'refresh',
            icon: refreshIcon,
            tooltip: trans.__('Refresh the model servers'),
            onClick: () => void panel.refresh()
          }
        ]
      });
    });
  }
};

export const servingPlugins = [servingPlugin];
