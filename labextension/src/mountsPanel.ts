/**
 * The sidebar's "Mounts" section: the mounts with their state, "Open" and "Unmount",
 * a form to add OSS / NAS / SMB / any fsspec URL, and "List more" for mount folders with
 * more entries than the file browser shows (the contents API returns one page).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { formatBytes, h } from './dom';

/** A mount as `GET workbench/api/mounts` describes it (never with secrets). */
export interface IMount {
  name: string;
  url: string;
  protocol: string;
  options: { [key: string]: unknown };
  read_only: boolean;
  secret_options: string[];
  path: string;
  local_path: string | null;
  state: { state: 'ok' | 'error' | 'unknown'; message: string | null };
  fuse: unknown;
  listing_page_size: number;
  in_file_browser: boolean;
}

export interface IListingEntry {
  name: string;
  path: string;
  type: 'file' | 'directory';
  size: number;
  last_modified: string | null;
}

export interface IListingPage {
  path: string;
  entries: IListingEntry[];
  next_marker: string | null;
}

/** What the user asked for, as the REST API takes it. */
export interface IMountRequest {
  name: string;
  url: string;
  options: { [key: string]: string };
  read_only: boolean;
}

export interface IMountsPanelOptions {
  /** Show `path` (a folder) in the file browser. */
  openFolder: (path: string) => Promise<void>;
  /** Open a file in its default editor/viewer. */
  openFile: (path: string) => Promise<void>;
  /** The file browser's current folder and how many entries it shows. */
  browserState: () => { path: string; count: number } | null;
  /** Called after a mount was removed (the file browser may be inside it). */
  unmounted: (mount: IMount) => Promise<void>;
}

type Kind = 'oss' | 'nas' | 'smb' | 'url';

const trimSlashes = (s: string) => s.trim().replace(/^\/+|\/+$/g, '');

/** Build the REST request from the form's values; throws a plain message when incomplete. */
export function buildMountRequest(
  kind: Kind,
  values: { [field: string]: string },
  readOnly: boolean
): IMountRequest {
  const v = (name: string) => (values[name] || '').trim();
  const options: { [key: string]: string } = {};
  const setIf = (key: string, value: string) => {
    if (value) {
      options[key] = value;
    }
  };
  let url: string;
  let suggested = '';
  if (kind === 'oss') {
    const bucket = v('bucket');
    if (!bucket) {
      throw new Error('Enter the bucket name.');
    }
    if (!v('endpoint')) {
      throw new Error(
        'Enter the OSS endpoint, e.g. https://oss-cn-hangzhou.aliyuncs.com.'
      );
    }
    const prefix = trimSlashes(v('prefix'));
    url = `oss://${bucket}${prefix ? '/' + prefix : ''}`;
    setIf('endpoint', v('endpoint'));
    setIf('key', v('key'));
    setIf('secret', values.secret || '');
    setIf('token', values.token || '');
    suggested = bucket;
  } else if (kind === 'nas') {
    url = v('location');
    if (!url) {
      throw new Error('Enter a path (/mnt/nas/share) or a nas://server:/export URL.');
    }
    if (url.startsWith('/')) {
      url = `file://${url}`;
    }
    suggested =
      trimSlashes(url.replace(/^[a-z]+:\/\//, ''))
        .split('/')
        .pop() || '';
  } else if (kind === 'smb') {
    const server = v('server');
    const share = trimSlashes(v('share'));
    if (!server || !share) {
      throw new Error('Enter the SMB server and share.');
    }
    const sub = trimSlashes(v('subpath'));
    url = `smb://${server}/${share}${sub ? '/' + sub : ''}`;
    setIf('username', v('username'));
    setIf('password', values.password || '');
    suggested = share;
  } else {
    url = v('url');
    if (!url) {
      throw new Error('Enter an fsspec URL such as s3://bucket/prefix.');
    }
    for (const line of (values.options || '').split('\n')) {
      const text = line.trim();
      if (!text || text.startsWith('#')) {
        continue;
      }
      const eq = text.indexOf('=');
      if (eq <= 0) {
        throw new Error(`Options must be key=value lines, got "${text}".`);
      }
      options[text.slice(0, eq).trim()] = text.slice(eq + 1).trim();
    }
  }
  const name = v('name') || suggested.replace(/[^A-Za-z0-9._-]/g, '-');
  if (!name) {
    throw new Error('Enter a name for the mount (it becomes the folder mnt/<name>).');
  }
  return { name, url, options, read_only: readOnly };
}

export class MountsPanel extends Widget {
  constructor(options: IMountsPanelOptions) {
    super();
    this._options = options;
    this.addClass('jp-WorkbenchMounts');
    this._list = h('ul', { className: 'jp-WorkbenchMounts-list' });
    this._listMessage = h('div', { className: 'jp-WorkbenchMounts-message' });
    const refresh = h(
      'button',
      { className: 'jp-mod-styled jp-WorkbenchMounts-refresh', type: 'button' },
      'Refresh'
    );
    refresh.addEventListener('click', () => void this.refresh());
    this._more = this._buildMore();
    this.node.append(
      this._list,
      this._listMessage,
      refresh,
      this._more,
      this._buildForm()
    );
    this._onKind();
  }

  /** The mounts as last listed. */
  get mounts(): IMount[] {
    return this._mounts;
  }

  /** Fetch and show the mounts. */
  async refresh(): Promise<void> {
    try {
      this._mounts = await requestAPI<IMount[]>('mounts');
      this._listMessage.textContent = this._mounts.length
        ? ''
        : 'No mounts yet. Add object storage or a NAS share below.';
      this._listMessage.classList.remove('jp-mod-error');
    } catch (error) {
      this._listMessage.textContent = (error as Error).message;
      this._listMessage.classList.add('jp-mod-error');
    }
    this._list.replaceChildren(...this._mounts.map(m => this._renderMount(m)));
    this.updateMore();
  }

  /** Show "List more" when the file browser is in a mount folder that may hold more. */
  updateMore(): void {
    const state = this._options.browserState();
    const mount = state ? this._mountFor(state.path) : null;
    const large = !!(state && mount && state.count >= mount.listing_page_size);
    const key = large && state ? state.path : null;
    if (key !== this._moreFor) {
      this._moreFor = key;
      this._moreMarker = undefined;
      this._moreList.replaceChildren();
      this._moreMessage.textContent = '';
      this._moreButton.disabled = false;
    }
    this._more.hidden = !large;
    if (large && mount) {
      this._moreText.textContent =
        `This folder is large: the file browser shows its first ${mount.listing_page_size} ` +
        'entries.';
    }
  }

  private _mountFor(path: string): IMount | null {
    return (
      this._mounts.find(m => path === m.path || path.startsWith(m.path + '/')) || null
    );
  }

  private _renderMount(m: IMount): HTMLElement {
    const state = h(
      'span',
      {
        className: 'jp-WorkbenchMounts-state',
        'data-state': m.state.state,
        title: m.state.message || ''
      },
      m.state.state === 'error' ? 'error' : m.state.state
    );
    const open = h(
      'button',
      { className: 'jp-mod-styled', type: 'button', title: `Show ${m.path}` },
      'Open'
    );
    open.addEventListener('click', () => {
      void this._options.openFolder(m.path).catch(error => this._showListError(error));
    });
    const unmount = h(
      'button',
      { className: 'jp-mod-styled jp-mod-warn', type: 'button' },
      'Unmount'
    );
    unmount.addEventListener('click', () => void this._unmount(m));
    const flags = [
      m.read_only ? 'read-only' : '',
      m.in_file_browser ? '' : 'not in file browser'
    ]
      .filter(Boolean)
      .join(', ');
    const item = h(
      'li',
      { className: 'jp-WorkbenchMounts-item', 'data-mount': m.name },
      h(
        'div',
        { className: 'jp-WorkbenchMounts-head' },
        h('strong', { className: 'jp-WorkbenchMounts-name' }, m.name),
        state,
        flags ? h('span', { className: 'jp-WorkbenchMounts-flags' }, flags) : null
      ),
      h('div', { className: 'jp-WorkbenchMounts-url', title: m.url }, m.url),
      h('div', { className: 'jp-WorkbenchMounts-path' }, m.path)
    );
    if (m.state.state === 'error' && m.state.message) {
      item.append(h('div', { className: 'jp-WorkbenchMounts-error' }, m.state.message));
    }
    const fuse = fuseText(m.fuse);
    if (fuse) {
      item.append(h('div', { className: 'jp-WorkbenchMounts-fuse' }, fuse));
    }
    item.append(h('div', { className: 'jp-WorkbenchMounts-actions' }, open, unmount));
    return item;
  }

  private async _unmount(m: IMount): Promise<void> {
    const result = await showDialog({
      title: `Unmount ${m.name}?`,
      body:
        `${m.path} disappears from the file browser. The files stay on the storage: ` +
        `nothing on ${m.url} is deleted, and you can mount it again at any time.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Unmount' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await requestAPI(`mounts/${encodeURIComponent(m.name)}`, { method: 'DELETE' });
      await this._options.unmounted(m);
    } catch (error) {
      this._showListError(error);
      return;
    }
    await this.refresh();
  }

  private _showListError(error: unknown): void {
    this._listMessage.textContent = (error as Error).message || String(error);
    this._listMessage.classList.add('jp-mod-error');
  }

  // ---------------------------------------------------------------- list more

  private _buildMore(): HTMLElement {
    this._moreText = h('div', {});
    this._moreButton = h(
      'button',
      { className: 'jp-mod-styled', type: 'button' },
      'List more'
    );
    this._moreButton.addEventListener('click', () => void this._listMore());
    this._moreList = h('ul', { className: 'jp-WorkbenchMounts-moreList' });
    this._moreMessage = h('div', { className: 'jp-WorkbenchMounts-message' });
    const box = h(
      'div',
      { className: 'jp-WorkbenchMounts-more' },
      this._moreText,
      this._moreButton,
      this._moreMessage,
      this._moreList
    );
    box.hidden = true;
    return box;
  }

  private async _listMore(): Promise<void> {
    const state = this._options.browserState();
    const mount = state ? this._mountFor(state.path) : null;
    if (!state || !mount) {
      return;
    }
    const rel = state.path === mount.path ? '' : state.path.slice(mount.path.length + 1);
    const page = async (marker?: string) => {
      const query = new URLSearchParams({ path: rel });
      if (marker) {
        query.set('marker', marker);
      }
      return requestAPI<IListingPage>(
        `mounts/${encodeURIComponent(mount.name)}/listing?${query.toString()}`
      );
    };
    this._moreButton.disabled = true;
    this._moreMessage.textContent = 'Listing…';
    this._moreMessage.classList.remove('jp-mod-error');
    try {
      if (this._moreMarker === undefined) {
        // The file browser shows the first page; start after it.
        this._moreMarker = (await page()).next_marker;
      }
      if (this._moreMarker === null) {
        this._moreMessage.textContent = 'No more entries.';
        return;
      }
      const next = await page(this._moreMarker);
      this._moreMarker = next.next_marker;
      this._moreList.append(...next.entries.map(e => this._renderEntry(e)));
      this._moreMessage.textContent =
        next.next_marker === null
          ? `All entries listed (${this._moreList.childElementCount} more than the file browser shows).`
          : `${this._moreList.childElementCount} more entries listed.`;
      this._moreButton.disabled = next.next_marker === null;
    } catch (error) {
      this._moreMessage.textContent = (error as Error).message;
      this._moreMessage.classList.add('jp-mod-error');
    } finally {
      if (this._moreMarker !== null) {
        this._moreButton.disabled = false;
      }
    }
  }

  private _renderEntry(e: IListingEntry): HTMLElement {
    const link = h(
      'button',
      { className: 'jp-WorkbenchMounts-entry', type: 'button', title: e.path },
      e.type === 'directory' ? `${e.name}/` : e.name
    );
    link.addEventListener('click', () => {
      const open =
        e.type === 'directory' ? this._options.openFolder : this._options.openFile;
      void open(e.path).catch(error => {
        this._moreMessage.textContent = (error as Error).message;
        this._moreMessage.classList.add('jp-mod-error');
      });
    });
    return h(
      'li',
      {},
      link,
      e.type === 'file'
        ? h('span', { className: 'jp-WorkbenchMounts-size' }, formatBytes(e.size))
        : null
    );
  }

  // ---------------------------------------------------------------- add form

  private _buildForm(): HTMLElement {
    const f = this._fields;
    const input = (name: string, label: string, attrs: { [k: string]: string } = {}) => {
      const el = h('input', { type: 'text', name, 'aria-label': label, ...attrs });
      f[name] = el;
      return h('label', { className: 'jp-WorkbenchForm-row' }, h('span', {}, label), el);
    };
    this._kind = h(
      'select',
      { 'aria-label': 'Kind', name: 'kind' },
      h('option', { value: 'oss' }, 'OSS bucket'),
      h('option', { value: 'nas' }, 'NAS (path or nas://)'),
      h('option', { value: 'smb' }, 'SMB share'),
      h('option', { value: 'url' }, 'Other fsspec URL')
    );
    this._kind.addEventListener('change', () => this._onKind());
    const options = h('textarea', {
      name: 'options',
      rows: '3',
      'aria-label': 'Options',
      placeholder: 'key=value, one per line'
    });
    f.options = options;
    this._groups = {
      oss: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'oss' },
        input('endpoint', 'Endpoint', {
          placeholder: 'https://oss-cn-hangzhou.aliyuncs.com'
        }),
        input('bucket', 'Bucket', { placeholder: 'my-bucket' }),
        input('prefix', 'Prefix', { placeholder: 'optional/sub/folder' }),
        input('key', 'AccessKey ID', { autocomplete: 'off' }),
        input('secret', 'AccessKey secret', {
          type: 'password',
          autocomplete: 'new-password'
        }),
        input('token', 'STS token', { type: 'password', autocomplete: 'off' })
      ),
      nas: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'nas' },
        input('location', 'Path or URL', {
          placeholder: '/mnt/nas/share or nas://server:/export'
        })
      ),
      smb: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'smb' },
        input('server', 'Server', { placeholder: 'fileserver.example.com' }),
        input('share', 'Share', { placeholder: 'data' }),
        input('subpath', 'Path', { placeholder: 'optional/sub/folder' }),
        input('username', 'Username', { autocomplete: 'off' }),
        input('password', 'Password', { type: 'password', autocomplete: 'new-password' })
      ),
      url: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'url' },
        input('url', 'URL', { placeholder: 's3://bucket/prefix' }),
        h(
          'label',
          { className: 'jp-WorkbenchForm-row' },
          h('span', {}, 'Options'),
          options
        )
      )
    };
    this._readOnly = h('input', {
      type: 'checkbox',
      name: 'read_only',
      'aria-label': 'Read-only'
    });
    this._addButton = h(
      'button',
      { className: 'jp-mod-styled jp-mod-accept', type: 'submit' },
      'Add mount'
    );
    this._formMessage = h('div', { className: 'jp-WorkbenchMounts-message' });
    const form = h(
      'form',
      { className: 'jp-WorkbenchMounts-form', autocomplete: 'off' },
      h('div', { className: 'jp-WorkbenchMounts-formTitle' }, 'Add a mount'),
      h(
        'label',
        { className: 'jp-WorkbenchForm-row' },
        h('span', {}, 'Kind'),
        this._kind
      ),
      input('name', 'Name', { placeholder: 'data (shows as mnt/data)' }),
      ...Object.values(this._groups),
      h('label', { className: 'jp-WorkbenchForm-row' }, this._readOnly, ' Read-only'),
      this._addButton,
      this._formMessage
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.add();
    });
    return form;
  }

  private _onKind(): void {
    const kind = this._kind.value;
    for (const [name, group] of Object.entries(this._groups)) {
      group.hidden = name !== kind;
    }
  }

  /** Add the mount the form describes. */
  async add(): Promise<void> {
    const values: { [name: string]: string } = {};
    for (const [name, el] of Object.entries(this._fields)) {
      values[name] = el.value;
    }
    let request: IMountRequest;
    try {
      request = buildMountRequest(
        this._kind.value as Kind,
        values,
        this._readOnly.checked
      );
    } catch (error) {
      this._showFormMessage((error as Error).message, true);
      return;
    }
    this._addButton.disabled = true;
    this._showFormMessage(`Connecting to ${request.url}…`, false);
    try {
      const mount = await requestAPI<IMount>('mounts', {
        method: 'POST',
        body: JSON.stringify(request)
      });
      for (const name of ['secret', 'token', 'password']) {
        this._fields[name].value = '';
      }
      this._fields.name.value = '';
      this._showFormMessage(`Mounted ${mount.name} at ${mount.path}.`, false);
      await this.refresh();
    } catch (error) {
      this._showFormMessage((error as Error).message, true);
    } finally {
      this._addButton.disabled = false;
    }
  }

  private _showFormMessage(text: string, error: boolean): void {
    this._formMessage.textContent = text;
    this._formMessage.classList.toggle('jp-mod-error', error);
  }

  private _options: IMountsPanelOptions;
  private _mounts: IMount[] = [];
  private _list: HTMLUListElement;
  private _listMessage: HTMLDivElement;
  private _more: HTMLElement;
  private _moreText!: HTMLDivElement;
  private _moreButton!: HTMLButtonElement;
  private _moreList!: HTMLUListElement;
  private _moreMessage!: HTMLDivElement;
  private _moreFor: string | null = null;
  private _moreMarker: string | null | undefined = undefined;
  private _kind!: HTMLSelectElement;
  private _groups: { [kind: string]: HTMLElement } = {};
  private _fields: { [name: string]: HTMLInputElement | HTMLTextAreaElement } = {};
  private _readOnly!: HTMLInputElement;
  private _addButton!: HTMLButtonElement;
  private _formMessage!: HTMLDivElement;
}

/** A one-line summary of the FUSE helper's status, if any. */
function fuseText(fuse: unknown): string {
  if (fuse === null || fuse === undefined || fuse === false) {
    return '';
  }
  if (typeof fuse === 'string') {
    return `FUSE: ${fuse}`;
  }
  if (fuse === true) {
    return 'FUSE: mounted';
  }
  if (typeof fuse === 'object') {
    const f = fuse as { state?: string; message?: string; mounted?: boolean };
    const state =
      f.state || (f.mounted ? 'mounted' : f.mounted === false ? 'not mounted' : '');
    return `FUSE: ${[state, f.message].filter(Boolean).join(': ')}`;
  }
  return '';
}
