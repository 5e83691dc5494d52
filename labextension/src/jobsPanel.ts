/**
 * The "Jobs" part of the sidebar's "Session & jobs" section: start a notebook or script as
 * a background job (`POST workbench/api/jobs`), follow its state and log, cancel it. Jobs
 * run detached from the browser and the login, so this list is also where they are found
 * again after a reload, a re-login or a server restart.
 */
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { h, useSelectedButton } from './dom';

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

export interface IJobsPanelOptions {
  /** Path of the item selected in the file browser, if any. */
  selectedPath: () => string | null;
  /** Kernel names to offer as environments. */
  environments: () => string[];
  /** Whether requests may be sent (false while logged out: polling pauses). */
  canPoll: () => boolean;
  /** Open a file (the executed notebook) in JupyterLab. */
  openPath?: (path: string) => void;
}

function duration(job: IJob): string {
  const start = job.started_at ?? job.created_at;
  const end = job.ended_at ?? Date.now() / 1000;
  const s = Math.max(0, Math.round(end - start));
  return s < 60
    ? `${s} s`
    : s < 3600
      ? `${Math.floor(s / 60)} min ${s % 60} s`
      : `${(s / 3600).toFixed(1)} h`;
}

export class JobsPanel extends Widget {
  constructor(options: IJobsPanelOptions) {
    super();
    this._options = options;
    this.addClass('jp-WorkbenchJobs');
    this._path = h('input', {
      type: 'text',
      placeholder: 'train.ipynb, script.py or run.sh',
      'aria-label': 'Job file'
    });
    this._environment = h('input', {
      type: 'text',
      placeholder: 'default',
      list: 'jp-WorkbenchJobs-environments',
      'aria-label': 'Environment'
    });
    this._datalist = h('datalist', { id: 'jp-WorkbenchJobs-environments' });
    const useSelected = useSelectedButton(
      () => this._options.selectedPath(),
      path => {
        this._path.value = path;
      }
    );
    const run = h(
      'button',
      { type: 'submit', className: 'jp-mod-styled jp-mod-accept' },
      'Run'
    );
    const form = h(
      'form',
      { className: 'jp-WorkbenchJobs-form' },
      h(
        'label',
        { className: 'jp-WorkbenchForm-row' },
        h('span', {}, 'File'),
        this._path
      ),
      h('div', { className: 'jp-WorkbenchForm-row' }, useSelected),
      h(
        'label',
        { className: 'jp-WorkbenchForm-row' },
        h('span', {}, 'Environment'),
        this._environment
      ),
      this._datalist,
      h('div', { className: 'jp-WorkbenchForm-row' }, run)
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.submit(this._path.value.trim(), this._environment.value.trim());
    });
    this._message = h('p', { className: 'jp-WorkbenchJobs-message', role: 'status' });
    this._list = h('ul', { className: 'jp-WorkbenchJobs-list' });
    this.node.append(form, this._message, this._list);
  }

  /** Start a job; shows the server's message when it refuses. */
  async submit(path: string, environment = ''): Promise<IJob | null> {
    if (!path) {
      this._say('Choose a notebook (.ipynb), Python (.py) or shell (.sh) file.', true);
      return null;
    }
    const body: { path: string; environment?: string } = { path };
    if (environment) {
      body.environment = environment;
    }
    try {
      const job = await requestAPI<IJob>('jobs', {
        method: 'POST',
        body: JSON.stringify(body)
      });
      this._say(`Started ${job.name} (job ${job.id}).`, false);
      await this.refresh();
      return job;
    } catch (error) {
      this._say((error as Error).message, true);
      return null;
    }
  }

  /** Fetch the job list and redraw it. */
  async refresh(): Promise<void> {
    let jobs: IJob[];
    try {
      jobs = await requestAPI<IJob[]>('jobs');
    } catch (error) {
      this._say(`Could not list jobs: ${(error as Error).message}`, true);
      return;
    }
    this._jobs = jobs;
    this._render();
    for (const id of this._openLogs) {
      void this._loadLog(id);
    }
  }

  protected onAfterShow(): void {
    this._startPolling();
  }

  protected onAfterAttach(): void {
    this._startPolling();
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this._timer);
    this._timer = 0;
  }

  private _startPolling(): void {
    this._fillEnvironments();
    void this.refresh();
    if (!this._timer) {
      this._timer = window.setInterval(() => {
        const running = this._jobs.some(j => j.state === 'running');
        if (
          this.isVisible &&
          this._options.canPoll() &&
          (running || this._openLogs.size)
        ) {
          void this.refresh();
        }
      }, 2000);
    }
  }

  private _fillEnvironments(): void {
    this._datalist.replaceChildren(
      ...this._options.environments().map(name => h('option', { value: name }))
    );
  }

  private _render(): void {
    if (!this._jobs.length) {
      this._list.replaceChildren(
        h('li', { className: 'jp-WorkbenchJobs-empty' }, 'No jobs yet.')
      );
      return;
    }
    const items = [...this._jobs].reverse().map(job => this._item(job));
    this._list.replaceChildren(...items);
  }

  private _item(job: IJob): HTMLLIElement {
    const state = h(
      'span',
      { className: 'jp-WorkbenchJobs-state', 'data-state': job.state },
      job.state
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
        (job.exit_code !== null && job.exit_code !== 0 ? ` · exit ${job.exit_code}` : '')
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
    const logOpen = this._openLogs.has(job.id);
    const logButton = h(
      'button',
      { type: 'button', className: 'jp-mod-styled' },
      logOpen ? 'Hide log' : 'Log'
    );
    logButton.addEventListener('click', () => {
      if (this._openLogs.has(job.id)) {
        this._openLogs.delete(job.id);
      } else {
        this._openLogs.add(job.id);
        void this._loadLog(job.id);
      }
      this._render();
    });
    actions.append(logButton);
    if (job.output && job.state !== 'running' && this._options.openPath) {
      const open = h(
        'button',
        { type: 'button', className: 'jp-mod-styled' },
        'Open output'
      );
      open.addEventListener('click', () => this._options.openPath!(job.output!));
      actions.append(open);
    }
    if (job.state === 'running') {
      const cancel = h(
        'button',
        { type: 'button', className: 'jp-mod-styled jp-mod-warn' },
        'Cancel'
      );
      cancel.addEventListener('click', () => void this._cancel(job));
      actions.append(cancel);
    }
    item.append(actions);
    if (logOpen) {
      const pre = h(
        'pre',
        { className: 'jp-WorkbenchJobs-log' },
        this._logs.get(job.id) ?? '…'
      );
      item.append(pre);
    }
    return item;
  }

  private async _loadLog(id: string): Promise<void> {
    try {
      const log = await requestAPI<IJobLog>(`jobs/${encodeURIComponent(id)}/log`);
      this._logs.set(id, (log.truncated ? '…\n' : '') + (log.log || '(no output yet)'));
    } catch (error) {
      this._logs.set(id, `Could not read the log: ${(error as Error).message}`);
    }
    const pre = this._list.querySelector(`[data-job="${id}"] .jp-WorkbenchJobs-log`);
    if (pre) {
      pre.textContent = this._logs.get(id) ?? '';
      pre.scrollTop = pre.scrollHeight;
    }
  }

  private async _cancel(job: IJob): Promise<void> {
    try {
      await requestAPI<IJob>(`jobs/${encodeURIComponent(job.id)}`, { method: 'DELETE' });
      this._say(`Cancelled ${job.name}.`, false);
    } catch (error) {
      this._say((error as Error).message, true);
    }
    await this.refresh();
  }

  private _say(text: string, error: boolean): void {
    this._message.textContent = text;
    this._message.classList.toggle('jp-mod-error', error);
  }

  private _options: IJobsPanelOptions;
  private _path: HTMLInputElement;
  private _environment: HTMLInputElement;
  private _datalist: HTMLDataListElement;
  private _message: HTMLParagraphElement;
  private _list: HTMLUListElement;
  private _jobs: IJob[] = [];
  private _logs = new Map<string, string>();
  private _openLogs = new Set<string>();
  private _timer = 0;
}
