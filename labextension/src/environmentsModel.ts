/**
 * The workbench environments (py3, tf2) as the frontend sees them: a model that lists them,
 * creates/repairs one and follows its progress. The panel, the status bar item and the
 * commands render from it.
 *
 * REST: `GET workbench/api/environments`, `GET|POST workbench/api/environments/{name}`
 * (POST answers 202 and the creation runs on the server; GET shows its step and last log
 * lines under `creation`).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './api';
import { PollingModel } from './pollingModel';
import { english, ICreationProgress, IEnvironment, ITrans } from './util';

export interface ICreationEnded {
  name: string;
  ok: boolean;
  error: string | null;
}

/** A creation this model follows until it ends. */
interface IFollowed {
  promise: Promise<IEnvironment>;
  resolve: (env: IEnvironment) => void;
  reject: (error: Error) => void;
  /** The POST was answered (or the creation was started elsewhere): its state counts. */
  started: boolean;
}

/**
 * The environments and the creations in flight; one instance is shared by the panel, the
 * status bar item and the commands. Owns the REST calls and polls them with a `Poll`:
 * every `followInterval` ms while a creation runs (its step and pip's last lines), every
 * `interval` ms otherwise, in standby while the page is hidden or the user is logged out.
 * Emits `changed` after each listing or progress step, `creationEnded` when one ends.
 */
export class EnvironmentsModel extends PollingModel<void> {
  constructor(
    options: {
      interval?: number;
      followInterval?: number;
      trans?: ITrans;
      standby?: () => boolean | 'when-hidden';
    } = {}
  ) {
    const interval = options.interval ?? 60_000;
    super({
      name: 'jupyter-workbench:environments',
      interval,
      max: 300_000,
      standby: options.standby
    });
    this._trans = options.trans ?? english;
    this._interval = interval;
    this._followInterval = options.followInterval ?? 1000;
  }

  /** Emitted when a creation ended (either way). */
  get creationEnded(): ISignal<this, ICreationEnded> {
    return this._creationEnded;
  }

  get environments(): IEnvironment[] {
    return this._envs;
  }

  /** The last listing error (the server extension is missing, ...), or null. */
  get error(): string | null {
    return this._error;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  get(name: string): IEnvironment | undefined {
    return this._envs.find(e => e.name === name);
  }

  /** The environment whose kernel is `kernelName`, if it is a workbench one. */
  forKernel(kernelName: string | null | undefined): IEnvironment | undefined {
    if (!kernelName) {
      return undefined;
    }
    return this._envs.find(e => e.kernel_name === kernelName);
  }

  progress(name: string): ICreationProgress | undefined {
    return this._progress.get(name);
  }

  /** Whether a creation of `name` is followed here (started here or seen running). */
  isCreating(name: string): boolean {
    return this._followed.has(name);
  }

  /** Resolves once the list was fetched at least once. */
  async ensureLoaded(): Promise<void> {
    if (!this._loaded) {
      await this.refresh();
    }
  }

  /**
   * Create (or repair) `name` on the server and follow it until it ends. Resolves with the
   * environment's final entry; rejects with the server's message when the creation failed.
   * Calling it again while one runs joins the running one.
   */
  create(name: string): Promise<IEnvironment> {
    const followed = this._follow(name, false);
    if (!followed.started && !this._posting.has(name)) {
      this._posting.add(name);
      void this._post(name, followed).finally(() => this._posting.delete(name));
    }
    return followed.promise;
  }

  private _follow(name: string, started: boolean): IFollowed {
    const known = this._followed.get(name);
    if (known) {
      return known;
    }
    let resolve!: (env: IEnvironment) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<IEnvironment>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const followed: IFollowed = { promise, resolve, reject, started };
    this._followed.set(name, followed);
    this._progress.set(name, {
      name,
      running: true,
      step: this._trans.__('starting'),
      log: [],
      error: null
    });
    this._setFrequency();
    this.emitChanged();
    return followed;
  }

  private async _post(name: string, followed: IFollowed): Promise<void> {
    if (this.get(name)?.state !== 'creating') {
      try {
        await requestAPI(`environments/${encodeURIComponent(name)}`, {
          method: 'POST',
          body: '{}'
        });
      } catch (error) {
        // 409: already being created (by another tab): follow that one.
        const status = (error as { response?: Response }).response?.status;
        if (status !== 409 || !/already being created/.test((error as Error).message)) {
          this._end(name, null, error as Error);
          return;
        }
      }
    }
    followed.started = true;
    await this.refresh();
  }

  protected async tick(): Promise<void> {
    try {
      this._envs = await requestAPI<IEnvironment[]>('environments');
      this._error = null;
      this._loaded = true;
    } catch (error) {
      this._error = (error as Error).message;
    }
    // A creation started elsewhere (another tab, the CLI): follow it too.
    for (const env of this._envs) {
      if (env.state === 'creating' && !this._followed.has(env.name)) {
        this._follow(env.name, true);
      }
    }
    await Promise.all(
      [...this._followed]
        .filter(([, followed]) => followed.started)
        .map(([name]) => this._check(name))
    );
    this._setFrequency();
    this.emitChanged();
  }

  /** Read a followed creation's state; end it when it is over. */
  private async _check(name: string): Promise<void> {
    let env: IEnvironment;
    try {
      env = await requestAPI<IEnvironment>(`environments/${encodeURIComponent(name)}`);
    } catch {
      return; // a network blip: the next tick asks again
    }
    const i = this._envs.findIndex(e => e.name === env.name);
    if (i >= 0) {
      this._envs[i] = env;
    } else {
      this._envs.push(env);
    }
    const progress = this._progress.get(name)!;
    const creation = env.creation;
    if (creation) {
      progress.step = creation.step || progress.step;
      progress.log = creation.log.slice(-6);
      if (creation.state === 'running') {
        return;
      }
      if (creation.state === 'failed') {
        this._end(
          name,
          env,
          new Error(creation.error || this._trans.__('Creating %1 failed.', name))
        );
        return;
      }
    } else if (env.state === 'creating') {
      progress.step = env.message; // started elsewhere: no creation record here
      return;
    }
    this._end(
      name,
      env,
      env.ready
        ? null
        : new Error(env.message || this._trans.__('%1 is not ready.', name))
    );
  }

  private _end(name: string, env: IEnvironment | null, error: Error | null): void {
    const followed = this._followed.get(name);
    const progress = this._progress.get(name);
    this._followed.delete(name);
    if (progress) {
      progress.running = false;
      progress.error = error ? error.message : null;
      if (!error && env) {
        progress.step = this._trans.__('%1 is ready', name);
      } else if (env) {
        progress.step = env.message;
      }
    }
    this._creationEnded.emit({ name, ok: !error, error: error?.message ?? null });
    if (followed) {
      if (error || !env) {
        followed.reject(error ?? new Error(this._trans.__('%1 is not ready.', name)));
      } else {
        followed.resolve(env);
      }
    }
    this._setFrequency();
    this.emitChanged();
  }

  private _setFrequency(): void {
    this.setInterval(this._followed.size ? this._followInterval : this._interval);
  }

  private _envs: IEnvironment[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _interval: number;
  private _followInterval: number;
  private _progress = new Map<string, ICreationProgress>();
  private _followed = new Map<string, IFollowed>();
  private _posting = new Set<string>();
  private _trans: ITrans;
  private _creationEnded = new Signal<this, ICreationEnded>(this);
}
