/**
 * Background jobs as the frontend sees them: a model that owns the jobs REST calls, polls
 * the list and follows watched logs. The Jobs section and the status bar item render from it.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './api';
import { PollingModel } from './pollingModel';
import { appendLog, finishedSince, IJob, ILogBuffer, standby } from './util';

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
export class JobsModel extends PollingModel<IJob[]> {
  constructor(
    options: {
      interval?: number;
      logInterval?: number;
      standby?: () => boolean | 'when-hidden';
    } = {}
  ) {
    const interval = options.interval ?? 2000;
    super({
      name: 'jupyter-workbench:jobs',
      interval,
      max: 60_000,
      standby: options.standby
    });
    this._interval = interval;
    // A second poll follows the watched jobs' logs, more often than the list.
    this._logPoll = new Poll({
      auto: false,
      factory: () => this._readLogs(),
      frequency: { interval: options.logInterval ?? 1000, backoff: true, max: 30_000 },
      name: 'jupyter-workbench:job-logs',
      standby: options.standby ?? standby
    });
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

  /**
   * Remove a finished job and its log from the server (`DELETE jobs/{id}?remove=true`; the
   * server answers 409 while it runs). It leaves the list at once.
   */
  async remove(id: string): Promise<IJob> {
    const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(id)}?remove=true`, {
      method: 'DELETE'
    });
    this.watch(id, false);
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
    this._logPoll.dispose();
    super.dispose();
  }

  protected async tick(): Promise<void> {
    let jobs: IJob[];
    try {
      jobs = await requestAPI<IJob[]>('jobs');
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
      this.emitChanged(this._jobs);
      return;
    }
    const before = this._jobs;
    this._jobs = jobs;
    // Often while something runs, rarely otherwise.
    this.setInterval(this.running.length ? this._interval : this._interval * 15);
    this.emitChanged(jobs);
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

  private _jobs: IJob[] = [];
  private _listed = false;
  private _interval: number;
  private _error: string | null = null;
  private _logPoll: Poll;
  private _logs = new Map<string, IJobLog & { final?: boolean }>();
  private _watched = new Set<string>();
  private _finished = new Signal<this, IJob>(this);
  private _logChanged = new Signal<this, IJobLog>(this);
}
