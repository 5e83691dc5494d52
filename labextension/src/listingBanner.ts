/**
 * A banner in JupyterLab's own file browser for a mount folder larger than what it lists.
 *
 * The server lists a mount folder completely up to its bound (`c.Workbench.listing_limit`,
 * 10,000 entries by default). After each listing of a mount folder the banner asks
 * `workbench/api/mounts/<name>/listing/more` whether the store holds more; if so it says how
 * many entries are listed, that the filter searches those, and offers "Load the next N",
 * which raises that folder's bound on the server and refreshes the file browser (the new
 * entries are then ordinary file browser items: open, filter, select, drag).
 */
import type { FileBrowser } from '@jupyterlab/filebrowser';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { button, h, say } from './dom';
import type { IListingBound, MountsModel } from './mountsPanel';

export interface IListingBannerOptions {
  browser: FileBrowser;
  model: MountsModel;
  trans: TranslationBundle;
}

const count = (n: number) => n.toLocaleString();

export class ListingBanner extends Widget {
  constructor(options: IListingBannerOptions) {
    super();
    this._browser = options.browser;
    this._model = options.model;
    this._trans = options.trans;
    const trans = this._trans;
    this.addClass('jp-WorkbenchListingBanner');
    this.node.setAttribute('role', 'status');
    this._text = h('span', { className: 'jp-WorkbenchListingBanner-text' });
    this._button = button(trans.__('Load more'), { kind: 'accept' });
    this._button.classList.add('jp-WorkbenchListingBanner-load');
    this._button.addEventListener('click', () => void this.loadMore());
    this.node.append(this._text, this._button);
    this.hide();
    const check = () => void this.check();
    this._browser.model.pathChanged.connect(check);
    this._browser.model.refreshed.connect(check);
    this._model.changed.connect(check);
  }

  /** The bound of the folder shown, as last asked (null outside mounts). */
  get bound(): IListingBound | null {
    return this._bound;
  }

  /** Ask the server about the file browser's folder; show the banner if it holds more. */
  async check(): Promise<void> {
    if (this._loading) {
      return;
    }
    const path = this._browser.model.path;
    const ask = ++this._asked;
    let bound: IListingBound | null = null;
    try {
      bound = await this._model.listingBound(path);
    } catch {
      bound = null; // the mount went away, or the server: the listing says what is wrong
    }
    if (ask !== this._asked || this._browser.model.path !== path) {
      return; // a newer question is under way
    }
    this._bound = bound;
    const trans = this._trans;
    if (!bound || !bound.truncated || bound.shown === null) {
      this.hide();
      return;
    }
    say(
      this._text,
      trans.__(
        'Showing the first %1 entries of this folder; the storage holds more. The filter searches the entries shown.',
        count(bound.shown)
      )
    );
    this._setLabel(trans.__('Load the next %1', count(bound.step)));
    this.show();
  }

  /** "Load the next N": raise the folder's bound, then list it again. */
  async loadMore(): Promise<void> {
    const path = this._browser.model.path;
    const step = this._bound?.step ?? 0;
    const trans = this._trans;
    this._loading = true;
    this._button.disabled = true;
    say(this._text, trans.__('Loading the next %1 entries…', count(step)));
    try {
      await this._model.loadMore(path);
      await this._browser.model.refresh();
    } catch (error) {
      say(this._text, (error as Error).message || String(error), true);
      return;
    } finally {
      this._loading = false;
      this._button.disabled = false;
    }
    await this.check();
  }

  private _setLabel(label: string): void {
    const span = this._button.querySelector('.jp-WorkbenchButton-label');
    if (span) {
      span.textContent = label;
    }
  }

  private _browser: FileBrowser;
  private _model: MountsModel;
  private _trans: TranslationBundle;
  private _text: HTMLSpanElement;
  private _button: HTMLButtonElement;
  private _bound: IListingBound | null = null;
  private _asked = 0;
  private _loading = false;
}
