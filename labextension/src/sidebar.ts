/**
 * The "Workbench" left sidebar: a handshake banner plus one collapsible section per feature.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { h } from './dom';
import { FRONTEND_VERSION, IStatusReply, SIDEBAR_ID } from './tokens';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M3 4h18v4H3zM3 10h18v4H3zM3 16h18v4H3z" opacity=".35"/>
<path d="M5 5h6v2H5zM5 11h9v2H5zM5 17h4v2H5z"/></g></svg>`;

export const workbenchIcon = new LabIcon({
  name: 'jupyter-workbench:icon',
  svgstr: ICON_SVG
});

/** Outcome of the frontend/server handshake. */
export type HandshakeState =
  | { ok: true; status: IStatusReply }
  | { ok: false; message: string; status?: IStatusReply };

/**
 * Ask the server extension who it is. Never throws: a missing or mismatched server
 * becomes a plain message for the banner.
 */
export async function handshake(): Promise<HandshakeState> {
  let status: IStatusReply;
  try {
    status = await requestAPI<IStatusReply>('status');
  } catch (error) {
    return {
      ok: false,
      message:
        'The jupyter-workbench server extension is not responding ' +
        `(${(error as Error).message}). Is it installed and enabled? ` +
        'Run "jupyter server extension list" and restart JupyterLab.'
    };
  }
  if (status.version !== FRONTEND_VERSION) {
    return {
      ok: false,
      status,
      message:
        `The jupyter-workbench server extension is version ${status.version} but this ` +
        `page runs frontend ${FRONTEND_VERSION}. Reinstall the package and reload the page.`
    };
  }
  return { ok: true, status };
}

export class WorkbenchSidebar extends Panel {
  constructor() {
    super();
    this.id = SIDEBAR_ID;
    this.title.icon = workbenchIcon;
    this.title.caption = 'Workbench';
    this.addClass('jp-WorkbenchSidebar');
    this._banner = h('div', {
      className: 'jp-WorkbenchSidebar-banner',
      'data-state': 'pending'
    });
    this._banner.textContent = 'Connecting to the workbench server…';
    const header = new Widget({
      node: h(
        'div',
        { className: 'jp-WorkbenchSidebar-header' },
        h('h2', {}, 'Workbench'),
        this._banner
      )
    });
    this.addWidget(header);
  }

  /** The last handshake, or null before the first one finished. */
  get state(): HandshakeState | null {
    return this._state;
  }

  /** Run the handshake and show its outcome in the banner. */
  async refresh(): Promise<HandshakeState> {
    const state = await handshake();
    this._state = state;
    if (state.ok) {
      this._banner.dataset.state = 'ok';
      this._banner.textContent = `Connected to jupyter-workbench server ${state.status.version}`;
    } else {
      this._banner.dataset.state = 'error';
      this._banner.textContent = state.message;
    }
    return state;
  }

  /** Add a collapsible section (Export, Mounts, Environments, Session & jobs). */
  addSection(title: string, body: Widget, id: string): void {
    const toggle = h(
      'button',
      { className: 'jp-WorkbenchSection-toggle', 'aria-expanded': 'true' },
      title
    );
    const section = new Panel();
    section.addClass('jp-WorkbenchSection');
    section.node.dataset.section = id;
    section.addWidget(new Widget({ node: h('div', {}, toggle) }));
    section.addWidget(body);
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') === 'true';
      toggle.setAttribute('aria-expanded', open ? 'false' : 'true');
      body.setHidden(open);
    });
    this.addWidget(section);
  }

  private _banner: HTMLDivElement;
  private _state: HandshakeState | null = null;
}
