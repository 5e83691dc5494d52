/**
 * Session expiry and background jobs (frontend). Filled in by the session work (issue 6).
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const sessionPlugins: JupyterFrontEndPlugin<any>[] = [];
