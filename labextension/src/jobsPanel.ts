/**
 * Background jobs (frontend): a `JobsModel` that owns the jobs REST calls and polls them, and
 * the sidebar's "Jobs" section that renders from it. Start a notebook or script as a
 * background job (`POST workbench/api/jobs`), follow its state and its log as it runs, cancel
 * it, open its executed notebook. Jobs run detached from the browser and the login, so this
 * list is also where they are found again after a reload, a re-login or a server restart.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { button, h, row, say, textInput, useSelectedButton } from './dom';
import { TRANSLATION_DOMAIN } from './tokens';
import { IJobLog, JobsModel } from './jobsModel';
import { duration, IJob, RUNNABLE } from './util';

export { JobsModel, RUNNABLE };
export type { IJob, IJobLog };

export interface IJobsPanelOptions {
  model: JobsModel;
  /** Path of the item selected in the file browser, if any. */
  selectedPath: () => string | null;
  /** Kernel names to offer as environments. */
  environments: () => string[];
  /** Open a job's executed notebook; rejects with a message when it cannot. */
  openOutput?: (job: IJob) => Promise<void>;
  trans?: TranslationBundle;
}

export class JobsPanel extends Widget {
  constructor(options: IJobsPanelOptions) {
    super();
    this._options = options;
    this._model = options.model;
    const trans = (this._trans =
      options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN));
    this.addClass('jp-WorkbenchJobs');
    const path = textInput(trans.__('Job file'), {
      placeholder: trans.__('train.ipynb, script.py or run.sh')
    });
    this._path = path.input;
    const environment = textInput(trans.__('Environment'), {
      placeholder: trans.__('default'),
      list: 'jp-WorkbenchJobs-environments'
    });
    this._environment = environment.input;
    this._datalist = h('datalist', { id: 'jp-WorkbenchJobs-environments' });
    const useSelected = useSelectedButton(
      () => this._options.selectedPath(),
      p => {
        this._path.value = p;
      },
      {
        label: trans.__('Use selected'),
        title: trans.__('Use the file selected in the file browser')
      }
    );
    const run = button(trans.__('Run'), { kind: 'accept', type: 'submit' });
    this._form = h(
      'form',
      { className: 'jp-WorkbenchJobs-form' },
      row(
        trans.__('File'),
        h('div', { className: 'jp-WorkbenchForm-controls' }, path.group, useSelected)
      ),
      row(trans.__('Environment'), environment.group),
      this._datalist,
      h('div', { className: 'jp-WorkbenchForm-actions' }, run)
    );
    this._form.addEventListener('submit', event => {
      event.preventDefault();
      void this.submit(this._path.value.trim(), this._environment.value.trim());
    });
    this._message = h('p', { className: 'jp-WorkbenchJobs-message', role: 'status' });
    this._list = h('ul', { className: 'jp-WorkbenchJobs-list' });
    // The list first: it is what users come back for.
    this.node.append(this._list, this._message, this._form);
    this._model.changed.connect(this._render, this);
    this._model.logChanged.connect(this._onLog, this);
  }

  get model(): JobsModel {
    return this._model;
  }

  /** Start a job; shows the server's message when it refuses. */
  async submit(path: string, environment = ''): Promise<IJob | null> {
    const trans = this._trans;
    if (!path) {
      say(
        this._message,
        trans.__('Choose a notebook (.ipynb), Python (.py) or shell (.sh) file.'),
        true
      );
      return null;
    }
    try {
      const job = await this._model.submit(path, environment);
      say(this._message, trans.__('Started %1 (job %2).', job.name, job.id));
      return job;
    } catch (error) {
      say(this._message, (error as Error).message, true);
      return null;
    }
  }

  /** Fetch the job list and redraw it. */
  async refresh(): Promise<void> {
    await this._model.refresh();
  }

  /** Focus the "run a job" form (the section's + button). */
  showForm(): void {
    this._path.focus();
    this._form.scrollIntoView({ block: 'nearest' });
  }

  protected onAfterShow(): void {
    this._fillEnvironments();
    void this._model.refresh();
  }

  protected onAfterAttach(): void {
    this._fillEnvironments();
    void this._model.refresh();
  }

  private _fillEnvironments(): void {
    this._datalist.replaceChildren(
      ...this._options.environments().map(name => h('option', { value: name }))
    );
  }

  private _render(): void {
    const trans = this._trans;
    if (this._model.error) {
      say(this._message, trans.__('Could not list jobs: %1', this._model.error), true);
    }
    const jobs = this._model.jobs;
    if (!jobs.length) {
      this._list.replaceChildren(
        h('li', { className: 'jp-WorkbenchJobs-empty' }, trans.__('No jobs yet.'))
      );
      return;
    }
    const items = [...jobs].reverse().map(job => this._item(job));
    this._list.replaceChildren(...items);
  }

  private _stateText(state: IJob['state']): string {
    const trans = this._trans;
    return (
      {
        running: trans.__('running'),
        succeeded: trans.__('succeeded'),
        failed: trans.__('failed'),
        cancelled: trans.__('cancelled')
      }[state] ?? state
    );
  }

  private _item(job: IJob): HTMLLIElement {
    const trans = this._trans;
    const state = h(
      'span',
      { className: 'jp-WorkbenchJobs-state', 'data-state': job.state },
      this._stateText(job.state)
    );
    const when = new Date((job.started_at ?? job.created_at) * 1000).toLocaleTimeString();
    const head = h(
      'div',
      { className: 'jp-WorkbenchJobs-head' },
      h(
        'span',
        { className: 'jp-WorkbenchJobs-name', title: job.path ?? job.name },
        job.name
      ),
      state
    );
    const kind =
      job.kind === 'export'
        ? trans.__('export')
        : job.kind === 'environment'
          ? trans.__('environment')
          : null;
    const progress = job.state === 'running' && job.message ? ` · ${job.message}` : '';
    const meta = h(
      'div',
      { className: 'jp-WorkbenchJobs-meta', 'data-kind': job.kind },
      (kind ? `${kind} · ` : '') +
        `${job.environment} · ${when} · ${duration(job)}${progress}` +
        (job.exit_code !== null && job.exit_code !== 0
          ? ' · ' + trans.__('exit %1', job.exit_code)
          : '')
    );
    const item = h(
      'li',
      { className: 'jp-WorkbenchJobs-item', 'data-job': job.id },
      head,
      meta
    );
    if (job.reason && job.state !== 'succeeded') {
      item.append(h('div', { className: 'jp-WorkbenchJobs-reason' }, job.reason));
    }
    const actions = h('div', { className: 'jp-WorkbenchJobs-actions' });
    const watched = this._model.isWatched(job.id);
    const logButton = button(watched ? trans.__('Hide log') : trans.__('Log'));
    logButton.addEventListener('click', () => {
      this._model.watch(job.id, !this._model.isWatched(job.id));
      this._render();
    });
    actions.append(logButton);
    if (job.kind === 'notebook' && job.state !== 'running' && this._options.openOutput) {
      const open = button(trans.__('Open output'));
      open.addEventListener('click', () => {
        this._options.openOutput!(job).catch(error =>
          say(this._message, (error as Error).message, true)
        );
      });
      actions.append(open);
    }
    if (job.state === 'running') {
      const cancel = button(trans.__('Cancel'), { kind: 'warn' });
      cancel.addEventListener('click', () => void this._cancel(job));
      actions.append(cancel);
    } else {
      const remove = button(trans.__('Remove'));
      remove.addEventListener('click', () => void this._remove(job));
      actions.append(remove);
    }
    item.append(actions);
    if (watched) {
      const log = this._model.log(job.id);
      item.append(
        h(
          'pre',
          {
            className: 'jp-WorkbenchJobs-log',
            'data-complete': String(!!log?.text && !log?.error)
          },
          log ? this._logText(log) : '…'
        )
      );
    }
    return item;
  }

  private _logText(log: IJobLog): string {
    const text =
      (log.truncated ? '…\n' : '') + (log.text || this._trans.__('(no output yet)'));
    return log.error
      ? `${text}\n${this._trans.__('Cannot read the log: %1', log.error)}`
      : text;
  }

  /** Show what a watched log gained: appended to what is shown, so nothing flickers. */
  private _onLog(_: JobsModel, log: IJobLog): void {
    const pre = this._list.querySelector(
      `[data-job="${log.id}"] .jp-WorkbenchJobs-log`
    ) as HTMLElement | null;
    if (!pre) {
      return;
    }
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const text = this._logText(log);
    const shown = pre.textContent ?? '';
    if (
      !log.error &&
      shown &&
      text.startsWith(shown) &&
      pre.dataset.complete === 'true'
    ) {
      pre.append(text.slice(shown.length));
    } else {
      pre.textContent = text;
    }
    pre.dataset.complete = String(!!log.text && !log.error);
    if (atEnd) {
      pre.scrollTop = pre.scrollHeight;
    }
  }

  private async _cancel(job: IJob): Promise<void> {
    const trans = this._trans;
    const result = await showDialog({
      title: trans.__('Cancel %1?', job.name),
      body: trans.__(
        'The job stops now; what it has not saved is lost. Its log stays here.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Keep running') }),
        Dialog.warnButton({ label: trans.__('Cancel job') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await this._model.cancel(job.id);
      say(this._message, trans.__('Cancelled %1.', job.name));
    } catch (error) {
      say(this._message, (error as Error).message, true);
    }
  }

  private async _remove(job: IJob): Promise<void> {
    const trans = this._trans;
    const result = await showDialog({
      title: trans.__('Remove %1?', job.name),
      body: trans.__(
        'The job and its log leave this list. The files it wrote (such as an executed notebook) stay.'
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Keep') }),
        Dialog.warnButton({ label: trans.__('Remove job') })
      ]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await this._model.remove(job.id);
      say(this._message, trans.__('Removed %1.', job.name));
    } catch (error) {
      say(this._message, (error as Error).message, true);
    }
  }

  private _options: IJobsPanelOptions;
  private _model: JobsModel;
  private _trans: TranslationBundle;
  private _form: HTMLFormElement;
  private _path: HTMLInputElement;
  private _environment: HTMLInputElement;
  private _datalist: HTMLDataListElement;
  private _message: HTMLParagraphElement;
  private _list: HTMLUListElement;
}
