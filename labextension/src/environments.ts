/**
 * Environments (frontend). Filled in by the environments work.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const environmentsPlugins: JupyterFrontEndPlugin<any>[] = [];
