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
import {
  appendLog,
  duration,
  finishedSince,
  ILogBuffer,
  IJob,
  RUNNABLE,
  standby
} from './util';

export { RUNNABLE };
export type { IJob };

/** `GET workbench/api/jobs/{id}/log?offset=N`: the log's bytes from `offset` to `next`. */
export interface IJobLogReply {
  id: string;
  log: string;
  size: number;
  offset: number;
  next: number;
  truncated: boolean;
}

/** A watched job's log as the panel shows it. */
export interface IJobLog extends ILogBuffer {
  id: string;
  /** Why the last read failed, if it did. */
  error: string | null;
}

/**
 * The jobs as the server lists them. Polls every `interval` ms while a job runs (slowly
 * otherwise), in standby while the page is hidden or the user is logged out; emits `changed`
 * after each listing and `finished` for each job that ended since the last one.
 *
 * A watched job's log is followed by a second poll, every `logInterval` ms, that asks only
 * for what was written since the last read (`?offset=`), so output shows as cells print it.
 */
export class JobsModel {
  constructor(
    options: {
      interval?: number;
      logInterval?: number;
      standby?: () => boolean | 'when-hidden';
    } = {}
  ) {
    this._interval = options.interval ?? 2000;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: { interval: this._interval, backoff: true, max: 60_000 },
      name: 'jupyter-workbench:jobs',
      standby: options.standby ?? standby
    });
    this._logPoll = new Poll({
      auto: false,
      factory: () => this._readLogs(),
      frequency: { interval: options.logInterval ?? 1000, backoff: true, max: 30_000 },
      name: 'jupyter-workbench:job-logs',
      standby: options.standby ?? standby
    });
  }

  get changed(): ISignal<this, IJob[]> {
    return this._changed;
  }

  /** A job that was running at the previous listing has ended. */
  get finished(): ISignal<this, IJob> {
    return this._finished;
  }

  /** A watched job's log grew (or its read failed). */
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

  /** Follow (or stop following) a job's log: what it adds is read on each log tick. */
  watch(id: string, on: boolean): void {
    if (on) {
      this._watched.add(id);
      if (this._logPoll.state.phase === 'constructed') {
        void this._logPoll.start();
      }
      void this._logPoll.refresh();
    } else {
      this._watched.delete(id);
      this._logs.delete(id);
      if (!this._watched.size) {
        void this._logPoll.stop();
      }
    }
  }

  isWatched(id: string): boolean {
    return this._watched.has(id);
  }

  dispose(): void {
    this._poll.dispose();
    this._logPoll.dispose();
    Signal.clearData(this);
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
    // Often while something runs, rarely otherwise.
    const busy = this.running.length > 0;
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
  }

  private async _readLogs(): Promise<void> {
    await Promise.all([...this._watched].map(id => this._readLog(id)));
  }

  /** Read what the log gained since the last read (the tail on the first). */
  private async _readLog(id: string): Promise<void> {
    const known = this._logs.get(id);
    const job = this._jobs.find(j => j.id === id);
    if (known && !known.error && job && job.state !== 'running' && known.final) {
      return; // ended, and read to its end after it ended
    }
    const query = known && !known.error ? `?offset=${known.next}` : '';
    let log: IJobLog & { final?: boolean };
    try {
      const reply = await requestAPI<IJobLogReply>(
        `jobs/${encodeURIComponent(id)}/log${query}`
      );
      if (!this._watched.has(id)) {
        return;
      }
      if (known && !known.error && reply.log === '' && reply.next === known.next) {
        known.final = !!job && job.state !== 'running';
        return; // nothing new
      }
      log = { id, error: null, ...appendLog(known?.error ? undefined : known, reply) };
    } catch (error) {
      log = {
        id,
        text: known?.text ?? '',
        next: known?.next ?? 0,
        truncated: known?.truncated ?? false,
        error: (error as Error).message
      };
    }
    this._logs.set(id, log);
    this._logChanged.emit(log);
  }

  private _poll: Poll;
  private _jobs: IJob[] = [];
  private _listed = false;
  private _interval: number;
  private _error: string | null = null;
  private _logPoll: Poll;
  private _logs = new Map<string, IJobLog & { final?: boolean }>();
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
