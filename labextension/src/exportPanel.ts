/**
 * The sidebar's "Export to SavedModel" section.
 *
 * A model file is exported by the server (`POST workbench/api/exports`); a notebook
 * variable is exported by inserting and running a `%savedmodel` cell in the active
 * notebook. Both end in the same library call, `export_savedmodel`.
 */
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { formatBytes, h, useSelectedButton } from './dom';
import { IExportRequest, IExportResult, IExportState } from './tokens';

export interface IExportPanelOptions {
  notebooks: INotebookTracker | null;
  /** Path of the item selected in the file browser, if any. */
  selectedPath: () => string | null;
  pollInterval: () => number;
  defaultDestination: () => string;
}

/** Suggest `models/<stem>` for `path/to/<stem>.keras`. */
export function suggestDestination(source: string, base: string): string {
  const name = source.split('/').pop() || 'model';
  const stem = name.replace(/\.(keras|h5|hdf5)$/i, '') || 'model';
  return `${base.replace(/\/+$/, '')}/${stem}`;
}

export class ExportPanel extends Widget {
  constructor(options: IExportPanelOptions) {
    super();
    this._options = options;
    this.addClass('jp-WorkbenchExport');
    const f = this._fields;
    f.kindFile = h('input', {
      type: 'radio',
      name: 'wb-export-kind',
      value: 'file',
      checked: true
    });
    f.kindVar = h('input', { type: 'radio', name: 'wb-export-kind', value: 'variable' });
    f.source = h('input', {
      type: 'text',
      placeholder: 'model.keras, model.h5 or a SavedModel dir',
      'aria-label': 'Model file'
    });
    f.variable = h('input', {
      type: 'text',
      placeholder: 'model',
      'aria-label': 'Notebook variable'
    });
    f.destination = h('input', {
      type: 'text',
      placeholder: 'models/mymodel',
      'aria-label': 'Destination'
    });
    f.version = h('input', {
      type: 'number',
      min: '1',
      placeholder: 'auto',
      'aria-label': 'Version'
    });
    f.signature = h('input', {
      type: 'text',
      value: 'serving_default',
      'aria-label': 'Signature name'
    });
    f.verify = h('input', { type: 'checkbox', checked: true, 'aria-label': 'Verify' });
    f.overwrite = h('input', { type: 'checkbox', 'aria-label': 'Overwrite' });
    f.float16 = h('input', {
      type: 'checkbox',
      'aria-label': 'Store weights as float16'
    });
    const useSelected = useSelectedButton(
      () => this._options.selectedPath(),
      path => this.setSource(path),
      () => this._showError('Select a model file in the file browser first.')
    );
    this._button = h(
      'button',
      { className: 'jp-mod-styled jp-mod-accept jp-WorkbenchExport-run', type: 'button' },
      'Export'
    );
    this._button.addEventListener('click', () => void this.run());
    this._progress = h('progress', { max: '1', value: '0', hidden: true });
    this._message = h('div', { className: 'jp-WorkbenchExport-message' });
    this._result = h('div', { className: 'jp-WorkbenchExport-result' });

    const row = (label: string, ...els: HTMLElement[]) =>
      h('label', { className: 'jp-WorkbenchForm-row' }, h('span', {}, label), ...els);
    this._fileRow = row('Model file', f.source, useSelected);
    this._varRow = row('Variable', f.variable);
    this._varRow.hidden = true;
    const onKind = () => {
      this._fileRow.hidden = !f.kindFile.checked;
      this._varRow.hidden = f.kindFile.checked;
    };
    f.kindFile.addEventListener('change', onKind);
    f.kindVar.addEventListener('change', onKind);

    this.node.append(
      h(
        'div',
        { className: 'jp-WorkbenchForm-row jp-WorkbenchExport-kind' },
        h('label', {}, f.kindFile, ' Model file'),
        h('label', {}, f.kindVar, ' Notebook variable')
      ),
      this._fileRow,
      this._varRow,
      row('Destination', f.destination),
      row('Version', f.version),
      row('Signature', f.signature),
      h(
        'div',
        { className: 'jp-WorkbenchForm-row jp-WorkbenchExport-flags' },
        h('label', {}, f.verify, ' Verify'),
        h('label', {}, f.overwrite, ' Overwrite'),
        h('label', {}, f.float16, ' float16 weights')
      ),
      this._button,
      this._progress,
      this._message,
      this._result
    );
  }

  /** Prefill the form with a model file (from the file browser's context menu). */
  setSource(path: string): void {
    this._fields.kindFile.checked = true;
    this._fields.kindFile.dispatchEvent(new Event('change'));
    this._fields.source.value = path;
    if (!this._fields.destination.value) {
      this._fields.destination.value = suggestDestination(
        path,
        this._options.defaultDestination()
      );
    }
  }

  /** Start the export described by the form. */
  async run(): Promise<void> {
    this._result.replaceChildren();
    this._message.textContent = '';
    this._message.classList.remove('jp-mod-error');
    const f = this._fields;
    const destination = f.destination.value.trim();
    if (!destination) {
      this._showError(
        'Choose a destination (a folder under the server root, a mount or an oss:// URL).'
      );
      return;
    }
    if (f.kindVar.checked) {
      await this._runInNotebook(destination);
      return;
    }
    const source = f.source.value.trim();
    if (!source) {
      this._showError('Choose a model file (.keras, .h5 or a SavedModel directory).');
      return;
    }
    const request: IExportRequest = {
      source,
      destination,
      signature_name: f.signature.value.trim() || 'serving_default',
      overwrite: f.overwrite.checked,
      verify: f.verify.checked,
      weights_dtype: f.float16.checked ? 'float16' : null
    };
    if (f.version.value) {
      request.version = parseInt(f.version.value, 10);
    }
    this._button.disabled = true;
    this._progress.hidden = false;
    this._progress.value = 0;
    try {
      const { id } = await requestAPI<{ id: string }>('exports', {
        method: 'POST',
        body: JSON.stringify(request)
      });
      const final = await this._poll(id);
      if (final.state === 'done' && final.result) {
        this._message.textContent = 'Export finished.';
        this._result.append(renderResult(final.result));
      } else {
        this._showError(final.error || 'The export failed.');
      }
    } catch (error) {
      this._showError((error as Error).message);
    } finally {
      this._button.disabled = false;
      this._progress.hidden = true;
    }
  }

  private async _poll(id: string): Promise<IExportState> {
    for (;;) {
      const state = await requestAPI<IExportState>(`exports/${encodeURIComponent(id)}`);
      this._progress.value = state.progress || 0;
      this._message.textContent = state.message || state.state;
      if (state.state === 'done' || state.state === 'failed') {
        return state;
      }
      await new Promise(resolve => setTimeout(resolve, this._options.pollInterval()));
    }
  }

  /** Export a variable of the active notebook through a `%savedmodel` cell. */
  private async _runInNotebook(destination: string): Promise<void> {
    const f = this._fields;
    const variable = f.variable.value.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(variable)) {
      this._showError(
        'Enter the name of a model variable of the active notebook, e.g. "model".'
      );
      return;
    }
    const panel = this._options.notebooks?.currentWidget;
    if (!panel) {
      this._showError('Open the notebook that holds the model first.');
      return;
    }
    const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : JSON.stringify(s));
    const args = [`%savedmodel ${variable} ${quote(destination)}`];
    if (f.version.value) {
      args.push(`--version ${parseInt(f.version.value, 10)}`);
    }
    const signature = f.signature.value.trim();
    if (signature && signature !== 'serving_default') {
      args.push(`--signature ${quote(signature)}`);
    }
    if (f.overwrite.checked) {
      args.push('--overwrite');
    }
    if (!f.verify.checked) {
      args.push('--no-verify');
    }
    if (f.float16.checked) {
      args.push('--weights-dtype float16');
    }
    const notebook = panel.content;
    NotebookActions.insertBelow(notebook);
    const cell = notebook.activeCell;
    if (!cell) {
      this._showError('Could not insert a cell in the active notebook.');
      return;
    }
    // reload_ext: works in any Python kernel, whether or not it preloads the workbench.
    cell.model.sharedModel.setSource(
      `%reload_ext jupyter_workbench\n_export = ${args.join(' ')}`
    );
    await NotebookActions.run(notebook, panel.sessionContext);
    this._message.textContent = 'Export cell inserted and run in the active notebook.';
  }

  private _showError(message: string): void {
    this._message.textContent = message;
    this._message.classList.add('jp-mod-error');
  }

  private _options: IExportPanelOptions;
  private _fields: { [name: string]: HTMLInputElement } = {};
  private _button: HTMLButtonElement;
  private _progress: HTMLProgressElement;
  private _message: HTMLDivElement;
  private _result: HTMLDivElement;
  private _fileRow: HTMLElement;
  private _varRow: HTMLElement;
}

/** The result summary: version, path, size, diff, and each signature's tensors. */
export function renderResult(result: IExportResult): HTMLElement {
  const shape = (s: (number | null)[] | null) =>
    s === null
      ? '(unknown rank)'
      : `(${s.map(d => (d === null ? '-1' : String(d))).join(', ')})`;
  const dl = h(
    'dl',
    { className: 'jp-WorkbenchExport-summary' },
    h('dt', {}, 'Version'),
    h('dd', { 'data-field': 'version' }, String(result.version)),
    h('dt', {}, 'Path'),
    h('dd', { 'data-field': 'path' }, result.path),
    h('dt', {}, 'Size'),
    h('dd', { 'data-field': 'size' }, formatBytes(result.size_bytes)),
    h('dt', {}, 'Max abs diff'),
    h(
      'dd',
      { 'data-field': 'max_abs_diff' },
      result.max_abs_diff === null ? 'not verified' : result.max_abs_diff.toExponential(2)
    )
  );
  const sigs = h('div', { className: 'jp-WorkbenchExport-signatures' });
  for (const [name, sig] of Object.entries(result.signatures)) {
    const list = h('ul', {});
    for (const [kind, tensors] of [
      ['in', sig.inputs],
      ['out', sig.outputs]
    ] as const) {
      for (const [tname, t] of Object.entries(tensors)) {
        list.append(h('li', {}, `${kind}: ${tname} ${t.dtype} ${shape(t.shape)}`));
      }
    }
    sigs.append(h('div', { 'data-signature': name }, h('strong', {}, name), list));
  }
  const warnings = (result.warnings || []).map(w =>
    h('div', { className: 'jp-mod-warning' }, w)
  );
  return h('div', {}, dl, sigs, ...warnings);
}
