/**
 * Ids, versions and the shapes of the workbench REST API (see DESIGN.md).
 */

/** Version of this frontend; the server's `workbench/api/status` must report the same. */
export const FRONTEND_VERSION = '0.1.0';

import { ITranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

export const PLUGIN_ID = 'jupyter-workbench:plugin';
export const SIDEBAR_ID = 'jupyter-workbench-sidebar';

/**
 * The Workbench sidebar, provided by the main plugin so that feature plugins
 * (session, jobs, mounts, environments) can add their own sections.
 */
export interface IWorkbenchSidebar {
  /**
   * Add an accordion section. `id` is stable (it names the section in tests, CSS and the
   * saved collapsed state); `options.toolbar` puts buttons in the section's title.
   * Returns the section (a `PanelWithToolbar`) for further toolbar items.
   */
  addSection(title: string, body: Widget, id: string, options?: ISectionOptions): Widget;
  /** Expand a section and scroll it into view. */
  reveal(id: string): void;
  /** The application's translator (use domain `jupyter_workbench`). */
  readonly translator: ITranslator;
  /** The server's handshake reply, once known (null when the server part is missing). */
  readonly features: Promise<{ [name: string]: boolean } | null>;
}

/** A button in a section's title bar. */
export interface ISectionToolbarItem {
  /** Stable name (also a CSS class `jp-WorkbenchSection-<name>`). */
  name: string;
  icon: LabIcon;
  tooltip: string;
  label?: string;
  onClick: () => void;
}

export interface ISectionOptions {
  /** Position among the sections (lower first); see sidebar.ts for the defaults. */
  rank?: number;
  caption?: string;
  toolbar?: ISectionToolbarItem[];
}

/** The gettext domain of every string of this extension. */
export const TRANSLATION_DOMAIN = 'jupyter_workbench';

export const IWorkbenchSidebar = new Token<IWorkbenchSidebar>(
  'jupyter-workbench:IWorkbenchSidebar',
  'The Workbench left sidebar.'
);

export namespace CommandIDs {
  export const openSidebar = 'workbench:open-sidebar';
  export const exportFile = 'workbench:export-savedmodel';
  export const checkServer = 'workbench:check-server';
}

export interface IStatusReply {
  version: string;
  features: { [name: string]: boolean };
  export_python?: string | null;
}

export interface ITensorInfo {
  dtype: string;
  shape: (number | null)[] | null;
}

export interface ISignatureInfo {
  inputs: { [name: string]: ITensorInfo };
  outputs: { [name: string]: ITensorInfo };
}

export interface IExportResult {
  path: string;
  version: number;
  signatures: { [name: string]: ISignatureInfo };
  size_bytes: number;
  max_abs_diff: number | null;
  warnings?: string[];
}

export interface IExportRequest {
  source: string;
  destination: string;
  version?: number;
  signature_name?: string;
  overwrite?: boolean;
  verify?: boolean;
  weights_dtype?: string | null;
  /** TF Serving warmup records per signature (assets.extra/tf_serving_warmup_requests). */
  warmup?: number;
}

/** `GET workbench/api/exports[/id]`: one export (a view of its job). */
export interface IExportState {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed';
  progress: number;
  message?: string;
  result?: IExportResult;
  error?: string;
  source?: string;
  destination?: string;
  created_at?: number;
  ended_at?: number | null;
}
