/**
 * The "Workbench" left sidebar: a JupyterLab `SidePanel` with one accordion section per
 * feature (Export, Mounts, Environments, Jobs, Session, and whatever other plugins add
 * through `IWorkbenchSidebar`). Each section has its own toolbar in its title (refresh,
 * add). On a first visit only one section is expanded (Mounts, or the one a command
 * reveals), so that it gets the sidebar's height; which sections are expanded is kept in
 * the state DB across reloads after that.
 *
 * The header stays empty while the server extension answers with the same version; when it
 * is missing or another version, it shows a plain warning saying what to do.
 */
import { IStateDB } from '@jupyterlab/statedb';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  LabIcon,
  PanelWithToolbar,
  SidePanel,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { h } from './dom';
import { FRONTEND_VERSION, ISectionOptions, IStatusReply, SIDEBAR_ID } from './tokens';

/** A toolbox: distinct from the Table of Contents' list icon and from the file browser. */
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161">
<path d="M9 3h6a2 2 0 0 1 2 2v2h3a2 2 0 0 1 2 2v3h-8v-1h-4v1H2V9a2 2 0 0 1 2-2h3V5a2 2 0 0 1 2-2zm0 2v2h6V5z"/>
<path d="M2 14h8v2h4v-2h8v5a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2z"/>
</g></svg>`;

export const workbenchIcon = new LabIcon({
  name: 'jupyter-workbench:icon',
  svgstr: ICON_SVG
});

/** Where sections go when their plugin does not say (lower first). */
const DEFAULT_RANKS: { [id: string]: number } = {
  mounts: 10,
  environments: 20,
  export: 30,
  serving: 35,
  jobs: 40,
  session: 50
};

/**
 * The one section expanded on a first visit: with every section open each got ~150 px and
 * its contents scrolled. The others stay collapsed until the user (or a command) opens them.
 */
const DEFAULT_EXPANDED = ['mounts'];

const STATE_KEY = 'jupyter-workbench:sidebar';

/** Outcome of the frontend/server handshake. */
export type HandshakeState =
  | { ok: true; status: IStatusReply }
  | { ok: false; message: string; status?: IStatusReply };

/**
 * Ask the server extension who it is. Never throws: a missing or mismatched server
 * becomes a plain message for the warning.
 */
export async function handshake(
  trans: TranslationBundle = nullTranslator.load('jupyter_workbench')
): Promise<HandshakeState> {
  let status: IStatusReply;
  try {
    status = await requestAPI<IStatusReply>('status');
  } catch (error) {
    return {
      ok: false,
      message: trans.__(
        'The jupyter-workbench server extension is not responding (%1). Is it installed and enabled? Run "jupyter server extension list" and restart JupyterLab.',
        (error as Error).message
      )
    };
  }
  if (status.version !== FRONTEND_VERSION) {
    return {
      ok: false,
      status,
      message: trans.__(
        'The jupyter-workbench server extension is version %1 but this page runs frontend %2. Reinstall the package and reload the page.',
        status.version,
        FRONTEND_VERSION
      )
    };
  }
  return { ok: true, status };
}

export interface IWorkbenchSidebarOptions {
  translator?: ITranslator;
  state?: IStateDB | null;
}

export class WorkbenchSidebar extends SidePanel {
  constructor(options: IWorkbenchSidebarOptions = {}) {
    const translator = options.translator ?? nullTranslator;
    super({ translator });
    this._translator = translator;
    this._wbTrans = translator.load('jupyter_workbench');
    this._stateDB = options.state ?? null;
    this.id = SIDEBAR_ID;
    this.title.icon = workbenchIcon;
    this.title.caption = this._wbTrans.__(
      'Workbench: mounts, environments, export, jobs'
    );
    this.addClass('jp-WorkbenchSidebar');
    this.node.setAttribute('aria-label', this._wbTrans.__('Workbench'));
    const heading = h(
      'h2',
      { className: 'jp-WorkbenchSidebar-title jp-text-truncated' },
      this._wbTrans.__('Workbench')
    );
    this.header.addWidget(new Widget({ node: heading }));
    this._warning = new Widget({
      node: h('div', { className: 'jp-WorkbenchSidebar-warning', role: 'alert' })
    });
    this._warning.hide();
    this.header.addWidget(this._warning);
    this._accordion.expansionToggled.connect(this._onToggled, this);
    // (`data-restored` tells tests and styles that clicks from now on are not undone)
    this._restored = this._restore().finally(() => {
      this.node.dataset.restored = 'true';
    });
  }

  /** The translator the sidebar was built with (sections use the same). */
  get translator(): ITranslator {
    return this._translator;
  }

  /** The last handshake, or null before the first one finished. */
  get state(): HandshakeState | null {
    return this._state;
  }

  /** Resolves once the saved collapsed/expanded state was applied. */
  get restored(): Promise<void> {
    return this._restored;
  }

  /** Run the handshake; show a warning only when something is wrong. */
  async refresh(): Promise<HandshakeState> {
    const state = await handshake(this._wbTrans);
    this._state = state;
    this._warning.node.textContent = state.ok ? '' : state.message;
    this._warning.setHidden(state.ok);
    return state;
  }

  /**
   * Add a section (an accordion pane whose title holds its toolbar). Returns the section
   * so that the caller can add more toolbar items.
   */
  addSection(
    title: string,
    body: Widget,
    id: string,
    options: ISectionOptions = {}
  ): PanelWithToolbar {
    const section = new PanelWithToolbar();
    section.id = `jp-WorkbenchSection-${id}`;
    section.addClass('jp-WorkbenchSection');
    section.node.dataset.section = id;
    section.title.label = title;
    section.title.caption = options.caption ?? title;
    section.toolbar.addClass('jp-WorkbenchSection-toolbar');
    body.addClass('jp-WorkbenchSection-body');
    section.addWidget(body);
    for (const item of options.toolbar ?? []) {
      const toolbarButton = new ToolbarButton({
        icon: item.icon,
        tooltip: item.tooltip,
        label: item.label,
        onClick: item.onClick
      });
      toolbarButton.node.dataset.command = item.name;
      toolbarButton.addClass(`jp-WorkbenchSection-${item.name}`);
      section.toolbar.addItem(item.name, toolbarButton);
    }
    const rank = options.rank ?? DEFAULT_RANKS[id] ?? 100;
    this._ranks.set(section, rank);
    const widgets = this.widgets;
    let index = widgets.length;
    for (let i = 0; i < widgets.length; i++) {
      if ((this._ranks.get(widgets[i]) ?? 100) > rank) {
        index = i;
        break;
      }
    }
    this.insertWidget(index, section);
    // The title (with the toolbar) is a sibling of the section: name it for CSS and tests.
    this._accordion.titles[this.widgets.indexOf(section)]?.setAttribute(
      'data-section-title',
      id
    );
    this._sections.set(id, section);
    if (!this._expanded.has(id)) {
      this._setExpanded(section, false);
    }
    return section;
  }

  /** The section with this id, if added. */
  section(id: string): PanelWithToolbar | undefined {
    return this._sections.get(id);
  }

  /** Expand (and scroll to) a section, e.g. when a command points the user at it. */
  reveal(id: string): void {
    const section = this._sections.get(id);
    if (!section) {
      return;
    }
    if (this._firstVisit) {
      // Nothing saved and nothing toggled yet: this section is the one open, not a second one
      this._expanded.clear();
      for (const [other, widget] of this._sections) {
        this._setExpanded(widget, other === id);
      }
    }
    this._setExpanded(section, true);
    this._expanded.add(id);
    this._save();
    // Expanded is not enough: beside other expanded sections it may get no height at all
    // (the Export form opened from a file's context menu showed nothing). Give it half the
    // sidebar; the others share the rest in their current proportions.
    this._giveRoom(this.widgets.indexOf(section), 0.5);
    section.node.scrollIntoView({ block: 'nearest' });
  }

  /**
   * At least `share` of the sidebar's height for the expanded section at `index`; the other
   * sections share the rest in their current proportions. (A section that was collapsed since
   * it was added has no size of its own: expanded beside an open one it stayed invisible.)
   */
  private _giveRoom(index: number, share: number): void {
    const sizes = this._accordion.relativeSizes();
    const others = sizes.reduce((sum, size, i) => (i === index ? sum : sum + size), 0);
    if (index >= 0 && sizes[index] < share && others > 0) {
      this._accordion.setRelativeSizes(
        sizes.map((size, i) => (i === index ? share : (size / others) * (1 - share)))
      );
    }
  }

  private get _accordion(): AccordionPanel {
    return this.content as AccordionPanel;
  }

  private _setExpanded(section: Widget, expanded: boolean): void {
    const index = this.widgets.indexOf(section);
    if (index < 0 || section.isHidden !== expanded) {
      return;
    }
    this._applying = true;
    try {
      if (expanded) {
        this._accordion.expand(index);
      } else {
        this._accordion.collapse(index);
      }
    } finally {
      this._applying = false;
    }
  }

  private _onToggled(_: AccordionPanel, index: number): void {
    const section = this.widgets[index];
    const id = section?.node.dataset.section;
    if (!id || this._applying) {
      return; // (the sidebar's own toggles are applied state, not the user's choice)
    }
    if (section.isHidden) {
      this._expanded.delete(id);
    } else {
      this._expanded.add(id);
      // a fair share beside the sections already open
      const open = this.widgets.filter(w => !w.isHidden).length;
      this._giveRoom(index, 1 / Math.max(open, 1));
    }
    this._save();
  }

  /** Keep which sections are expanded: from now on that, not the default, applies. */
  private _save(): void {
    this._firstVisit = false;
    void this._stateDB?.save(STATE_KEY, { expanded: [...this._expanded] });
  }

  private async _restore(): Promise<void> {
    if (!this._stateDB) {
      return;
    }
    try {
      const saved = (await this._stateDB.fetch(STATE_KEY)) as {
        expanded?: string[];
        collapsed?: string[];
      } | null;
      if (!this._firstVisit) {
        return; // the user toggled a section before the state arrived: theirs wins
      }
      if (saved && Array.isArray(saved.expanded)) {
        this._expanded = new Set(saved.expanded);
      } else if (saved && Array.isArray(saved.collapsed)) {
        // saved by earlier 0.1 builds, which listed the collapsed sections
        const collapsed = new Set(saved.collapsed);
        this._expanded = new Set(
          [...this._sections.keys()].filter(id => !collapsed.has(id))
        );
      } else {
        return; // first visit: the defaults stay
      }
      this._firstVisit = false;
      for (const [id, section] of this._sections) {
        this._setExpanded(section, this._expanded.has(id));
      }
    } catch (error) {
      console.warn('jupyter-workbench: could not restore the sidebar state', error);
    }
  }

  private _translator: ITranslator;
  private _wbTrans: TranslationBundle;
  private _stateDB: IStateDB | null;
  private _warning: Widget;
  private _state: HandshakeState | null = null;
  private _sections = new Map<string, PanelWithToolbar>();
  private _ranks = new WeakMap<Widget, number>();
  private _expanded = new Set<string>(DEFAULT_EXPANDED);
  private _applying = false;
  /** No saved state applied and no section toggled yet. */
  private _firstVisit = true;
  private _restored: Promise<void>;
}
