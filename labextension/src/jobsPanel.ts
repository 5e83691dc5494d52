/**
 * Background jobs (frontend): a `JobsModel` that owns the jobs REST calls and polls them, and
 * the sidebar's "Jobs" section that renders from it. Start a notebook or script as a
 * background job (`POST workbench/api/jobs`), follow its state and its log as it runs, cancel
 * it, open its executed notebook. Jobs run detached from the browser and the login, so this
 * list is also where they are found again after a reload, a re-login or a server restart.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { button, h, row, say, textInput, useSelectedButton } from './dom';
import { TRANSLATION_DOMAIN } from './tokens';

export interface IJob {
  id: string;
  name: string;
  kind: 'notebook' | 'python' | 'shell';
  path: string | null;
  environment: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  reason: string | null;
  output: string | null;
}

export interface IJobLog {
  id: string;
  log: string;
  size: number;
  truncated: boolean;
}

export const RUNNABLE = /\.(ipynb|py|sh)$/i;

/** "12 s", "3 min 4 s", "1.5 h". */
export function duration(job: IJob, now = Date.now() / 1000): string {
  const start = job.started_at ?? job.created_at;
  const end = job.ended_at ?? now;
  const s = Math.max(0, Math.round(end - start));
  return s < 60
    ? `${s} s`
    : s < 3600
      ? `${Math.floor(s / 60)} min ${s % 60} s`
      : `${(s / 3600).toFixed(1)} h`;
}

/** Jobs whose state changed between two listings from running to a final state. */
export function finishedSince(before: IJob[], after: IJob[]): IJob[] {
  const running = new Set(before.filter(j => j.state === 'running').map(j => j.id));
  return after.filter(j => running.has(j.id) && j.state !== 'running');
}

/**
 * The jobs as the server lists them. Polls every `interval` ms while a job runs or a log is
 * watched (slowly otherwise), in standby while the page or the panel is hidden; emits
 * `changed` after each listing and `finished` for each job that ended since the last one.
 */
export class JobsModel {
  constructor(options: { interval?: number; standby?: () => boolean } = {}) {
    this._interval = options.interval ?? 2000;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: { interval: this._interval, backoff: true, max: 60_000 },
      name: 'jupyter-workbench:jobs',
      standby: () => options.standby?.() || 'when-hidden'
    });
  }

  get changed(): ISignal<this, IJob[]> {
    return this._changed;
  }

  /** A job that was running at the previous listing has ended. */
  get finished(): ISignal<this, IJob> {
    return this._finished;
  }

  /** A watched job's log was (re)read. */
  get logChanged(): ISignal<this, IJobLog> {
    return this._logChanged;
  }

  get jobs(): IJob[] {
    return this._jobs;
  }

  get running(): IJob[] {
    return this._jobs.filter(j => j.state === 'running');
  }

  get error(): string | null {
    return this._error;
  }

  log(id: string): IJobLog | undefined {
    return this._logs.get(id);
  }

  /** Start polling (idempotent) and list now. */
  async refresh(): Promise<void> {
    if (this._poll.state.phase === 'constructed') {
      void this._poll.start();
    }
    await this._poll.refresh();
    await this._poll.tick;
  }

  async submit(path: string, environment = ''): Promise<IJob> {
    const body: { path: string; environment?: string } = { path };
    if (environment) {
      body.environment = environment;
    }
    const job = await requestAPI<IJob>('jobs', {
      method: 'POST',
      body: JSON.stringify(body)
    });
    await this.refresh();
    return job;
  }

  async cancel(id: string): Promise<IJob> {
    const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(id)}`, {
      method: 'DELETE'
    });
    await this.refresh();
    return job;
  }

  /** Follow (or stop following) a job's log: it is re-read on each tick while watched. */
  watch(id: string, on: boolean): void {
    if (on) {
      this._watched.add(id);
      void this._readLog(id);
      void this.refresh();
    } else {
      this._watched.delete(id);
    }
  }

  isWatched(id: string): boolean {
    return this._watched.has(id);
  }

  dispose(): void {
    this._poll.dispose();
  }

  private async _tick(): Promise<void> {
    let jobs: IJob[];
    try {
      jobs = await requestAPI<IJob[]>('jobs');
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
      this._changed.emit(this._jobs);
      return;
    }
    const before = this._jobs;
    this._jobs = jobs;
    // Often while something runs or a log is watched, rarely otherwise.
    const busy = this.running.length > 0 || this._watched.size > 0;
    const interval = busy ? this._interval : this._interval * 15;
    if (this._poll.frequency.interval !== interval) {
      this._poll.frequency = { ...this._poll.frequency, interval };
    }
    this._changed.emit(jobs);
    if (this._listed) {
      for (const job of finishedSince(before, jobs)) {
        this._finished.emit(job);
      }
    }
    this._listed = true;
    await Promise.all([...this._watched].map(id => this._readLog(id)));
  }

  private async _readLog(id: string): Promise<void> {
    try {
      const log = await requestAPI<IJobLog>(`jobs/${encodeURIComponent(id)}/log`);
      this._logs.set(id, log);
      this._logChanged.emit(log);
    } catch (error) {
      const log = { id, log: (error as Error).message, size: 0, truncated: false };
      this._logs.set(id, log);
      this._logChanged.emit(log);
    }
  }

  private _poll: Poll;
  private _jobs: IJob[] = [];
  private _listed = false;
  private _interval: number;
  private _error: string | null = null;
  private _logs = new Map<string, IJobLog>();
  private _watched = new Set<string>();
  private _changed = new Signal<this, IJob[]>(this);
  private _finished = new Signal<this, IJob>(this);
  private _logChanged = new Signal<this, IJobLog>(this);
}

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
    const meta = h(
      'div',
      { className: 'jp-WorkbenchJobs-meta' },
      `${job.environment} · ${when} · ${duration(job)}` +
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
    }
    item.append(actions);
    if (watched) {
      const log = this._model.log(job.id);
      item.append(
        h('pre', { className: 'jp-WorkbenchJobs-log' }, log ? this._logText(log) : '…')
      );
    }
    return item;
  }

  private _logText(log: IJobLog): string {
    return (log.truncated ? '…\n' : '') + (log.log || this._trans.__('(no output yet)'));
  }

  private _onLog(_: JobsModel, log: IJobLog): void {
    const pre = this._list.querySelector(
      `[data-job="${log.id}"] .jp-WorkbenchJobs-log`
    ) as HTMLElement | null;
    if (pre) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = this._logText(log);
      if (atEnd) {
        pre.scrollTop = pre.scrollHeight;
      }
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
