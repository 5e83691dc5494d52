/**
 * The sidebar's "Serve / Try it" section: start a model server for a model base, see its
 * versions and their states, send a request (prefilled from the signature) and read the
 * answer. Everything goes through `workbench/api/serving` on the Jupyter server, which proxies
 * TF Serving's REST API of the served process: no second port or token in the browser.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { requestAPI, requestRaw } from './api';
import { button, h, say, textInput, useSelectedButton } from './dom';
import { standby } from './util';

export interface IVersionStatus {
  version: string;
  state: string;
  status: { error_code: string; error_message: string };
}

export interface IServedSignature {
  method: string;
  inputs: { [name: string]: { dtype: string; shape: number[] | null } };
  outputs: { [name: string]: { dtype: string; shape: number[] | null } };
  example: { [key: string]: unknown };
}

export interface IModelServer {
  name: string;
  base: string;
  state: 'running' | 'exited';
  exit_code: number | null;
  api: string;
  log?: string | null;
  model_version_status?: IVersionStatus[];
  signatures?: { [name: string]: IServedSignature };
}

export interface IServingPanelOptions {
  trans: TranslationBundle;
  /** Path of the item selected in the file browser, if any. */
  selectedPath: () => string | null;
}

/** The part of a server's API path after `workbench/api/`. */
function apiPath(server: IModelServer, suffix: string): string {
  return `serving/${encodeURIComponent(server.name)}/v1/models/${encodeURIComponent(server.name)}${suffix}`;
}

/** One served model: its versions, a request editor and the answer. */
class ServerCard {
  constructor(server: IModelServer, panel: ServingPanel, trans: TranslationBundle) {
    this.server = server;
    this._trans = trans;
    this.title = h('span', { className: 'jp-WorkbenchServing-name' });
    const stop = button(trans.__('Stop'), { kind: 'warn' });
    stop.addEventListener('click', () => void panel.stop(this.server.name));
    this.versions = h('ul', { className: 'jp-WorkbenchServing-versions' });
    this.signature = h('select', { 'aria-label': trans.__('Signature') });
    this.signature.addEventListener('change', () => this._prefill());
    this.request = h('textarea', {
      className: 'jp-WorkbenchServing-request',
      rows: '6',
      spellcheck: 'false',
      'aria-label': trans.__('Request')
    });
    const send = button(trans.__('Send'), { kind: 'accept' });
    send.addEventListener('click', () => void this.send());
    this.response = h('pre', {
      className: 'jp-WorkbenchServing-response',
      'aria-label': trans.__('Response')
    });
    this.node = h(
      'div',
      { className: 'jp-WorkbenchServing-server', 'data-name': server.name },
      h('div', { className: 'jp-WorkbenchForm-row' }, this.title, stop),
      this.versions,
      h(
        'label',
        { className: 'jp-WorkbenchForm-row' },
        h('span', {}, trans.__('Signature')),
        h('div', { className: 'jp-HTMLSelect jp-DefaultStyle' }, this.signature)
      ),
      this.request,
      h('div', { className: 'jp-WorkbenchForm-row' }, send),
      this.response
    );
    this.update(server);
  }

  update(server: IModelServer): void {
    const trans = this._trans;
    this.server = server;
    this.title.textContent =
      server.state === 'running'
        ? trans.__('%1 (%2): running', server.name, server.base)
        : trans.__(
            '%1 (%2): exited with status %3',
            server.name,
            server.base,
            server.exit_code
          );
    this.versions.replaceChildren(
      ...(server.model_version_status ?? []).map(v =>
        h(
          'li',
          { 'data-version': v.version, 'data-state': v.state },
          v.status.error_message
            ? trans.__('version %1: %2 (%3)', v.version, v.state, v.status.error_message)
            : trans.__('version %1: %2', v.version, v.state)
        )
      )
    );
    const names = Object.keys(server.signatures ?? {});
    const current = Array.from(this.signature.options).map(o => o.value);
    if (names.join('\n') !== current.join('\n')) {
      const chosen = this.signature.value;
      this.signature.replaceChildren(...names.map(n => h('option', { value: n }, n)));
      const preferred = names.includes(chosen)
        ? chosen
        : names.includes('serving_default')
          ? 'serving_default'
          : names[0];
      if (preferred) {
        this.signature.value = preferred;
      }
      this._prefill();
    }
  }

  /** The request body for the chosen signature: one example value per input. */
  private _prefill(): void {
    const sig = this.server.signatures?.[this.signature.value];
    if (sig) {
      this.request.value = JSON.stringify(sig.example, null, 1);
    }
  }

  async send(): Promise<void> {
    const trans = this._trans;
    const sig = this.server.signatures?.[this.signature.value];
    const verb = sig?.method.endsWith('/classify')
      ? ':classify'
      : sig?.method.endsWith('/regress')
        ? ':regress'
        : ':predict';
    let body: string;
    try {
      body = JSON.stringify(JSON.parse(this.request.value));
    } catch (error) {
      this.response.dataset.ok = 'false';
      this.response.textContent = trans.__('The request is not JSON: %1', String(error));
      return;
    }
    this.response.textContent = trans.__('Sending…');
    try {
      const answer = await requestRaw(apiPath(this.server, verb), {
        method: 'POST',
        body
      });
      let shown = answer.text;
      try {
        shown = JSON.stringify(JSON.parse(answer.text), null, 1);
      } catch {
        // not JSON (a proxy error page): shown as it came
      }
      const ok = answer.status >= 200 && answer.status < 300;
      this.response.dataset.ok = ok ? 'true' : 'false';
      this.response.textContent = ok ? shown : trans.__('%1 %2', answer.status, shown);
    } catch (error) {
      this.response.dataset.ok = 'false';
      this.response.textContent = (error as Error).message;
    }
  }

  server: IModelServer;
  readonly node: HTMLDivElement;
  readonly title: HTMLSpanElement;
  readonly versions: HTMLUListElement;
  readonly signature: HTMLSelectElement;
  readonly request: HTMLTextAreaElement;
  readonly response: HTMLPreElement;
  private _trans: TranslationBundle;
}

export class ServingPanel extends Widget {
  constructor(options: IServingPanelOptions) {
    super();
    const trans = (this._trans = options.trans);
    this.addClass('jp-WorkbenchServing');
    const base = textInput(trans.__('Model base'), {
      placeholder: trans.__('models/mnist or mount://data/models/mnist')
    });
    this._base = base.input;
    const start = button(trans.__('Serve'), { kind: 'accept', type: 'submit' });
    const useSelected = useSelectedButton(
      options.selectedPath,
      path => {
        this._base.value = path;
      },
      {
        label: trans.__('Use selected'),
        title: trans.__('Use the folder selected in the file browser')
      }
    );
    const form = h(
      'form',
      {},
      h(
        'label',
        { className: 'jp-WorkbenchForm-row' },
        h('span', {}, trans.__('Model base')),
        base.group
      ),
      h('div', { className: 'jp-WorkbenchForm-row' }, useSelected, start)
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.start(this._base.value.trim());
    });
    this._message = h('p', { className: 'jp-WorkbenchServing-message', role: 'status' });
    this._list = h('div', { className: 'jp-WorkbenchServing-list' });
    this.node.append(form, this._message, this._list);
    this._poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: 3000, backoff: true, max: 30000 },
      standby
    });
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  async start(base: string): Promise<void> {
    const trans = this._trans;
    if (!base) {
      this._say(trans.__('Give the model base: the folder that holds 1/, 2/, …'), true);
      return;
    }
    this._say(trans.__('Starting a model server for %1…', base), false);
    try {
      const server = await requestAPI<IModelServer>('serving', {
        method: 'POST',
        body: JSON.stringify({ base })
      });
      this._say(trans.__('Serving %1.', server.name), false);
    } catch (error) {
      this._say((error as Error).message, true);
    }
    await this.refresh();
  }

  async stop(name: string): Promise<void> {
    try {
      await requestAPI(`serving/${encodeURIComponent(name)}`, { method: 'DELETE' });
      this._say(this._trans.__('Stopped %1.', name), false);
    } catch (error) {
      this._say((error as Error).message, true);
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const servers = await requestAPI<IModelServer[]>('serving');
    const details = await Promise.all(
      servers.map(s =>
        s.state === 'running'
          ? requestAPI<IModelServer>(`serving/${encodeURIComponent(s.name)}`).catch(
              () => s
            )
          : Promise.resolve(s)
      )
    );
    const seen = new Set<string>();
    for (const server of details) {
      seen.add(server.name);
      const card = this._cards.get(server.name);
      if (card) {
        card.update(server);
      } else {
        const fresh = new ServerCard(server, this, this._trans);
        this._cards.set(server.name, fresh);
        this._list.append(fresh.node);
      }
    }
    for (const [name, card] of this._cards) {
      if (!seen.has(name)) {
        card.node.remove();
        this._cards.delete(name);
      }
    }
  }

  private _say(text: string, error: boolean): void {
    say(this._message, text, error);
  }

  private _trans: TranslationBundle;
  private _base: HTMLInputElement;
  private _message: HTMLParagraphElement;
  private _list: HTMLDivElement;
  private _cards = new Map<string, ServerCard>();
  private _poll: Poll;
}
