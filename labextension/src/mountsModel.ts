/**
 * Mounts as the frontend sees them: a model that owns the mounts REST calls and polls the
 * list. The Mounts section and the file browser's mount actions render from it.
 */
import { requestAPI } from './api';
import { PollingModel } from './pollingModel';
import { IListingBound, IMount, IMountRequest } from './util';

/**
 * The mounts as the server lists them. Owns the REST calls; polls (slowly: a mount's health
 * changes rarely) while someone looks, and emits `changed` after every listing.
 */
export class MountsModel extends PollingModel<IMount[]> {
  constructor(
    options: { interval?: number; standby?: () => boolean | 'when-hidden' } = {}
  ) {
    super({
      name: 'jupyter-workbench:mounts',
      interval: options.interval ?? 30_000,
      max: 300_000,
      standby: options.standby
    });
  }

  get mounts(): IMount[] {
    return this._mounts;
  }

  /** The last listing error, if the last listing failed. */
  get error(): string | null {
    return this._error;
  }

  async add(request: IMountRequest): Promise<IMount> {
    const mount = await requestAPI<IMount>('mounts', {
      method: 'POST',
      body: JSON.stringify(request)
    });
    await this.refresh();
    return mount;
  }

  async remove(name: string): Promise<void> {
    await requestAPI(`mounts/${encodeURIComponent(name)}`, { method: 'DELETE' });
    await this.refresh();
  }

  /** The file browser's bound for folder `path` (an API path inside a mount). */
  async listingBound(path: string): Promise<IListingBound | null> {
    return this._bound(path, 'GET');
  }

  /** Raise that bound one step (then refresh the file browser to list the next entries). */
  async loadMore(path: string): Promise<IListingBound | null> {
    return this._bound(path, 'POST');
  }

  private async _bound(path: string, method: string): Promise<IListingBound | null> {
    const mount = this.mountFor(path);
    if (!mount) {
      return null;
    }
    const rel = path === mount.path ? '' : path.slice(mount.path.length + 1);
    const url = `mounts/${encodeURIComponent(mount.name)}/listing/more`;
    if (method === 'POST') {
      return requestAPI<IListingBound>(url, {
        method,
        body: JSON.stringify({ path: rel })
      });
    }
    return requestAPI<IListingBound>(`${url}?${new URLSearchParams({ path: rel })}`);
  }

  /** The mount whose folder holds `path`, if any. */
  mountFor(path: string): IMount | null {
    return (
      this._mounts.find(m => path === m.path || path.startsWith(m.path + '/')) || null
    );
  }

  protected async tick(): Promise<void> {
    try {
      this._mounts = await requestAPI<IMount[]>('mounts');
      this._error = null;
    } catch (error) {
      this._error = (error as Error).message;
    }
    this.emitChanged(this._mounts);
  }

  private _mounts: IMount[] = [];
  private _error: string | null = null;
}
