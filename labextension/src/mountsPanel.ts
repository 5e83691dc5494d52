/**
 * The sidebar's "Mounts" section: the mounts with their state, "Open" and "Unmount",
 * a form to add OSS / NAS / SMB / any fsspec URL. (Folders larger than the file browser's
 * bound get a banner in the file browser itself: `listingBanner.ts`.)
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { closeIcon, folderIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { button, checkbox, h, row, say, select, textInput } from './dom';
import { TRANSLATION_DOMAIN } from './tokens';
import {
  buildMountRequest,
  IListingBound,
  IMount,
  IMountRequest,
  MountKind
} from './util';
import { MountsModel } from './mountsModel';

export { buildMountRequest, MountsModel };
export type { IListingBound, IMount, IMountRequest };

export interface IMountsPanelOptions {
  /** Show `path` (a folder) in the file browser. */
  openFolder: (path: string) => Promise<void>;
  /** Called after a mount was removed (the file browser may be inside it). */
  unmounted: (mount: IMount) => Promise<void>;
  /** Called after a mount was added (the file browser shows mnt/ at once). */
  mounted?: (mount: IMount) => Promise<void>;
  /** Paths of the documents open in the main area (unmount warns about those inside). */
  openDocuments?: () => string[];
  model?: MountsModel;
  trans?: TranslationBundle;
}

export class MountsPanel extends Widget {
  constructor(options: IMountsPanelOptions) {
    super();
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this._model = options.model ?? new MountsModel();
    this.addClass('jp-WorkbenchMounts');
    this._list = h('ul', { className: 'jp-WorkbenchMounts-list' });
    this._listMessage = h('div', { className: 'jp-WorkbenchMounts-message' });
    this._form = this._buildForm();
    this.node.append(this._list, this._listMessage, this._form);
    this._onKind();
    this._model.changed.connect(this._render, this);
  }

  get model(): MountsModel {
    return this._model;
  }

  /** The mounts as last listed. */
  get mounts(): IMount[] {
    return this._model.mounts;
  }

  /** Fetch and show the mounts. */
  async refresh(): Promise<void> {
    await this._model.refresh();
  }

  /** Show the "Add a mount" form (the section's + button) and focus its first field. */
  showForm(): void {
    this._form.hidden = false;
    this._formShown = true;
    this._fields.name.focus();
    this._form.scrollIntoView({ block: 'nearest' });
  }

  private _render(): void {
    const trans = this._trans;
    const mounts = this._model.mounts;
    if (this._model.error) {
      say(this._listMessage, this._model.error, true);
    } else {
      say(
        this._listMessage,
        mounts.length
          ? ''
          : trans.__('No mounts yet. Add object storage or a NAS share below.')
      );
    }
    // The form is open when there is nothing else to do, or when the user asked for it.
    this._form.hidden = mounts.length > 0 && !this._formShown;
    this._list.replaceChildren(...mounts.map(m => this._renderMount(m)));
  }

  private _renderMount(m: IMount): HTMLElement {
    const trans = this._trans;
    const stateText: { [state: string]: string } = {
      ok: trans.__('ok'),
      error: trans.__('error'),
      unknown: trans.__('unknown')
    };
    const state = h(
      'span',
      {
        className: 'jp-WorkbenchMounts-state',
        'data-state': m.state.state,
        title: m.state.message || ''
      },
      stateText[m.state.state] ?? m.state.state
    );
    const open = button(trans.__('Open'), {
      icon: folderIcon,
      title: trans.__('Show %1 in the file browser', m.path)
    });
    open.addEventListener('click', () => {
      void this._options.openFolder(m.path).catch(error => this._showListError(error));
    });
    const unmount = button(trans.__('Unmount'), {
      icon: closeIcon,
      title: trans.__('Remove %1 from the file browser (the files stay)', m.path)
    });
    unmount.addEventListener('click', () => void this.unmount(m));
    const flags = [
      m.read_only ? trans.__('read-only') : '',
      m.in_file_browser ? '' : trans.__('not in file browser')
    ]
      .filter(Boolean)
      .join(', ');
    const item = h(
      'li',
      { className: 'jp-WorkbenchMounts-item', 'data-mount': m.name },
      h(
        'div',
        { className: 'jp-WorkbenchMounts-head' },
        h('strong', { className: 'jp-WorkbenchMounts-name', title: m.path }, m.name),
        state,
        flags ? h('span', { className: 'jp-WorkbenchMounts-flags' }, flags) : null,
        h('span', { className: 'jp-WorkbenchMounts-actions' }, open, unmount)
      ),
      h('div', { className: 'jp-WorkbenchMounts-url', title: m.url }, m.url),
      h('div', { className: 'jp-WorkbenchMounts-path' }, m.path)
    );
    if (m.state.state === 'error' && m.state.message) {
      item.append(h('div', { className: 'jp-WorkbenchMounts-error' }, m.state.message));
    }
    const fuse = fuseText(m.fuse, trans);
    if (fuse) {
      item.append(h('div', { className: 'jp-WorkbenchMounts-fuse' }, fuse));
    }
    return item;
  }

  /** Ask, then remove a mount; names the documents still open inside it. */
  async unmount(m: IMount): Promise<boolean> {
    const trans = this._trans;
    const inside = (this._options.openDocuments?.() ?? []).filter(
      p => p === m.path || p.startsWith(m.path + '/')
    );
    const body = h(
      'div',
      { className: 'jp-WorkbenchMounts-unmountBody' },
      h(
        'p',
        {},
        trans.__(
          '%1 disappears from the file browser. The files stay on the storage: nothing on %2 is deleted, and you can mount it again at any time.',
          m.path,
          m.url
        )
      )
    );
    if (inside.length) {
      body.append(
        h(
          'p',
          { className: 'jp-WorkbenchMounts-openWarning' },
          trans._n(
            'This document is open and can no longer be saved there once unmounted: save or close it first.',
            'These %1 documents are open and can no longer be saved there once unmounted: save or close them first.',
            inside.length
          )
        ),
        h('ul', {}, ...inside.map(p => h('li', {}, p)))
      );
    }
    const result = await showDialog({
      title: trans.__('Unmount %1?', m.name),
      body: new Widget({ node: body }),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Unmount') })
      ]
    });
    if (!result.button.accept) {
      return false;
    }
    try {
      await this._model.remove(m.name);
      await this._options.unmounted(m);
    } catch (error) {
      this._showListError(error);
      return false;
    }
    return true;
  }

  private _showListError(error: unknown): void {
    say(this._listMessage, (error as Error).message || String(error), true);
  }

  // ---------------------------------------------------------------- add form

  private _buildForm(): HTMLElement {
    const trans = this._trans;
    const f = this._fields;
    const input = (name: string, label: string, attrs: { [k: string]: string } = {}) => {
      const { group, input } = textInput(label, { name, ...attrs });
      f[name] = input;
      return row(label, group);
    };
    const kind = select(
      trans.__('Kind'),
      [
        ['oss', trans.__('OSS bucket')],
        ['nas', trans.__('NAS (path or nas://)')],
        ['smb', trans.__('SMB share')],
        ['url', trans.__('Other fsspec URL')]
      ],
      { name: 'kind' }
    );
    this._kind = kind.select;
    this._kind.addEventListener('change', () => this._onKind());
    const options = h('textarea', {
      name: 'options',
      rows: '3',
      className: 'jp-WorkbenchTextarea',
      'aria-label': trans.__('Options'),
      placeholder: trans.__('key=value, one per line')
    });
    f.options = options;
    this._groups = {
      oss: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'oss' },
        input('endpoint', trans.__('Endpoint'), {
          placeholder: 'https://oss-cn-hangzhou.aliyuncs.com'
        }),
        input('bucket', trans.__('Bucket'), { placeholder: 'my-bucket' }),
        input('prefix', trans.__('Prefix'), {
          placeholder: trans.__('optional/sub/folder')
        }),
        input('key', trans.__('AccessKey ID'), { autocomplete: 'off' }),
        input('secret', trans.__('AccessKey secret'), {
          type: 'password',
          autocomplete: 'new-password'
        }),
        input('token', trans.__('STS token'), { type: 'password', autocomplete: 'off' })
      ),
      nas: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'nas' },
        input('location', trans.__('Path or URL'), {
          placeholder: '/mnt/nas/share, nas://server:/export'
        })
      ),
      smb: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'smb' },
        input('server', trans.__('Server'), { placeholder: 'fileserver.example.com' }),
        input('share', trans.__('Share'), { placeholder: 'data' }),
        input('subpath', trans.__('Path'), {
          placeholder: trans.__('optional/sub/folder')
        }),
        input('username', trans.__('Username'), { autocomplete: 'off' }),
        input('password', trans.__('Password'), {
          type: 'password',
          autocomplete: 'new-password'
        })
      ),
      url: h(
        'div',
        { className: 'jp-WorkbenchMounts-group', 'data-kind': 'url' },
        input('url', 'URL', { placeholder: 's3://bucket/prefix' }),
        row(trans.__('Options'), options)
      )
    };
    const readOnly = checkbox(trans.__('Read-only'), { name: 'read_only' });
    this._readOnly = readOnly.input;
    this._addButton = button(trans.__('Add mount'), { kind: 'accept', type: 'submit' });
    this._formMessage = h('div', { className: 'jp-WorkbenchMounts-message' });
    const form = h(
      'form',
      { className: 'jp-WorkbenchMounts-form', autocomplete: 'off' },
      h('div', { className: 'jp-WorkbenchMounts-formTitle' }, trans.__('Add a mount')),
      row(trans.__('Kind'), kind.group),
      input('name', trans.__('Name'), {
        placeholder: trans.__('data (shows as mnt/data)')
      }),
      ...Object.values(this._groups),
      h('div', { className: 'jp-WorkbenchForm-row' }, readOnly.label),
      h('div', { className: 'jp-WorkbenchForm-actions' }, this._addButton),
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
    const trans = this._trans;
    const values: { [name: string]: string } = {};
    for (const [name, el] of Object.entries(this._fields)) {
      values[name] = el.value;
    }
    let request: IMountRequest;
    try {
      request = buildMountRequest(
        this._kind.value as MountKind,
        values,
        this._readOnly.checked,
        trans
      );
    } catch (error) {
      say(this._formMessage, (error as Error).message, true);
      return;
    }
    this._addButton.disabled = true;
    say(this._formMessage, trans.__('Connecting to %1…', request.url));
    try {
      const mount = await this._model.add(request);
      for (const name of ['secret', 'token', 'password']) {
        this._fields[name].value = '';
      }
      this._fields.name.value = '';
      say(this._formMessage, trans.__('Mounted %1 at %2.', mount.name, mount.path));
      await this._options.mounted?.(mount);
    } catch (error) {
      say(this._formMessage, (error as Error).message, true);
    } finally {
      this._addButton.disabled = false;
    }
  }

  private _options: IMountsPanelOptions;
  private _trans: TranslationBundle;
  private _model: MountsModel;
  private _list: HTMLUListElement;
  private _listMessage: HTMLDivElement;
  private _form: HTMLElement;
  private _formShown = false;
  private _kind!: HTMLSelectElement;
  private _groups: { [kind: string]: HTMLElement } = {};
  private _fields: { [name: string]: HTMLInputElement | HTMLTextAreaElement } = {};
  private _readOnly!: HTMLInputElement;
  private _addButton!: HTMLButtonElement;
  private _formMessage!: HTMLDivElement;
}

/** A one-line summary of the FUSE helper's status, if any. */
function fuseText(fuse: unknown, trans: TranslationBundle): string {
  if (fuse === null || fuse === undefined || fuse === false) {
    return '';
  }
  if (typeof fuse === 'string') {
    return trans.__('FUSE: %1', fuse);
  }
  if (fuse === true) {
    return trans.__('FUSE: mounted');
  }
  if (typeof fuse === 'object') {
    const f = fuse as { state?: string; message?: string; mounted?: boolean };
    const state =
      f.state ||
      (f.mounted
        ? trans.__('mounted')
        : f.mounted === false
          ? trans.__('not mounted')
          : '');
    return trans.__('FUSE: %1', [state, f.message].filter(Boolean).join(': '));
  }
  return '';
}
