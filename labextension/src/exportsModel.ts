/**
 * The server-side exports as the frontend sees them: a model that starts them
 * (`POST workbench/api/exports`), lists them (`GET workbench/api/exports`: exports are jobs
 * of the job manager, so they outlive a closed tab) and follows the running ones. The Export
 * panel renders from it, and after a reload finds the export this browser started last.
 */
import { requestAPI } from './api';
import { PollingModel } from './pollingModel';
import { IExportRequest, IExportState } from './tokens';
import { english, ITrans } from './util';

/** Where the id of the export this browser started last is kept (written at once, so a tab
 * closed right after "Export" still finds it when it opens again). */
export const LAST_EXPORT_KEY = 'jupyter-workbench:last-export';

export function exportEnded(state: IExportState): boolean {
  return state.state === 'done' || state.state === 'failed';
}

interface IWaiter {
  resolve: (state: IExportState) => void;
  reject: (error: Error) => void;
}

/**
 * The exports the server lists. Polls every `interval()` ms while one runs (or is awaited),
 * every `idleInterval` ms otherwise, in standby while the page is hidden or the user is
 * logged out; emits `changed` after each listing.
 */
export class ExportsModel extends PollingModel<IExportState[]> {
  constructor(
    options: {
      interval?: () => number;
      idleInterval?: number;
      standby?: () => boolean | 'when-hidden';
      /** Where the last export's id is remembered (default: the browser's localStorage). */
      storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
      trans?: ITrans;
    } = {}
  ) {
    super({
      name: 'jupyter-workbench:exports',
      interval: options.idleInterval ?? 60_000,
      max: 300_000,
      standby: options.standby
    });
    this._busyInterval = options.interval ?? (() => 1000);
    this._idleInterval = options.idleInterval ?? 60_000;
    this._storage = options.storage === undefined ? defaultStorage() : options.storage;
    this._trans = options.trans ?? english;
  }

  get exports(): IExportState[] {
    return this._exports;
  }

  /** The last listing error, if the last listing failed. */
  get error(): string | null {
    return this._error;
  }

  /** Whether the server was asked at least once. */
  get loaded(): boolean {
    return this._loaded;
  }

  get(id: string): IExportState | undefined {
    return this._exports.find(e => e.id === id);
  }

  /**
   * The export to show: the one this browser started last, if the server still has it,
   * else the newest that is still running (started in another tab, say), else null.
   */
  get current(): IExportState | null {
    const last = this._lastId();
    const mine = last ? this.get(last) : undefined;
    if (mine) {
      return mine;
    }
    const running = this._exports.filter(e => !exportEnded(e));
    running.sort((a, b) => (b.created_at ?? 0) - (a.created_at ?? 0));
    return running[0] ?? null;
  }

  /** Start an export; resolves with its id once the server took it (and remembers it). */
  async start(request: IExportRequest): Promise<string> {
    const { id } = await requestAPI<{ id: string }>('exports', {
      method: 'POST',
      body: JSON.stringify(request)
    });
    try {
      this._storage?.setItem(LAST_EXPORT_KEY, id);
    } catch {
      // (storage full or refused: the export still runs, a reload just won't find it)
    }
    this._pending.add(id);
    void this.refresh();
    return id;
  }

  /** Resolves with export `id`'s final state (done or failed). */
  wait(id: string): Promise<IExportState> {
    const known = this.get(id);
    if (known && exportEnded(known)) {
      return Promise.resolve(known);
    }
    const promise = new Promise<IExportState>((resolve, reject) => {
      const waiters = this._waiters.get(id) ?? [];
      waiters.push({ resolve, reject });
      this._waiters.set(id, waiters);
    });
    this._setFrequency();
    void this.refresh();
    return promise;
  }

  protected async tick(): Promise<void> {
    try {
      this._exports = await requestAPI<IExportState[]>('exports');
      this._error = null;
      this._loaded = true;
    } catch (error) {
      this._error = (error as Error).message;
      this.emitChanged(this._exports);
      return; // (a network blip: the waiters wait for the next listing)
    }
    for (const id of this._pending) {
      if (this.get(id)) {
        this._pending.delete(id);
      }
    }
    for (const [id, waiters] of [...this._waiters]) {
      const state = this.get(id);
      if (state && !exportEnded(state)) {
        continue;
      }
      if (!state && this._pending.has(id)) {
        continue; // (posted, not listed yet)
      }
      this._waiters.delete(id);
      for (const waiter of waiters) {
        if (state) {
          waiter.resolve(state);
        } else {
          waiter.reject(new Error(this._trans.__('The server has no export %1.', id)));
        }
      }
    }
    this._setFrequency();
    this.emitChanged(this._exports);
  }

  private _setFrequency(): void {
    const busy = this._waiters.size > 0 || this._exports.some(e => !exportEnded(e));
    this.setInterval(busy ? this._busyInterval() : this._idleInterval);
  }

  private _lastId(): string | null {
    try {
      return this._storage?.getItem(LAST_EXPORT_KEY) ?? null;
    } catch {
      return null;
    }
  }

  private _exports: IExportState[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _busyInterval: () => number;
  private _idleInterval: number;
  private _storage: Pick<Storage, 'getItem' | 'setItem'> | null;
  private _pending = new Set<string>();
  private _waiters = new Map<string, IWaiter[]>();
  private _trans: ITrans;
}

function defaultStorage(): Storage | null {
  try {
    return typeof window !== 'undefined' ? window.localStorage : null;
  } catch {
    return null;
  }
}
