/**
 * The sidebar's "Export to SavedModel" section.
 *
 * A model file is exported by the server through the `ExportsModel` (an export is a job of
 * the server: after a reload the panel shows the export this browser started last, its
 * progress while it runs, then its result); a notebook variable is exported by inserting and
 * running one `%savedmodel` cell in the active notebook (the extension is loaded silently
 * first, so no helper code ever lands in the user's notebook). Both end in the same library
 * call, `export_savedmodel`.
 */
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  button,
  checkbox,
  formatBytes,
  h,
  row,
  say,
  textInput,
  useSelectedButton
} from './dom';
import { ExportsModel, exportEnded } from './exportsModel';
import {
  IExportRequest,
  IExportResult,
  IExportState,
  TRANSLATION_DOMAIN
} from './tokens';

export interface IExportPanelOptions {
  notebooks: INotebookTracker | null;
  /** Path of the item selected in the file browser, if any. */
  selectedPath: () => string | null;
  pollInterval: () => number;
  defaultDestination: () => string;
  trans?: TranslationBundle;
  /** The exports (default: a new model polling every `pollInterval()` ms while one runs). */
  model?: ExportsModel;
}

/** Suggest `models/<stem>` for `path/to/<stem>.keras`. */
export function suggestDestination(source: string, base: string): string {
  const name = source.split('/').pop() || 'model';
  const stem = name.replace(/\.(keras|h5|hdf5)$/i, '') || 'model';
  return `${base.replace(/\/+$/, '')}/${stem}`;
}

/** Warmup records per signature when the Export panel's warmup box is ticked. */
const WARMUP_RECORDS = 5;

/** The `%savedmodel` line for a notebook variable, with only the non-default options. */
export function savedmodelLine(
  variable: string,
  destination: string,
  options: {
    version?: number | null;
    signature?: string;
    overwrite?: boolean;
    verify?: boolean;
    float16?: boolean;
    warmup?: number;
  } = {}
): string {
  const quote = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : JSON.stringify(s));
  const args = [`%savedmodel ${variable} ${quote(destination)}`];
  if (options.version) {
    args.push(`--version ${options.version}`);
  }
  const signature = (options.signature ?? '').trim();
  if (signature && signature !== 'serving_default') {
    args.push(`--signature ${quote(signature)}`);
  }
  if (options.overwrite) {
    args.push('--overwrite');
  }
  if (options.verify === false) {
    args.push('--no-verify');
  }
  if (options.float16) {
    args.push('--weights-dtype float16');
  }
  if (options.warmup) {
    args.push(`--warmup ${options.warmup}`);
  }
  return args.join(' ');
}

export class ExportPanel extends Widget {
  constructor(options: IExportPanelOptions) {
    super();
    this._options = options;
    const trans = (this._trans =
      options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN));
    this._model =
      options.model ?? new ExportsModel({ interval: options.pollInterval, trans });
    this._model.changed.connect(this._onExportsChanged, this);
    this.addClass('jp-WorkbenchExport');
    const f = this._fields;
    f.kindFile = h('input', {
      type: 'radio',
      name: 'wb-export-kind',
      value: 'file',
      checked: true
    });
    f.kindVar = h('input', { type: 'radio', name: 'wb-export-kind', value: 'variable' });
    const source = textInput(trans.__('Model file'), {
      placeholder: trans.__('model.keras, .h5 or a SavedModel folder')
    });
    f.source = source.input;
    const variable = textInput(trans.__('Notebook variable'), { placeholder: 'model' });
    f.variable = variable.input;
    const destination = textInput(trans.__('Destination'), {
      placeholder: 'models/mymodel'
    });
    f.destination = destination.input;
    const version = textInput(trans.__('Version'), {
      type: 'number',
      min: '1',
      placeholder: trans.__('next')
    });
    f.version = version.input;
    const signature = textInput(trans.__('Signature'), { value: 'serving_default' });
    f.signature = signature.input;
    const verify = checkbox(trans.__('Verify'), { checked: true });
    f.verify = verify.input;
    const overwrite = checkbox(trans.__('Overwrite'));
    f.overwrite = overwrite.input;
    const float16 = checkbox(trans.__('float16 weights'));
    f.float16 = float16.input;
    const warmup = checkbox(trans.__('TF Serving warmup requests'), {
      title: trans.__(
        'Write %1 warmup requests per signature into assets.extra (replayed before serving)',
        WARMUP_RECORDS
      )
    });
    f.warmup = warmup.input;
    const useSelected = useSelectedButton(
      () => this._options.selectedPath(),
      path => this.setSource(path),
      {
        label: trans.__('Use selected'),
        title: trans.__('Use the file selected in the file browser')
      },
      () => this._showError(trans.__('Select a model file in the file browser first.'))
    );
    this._button = button(trans.__('Export'), { kind: 'accept' });
    this._button.classList.add('jp-WorkbenchExport-run');
    this._button.addEventListener('click', () => void this.run());
    this._progress = h('progress', { max: '1', value: '0' });
    this._progress.hidden = true;
    this._message = h('div', { className: 'jp-WorkbenchExport-message', role: 'status' });
    this._result = h('div', { className: 'jp-WorkbenchExport-result' });

    this._fileRow = row(
      trans.__('Model file'),
      h('div', { className: 'jp-WorkbenchForm-controls' }, source.group, useSelected)
    );
    this._fileRow.classList.add('jp-WorkbenchExport-fileRow');
    this._varRow = row(trans.__('Variable'), variable.group);
    this._varRow.classList.add('jp-WorkbenchExport-varRow');
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
        { className: 'jp-WorkbenchExport-kind', role: 'radiogroup' },
        h(
          'label',
          { className: 'jp-WorkbenchCheckbox' },
          f.kindFile,
          h('span', {}, trans.__('Model file'))
        ),
        h(
          'label',
          { className: 'jp-WorkbenchCheckbox' },
          f.kindVar,
          h('span', {}, trans.__('Notebook variable'))
        )
      ),
      this._fileRow,
      this._varRow,
      row(trans.__('Destination'), destination.group),
      row(trans.__('Version'), version.group),
      row(trans.__('Signature'), signature.group),
      h(
        'div',
        { className: 'jp-WorkbenchExport-flags' },
        verify.label,
        overwrite.label,
        float16.label,
        warmup.label
      ),
      h('div', { className: 'jp-WorkbenchForm-actions' }, this._button),
      this._progress,
      this._message,
      this._result
    );
  }

  get model(): ExportsModel {
    return this._model;
  }

  /** Ask the server for its exports: a running one (or the one started here before a
   * reload) shows in the panel. */
  refresh(): Promise<void> {
    return this._model.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    if (!this._options.model) {
      this._model.dispose();
    }
    super.dispose();
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
    const trans = this._trans;
    this._result.replaceChildren();
    say(this._message, '');
    const f = this._fields;
    const destination = f.destination.value.trim();
    if (!destination) {
      this._showError(
        trans.__(
          'Choose a destination (a folder under the server root, a mount or an oss:// URL).'
        )
      );
      return;
    }
    if (f.kindVar.checked) {
      await this._runInNotebook(destination);
      return;
    }
    const source = f.source.value.trim();
    if (!source) {
      this._showError(
        trans.__('Choose a model file (.keras, .h5 or a SavedModel folder).')
      );
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
    if (f.warmup.checked) {
      request.warmup = WARMUP_RECORDS;
    }
    if (f.version.value) {
      request.version = parseInt(f.version.value, 10);
    }
    this._button.disabled = true;
    let id: string;
    try {
      id = await this._model.start(request);
    } catch (error) {
      this._showError((error as Error).message);
      this._button.disabled = false;
      return;
    }
    await this._follow(id);
  }

  /** Show export `id`: its progress while it runs, then its result or error. */
  private async _follow(id: string): Promise<void> {
    const trans = this._trans;
    if (this._following === id) {
      return;
    }
    this._following = id;
    this._reattached = true;
    this._result.replaceChildren();
    this._button.disabled = true;
    this._progress.hidden = false;
    this._progress.value = 0;
    const known = this._model.get(id);
    if (known) {
      this._showProgress(known);
    }
    try {
      const final = await this._model.wait(id);
      if (this._following !== id) {
        return; // (another export took the panel)
      }
      if (final.state === 'done' && final.result) {
        say(this._message, trans.__('Export finished.'));
        this._result.append(renderResult(final.result, trans));
        this._result.scrollIntoView?.({ block: 'nearest' }); // (the section may be short)
      } else {
        this._showError(final.error || trans.__('The export failed.'));
      }
    } catch (error) {
      this._showError((error as Error).message);
    } finally {
      if (this._following === id) {
        this._following = null;
        this._button.disabled = false;
        this._progress.hidden = true;
      }
    }
  }

  private _showProgress(state: IExportState): void {
    const trans = this._trans;
    this._progress.value = state.progress || 0;
    const stateText: { [state: string]: string } = {
      queued: trans.__('queued'),
      running: trans.__('running'),
      done: trans.__('done'),
      failed: trans.__('failed')
    };
    say(this._message, state.message || stateText[state.state] || state.state);
  }

  /** Each listing: the followed export's progress; after a reload, the export to show. */
  private _onExportsChanged(model: ExportsModel): void {
    if (this._following) {
      const state = model.get(this._following);
      if (state && !exportEnded(state)) {
        this._showProgress(state);
      }
      return;
    }
    if (this._reattached || !model.loaded) {
      return;
    }
    this._reattached = true; // (once, at the first listing: later ones are the user's)
    const current = model.current;
    if (current) {
      void this._follow(current.id);
    }
  }

  /** Export a variable of the active notebook through one `%savedmodel` cell. */
  private async _runInNotebook(destination: string): Promise<void> {
    const trans = this._trans;
    const f = this._fields;
    const variable = f.variable.value.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(variable)) {
      this._showError(
        trans.__(
          'Enter the name of a model variable of the active notebook, e.g. "model".'
        )
      );
      return;
    }
    const panel = this._options.notebooks?.currentWidget;
    if (!panel) {
      this._showError(trans.__('Open the notebook that holds the model first.'));
      return;
    }
    const kernel = panel.sessionContext.session?.kernel;
    if (!kernel) {
      this._showError(trans.__('The active notebook has no running kernel.'));
      return;
    }
    // Load the magic quietly (a silent request's output never reaches the notebook), so
    // the cell holds only the %savedmodel line, in kernels that preload the workbench or not.
    await kernel.requestExecute({
      code: "get_ipython().extension_manager.load_extension('jupyter_workbench')",
      silent: true,
      store_history: false
    }).done;
    const line = savedmodelLine(variable, destination, {
      version: f.version.value ? parseInt(f.version.value, 10) : null,
      signature: f.signature.value,
      overwrite: f.overwrite.checked,
      verify: f.verify.checked,
      float16: f.float16.checked,
      warmup: f.warmup.checked ? WARMUP_RECORDS : 0
    });
    const notebook = panel.content;
    NotebookActions.insertBelow(notebook);
    const cell = notebook.activeCell;
    if (!cell) {
      this._showError(trans.__('Could not insert a cell in the active notebook.'));
      return;
    }
    cell.model.sharedModel.setSource(line);
    await NotebookActions.run(notebook, panel.sessionContext);
    say(this._message, trans.__('Export cell inserted and run in the active notebook.'));
  }

  private _showError(message: string): void {
    say(this._message, message, true);
  }

  private _options: IExportPanelOptions;
  private _trans: TranslationBundle;
  private _model: ExportsModel;
  private _following: string | null = null;
  private _reattached = false;
  private _fields: { [name: string]: HTMLInputElement } = {};
  private _button: HTMLButtonElement;
  private _progress: HTMLProgressElement;
  private _message: HTMLDivElement;
  private _result: HTMLDivElement;
  private _fileRow: HTMLElement;
  private _varRow: HTMLElement;
}

/** The result summary: version, path, size, diff, and each signature's tensors. */
export function renderResult(
  result: IExportResult,
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): HTMLElement {
  const shape = (s: (number | null)[] | null) =>
    s === null
      ? trans.__('(unknown rank)')
      : `(${s.map(d => (d === null ? '-1' : String(d))).join(', ')})`;
  const dl = h(
    'dl',
    { className: 'jp-WorkbenchExport-summary' },
    h('dt', {}, trans.__('Version')),
    h('dd', { 'data-field': 'version' }, String(result.version)),
    h('dt', {}, trans.__('Path')),
    h('dd', { 'data-field': 'path' }, result.path),
    h('dt', {}, trans.__('Size')),
    h('dd', { 'data-field': 'size' }, formatBytes(result.size_bytes)),
    h('dt', {}, trans.__('Max abs diff')),
    h(
      'dd',
      { 'data-field': 'max_abs_diff' },
      result.max_abs_diff === null
        ? trans.__('not verified')
        : result.max_abs_diff.toExponential(2)
    )
  );
  const sigs = h('div', { className: 'jp-WorkbenchExport-signatures' });
  for (const [name, sig] of Object.entries(result.signatures)) {
    const list = h('ul', {});
    for (const [kind, tensors] of [
      [trans.__('in'), sig.inputs],
      [trans.__('out'), sig.outputs]
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
