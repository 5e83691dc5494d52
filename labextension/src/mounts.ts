/**
 * Mounts (frontend). Filled in by the mounts work.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const mountsPlugins: JupyterFrontEndPlugin<any>[] = [];
