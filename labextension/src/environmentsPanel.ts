/**
 * The workbench environments (py3, tf2) as the frontend sees them: a model that lists them
 * and creates/repairs one with progress, and the sidebar's "Environments" section.
 *
 * REST: `GET workbench/api/environments`, `GET|POST workbench/api/environments/{name}`
 * (POST answers 202 and the creation runs on the server; GET shows its step and last log
 * lines under `creation`).
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { button, h } from './dom';
import { TRANSLATION_DOMAIN } from './tokens';
import {
  createLabel,
  describeGpu,
  describePackages,
  ICreationProgress,
  IEnvironment,
  standby
} from './util';

export { createLabel };
export type { IEnvironment };

const defaultTrans = () => nullTranslator.load(TRANSLATION_DOMAIN);

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
export class EnvironmentsModel {
  constructor(
    options: {
      interval?: number;
      followInterval?: number;
      trans?: TranslationBundle;
      standby?: () => boolean | 'when-hidden';
    } = {}
  ) {
    this._trans = options.trans ?? defaultTrans();
    this._interval = options.interval ?? 60_000;
    this._followInterval = options.followInterval ?? 1000;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: { interval: this._interval, backoff: true, max: 300_000 },
      name: 'jupyter-workbench:environments',
      standby: options.standby ?? standby
    });
  }

  /** Emitted when the list, or a creation's progress, changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
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

  /** The poll, for its state and frequency (tests, diagnostics). */
  get poll(): Poll {
    return this._poll;
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

  /** List now (and start polling); never throws (the error is kept in `error`). */
  async refresh(): Promise<void> {
    if (this._poll.isDisposed) {
      return;
    }
    if (this._poll.state.phase === 'constructed') {
      void this._poll.start();
    }
    await this._poll.refresh();
    await this._poll.tick.catch(() => undefined);
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

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
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
    this._changed.emit();
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

  private async _tick(): Promise<void> {
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
    this._changed.emit();
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
    this._changed.emit();
  }

  private _setFrequency(): void {
    const interval = this._followed.size ? this._followInterval : this._interval;
    if (!this._poll.isDisposed && this._poll.frequency.interval !== interval) {
      this._poll.frequency = { ...this._poll.frequency, interval };
    }
  }

  private _envs: IEnvironment[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _poll: Poll;
  private _interval: number;
  private _followInterval: number;
  private _progress = new Map<string, ICreationProgress>();
  private _followed = new Map<string, IFollowed>();
  private _posting = new Set<string>();
  private _trans: TranslationBundle;
  private _changed = new Signal<this, void>(this);
  private _creationEnded = new Signal<this, ICreationEnded>(this);
}

export interface IEnvironmentsPanelOptions {
  model: EnvironmentsModel;
  /** The environment of the active notebook (its kernel's), if any. */
  activeEnvironment: () => string | null;
  /** A label for the active notebook ("analysis.ipynb"), null when there is none. */
  activeNotebook: () => string | null;
  /** Create or repair (the plugin adds notifications and error dialogs). */
  create: (name: string) => void;
  /** Switch the active notebook to the environment (confirmation included). */
  switchTo: (name: string) => void;
  trans?: TranslationBundle;
}

/** The sidebar's "Environments" section. */
export class EnvironmentsPanel extends Widget {
  constructor(options: IEnvironmentsPanelOptions) {
    super();
    this._options = options;
    this._trans = options.trans ?? defaultTrans();
    this.addClass('jp-WorkbenchEnvironments');
    this._notebook = h('div', { className: 'jp-WorkbenchEnvironments-notebook' });
    this._list = h('div', { className: 'jp-WorkbenchEnvironments-list' });
    this._error = h('div', { className: 'jp-WorkbenchEnvironments-error' });
    this.node.append(
      h('div', { className: 'jp-WorkbenchEnvironments-toolbar' }, this._notebook),
      this._error,
      this._list
    );
    options.model.changed.connect(() => this.update(), this);
  }

  protected onAfterShow(): void {
    void this._options.model.refresh();
  }

  protected onAfterAttach(): void {
    this.update();
  }

  protected onUpdateRequest(): void {
    const { model } = this._options;
    const trans = this._trans;
    const active = this._options.activeEnvironment();
    const notebook = this._options.activeNotebook();
    const label = notebook
      ? active
        ? trans.__('Active notebook: %1 (%2)', notebook, active)
        : trans.__('Active notebook: %1', notebook)
      : trans.__('No notebook open.');
    if (this._notebook.textContent !== label) {
      this._notebook.textContent = label;
    }
    this._error.textContent = model.error
      ? trans.__('Cannot list the environments: %1', model.error)
      : '';
    this._error.hidden = !model.error;
    if (!model.loaded && !model.error) {
      this._list.replaceChildren(
        h('div', { className: 'jp-WorkbenchEnvironments-empty' }, trans.__('Loading…'))
      );
      return;
    }
    // Rebuild a card only when what it shows changed: the panel is updated on every kernel
    // status change, and replacing a button under the pointer would swallow the click.
    const cards = model.environments.map(env => {
      const isActive = env.name === active;
      const key = JSON.stringify([
        env,
        isActive,
        notebook,
        model.isCreating(env.name),
        model.progress(env.name) ?? null
      ]);
      const cached = this._cards.get(env.name);
      if (cached && cached.key === key) {
        return cached.node;
      }
      const node = this._renderEnv(env, isActive, notebook);
      this._cards.set(env.name, { key, node });
      return node;
    });
    const shown = Array.from(this._list.children);
    if (shown.length !== cards.length || shown.some((node, i) => node !== cards[i])) {
      this._list.replaceChildren(...cards);
    }
  }

  private _renderEnv(
    env: IEnvironment,
    isActive: boolean,
    notebook: string | null
  ): HTMLElement {
    const { model } = this._options;
    const trans = this._trans;
    const creating = model.isCreating(env.name) || env.state === 'creating';
    const state = creating ? 'creating' : env.state;
    const stateText: { [state: string]: string } = {
      ready: trans.__('ready'),
      missing: trans.__('missing'),
      incomplete: trans.__('incomplete'),
      broken: trans.__('broken'),
      creating: trans.__('creating')
    };
    const card = h('div', {
      className: 'jp-WorkbenchEnv' + (isActive ? ' jp-mod-active' : ''),
      'data-env': env.name,
      'data-state': state
    });
    const title = h(
      'div',
      { className: 'jp-WorkbenchEnv-title' },
      h('span', { className: 'jp-WorkbenchEnv-name' }, env.display_name || env.name),
      h(
        'span',
        { className: 'jp-WorkbenchEnv-state', 'data-field': 'state' },
        stateText[state] ?? state
      )
    );
    if (env.shared) {
      title.append(
        h(
          'span',
          {
            className: 'jp-WorkbenchEnv-sharedBadge',
            'data-field': 'shared',
            title: trans.__(
              'Shared by the team and read-only: %pip install adds packages for you only, in your own overlay'
            )
          },
          trans.__('shared')
        )
      );
    }
    if (isActive) {
      title.append(
        h(
          'span',
          {
            className: 'jp-WorkbenchEnv-activeBadge',
            title: trans.__('The active notebook runs in this environment')
          },
          trans.__('active notebook')
        )
      );
    }
    card.append(title);
    const details = h('dl', { className: 'jp-WorkbenchEnv-details' });
    const add = (label: string, field: string, value: string) =>
      details.append(h('dt', {}, label), h('dd', { 'data-field': field }, value));
    add(trans.__('Kernel'), 'kernel', env.kernel_name);
    if (env.python) {
      add(trans.__('Python'), 'python', env.python);
    }
    const packages = describePackages(env.packages);
    if (packages) {
      add(
        env.shared ? trans.__('Shared packages') : trans.__('Packages'),
        'packages',
        packages
      );
    }
    if (env.shared) {
      const personal = Object.entries(env.personal_packages ?? {})
        .map(([dist, version]) => `${dist} ${version}`)
        .join(', ');
      add(
        trans.__('Your packages'),
        'personal-packages',
        personal || trans.__('none (%pip install adds them here)')
      );
    }
    const gpu = describeGpu(env, trans);
    if (gpu) {
      add(trans.__('GPU'), 'gpu', gpu);
    }
    card.append(details);
    if (env.message && !(env.ready && /is ready\.$/.test(env.message))) {
      card.append(
        h(
          'div',
          {
            className: 'jp-WorkbenchEnv-message' + (env.ready ? '' : ' jp-mod-warning'),
            'data-field': 'message'
          },
          env.message
        )
      );
    }
    const progress = model.progress(env.name);
    if (progress) {
      card.append(renderProgress(progress, trans));
    }
    const actions = h('div', { className: 'jp-WorkbenchEnv-actions' });
    const label = createLabel(env, trans);
    if (creating) {
      const busy = button(trans.__('Creating…'));
      busy.disabled = true;
      actions.append(busy);
    } else if (label) {
      const create = button(label, {
        kind: 'accept',
        title: trans.__('%1 the %2 environment on the server', label, env.name)
      });
      create.classList.add('jp-WorkbenchEnv-create');
      create.addEventListener('click', () => this._options.create(env.name));
      actions.append(create);
    }
    if (notebook && !isActive && !creating) {
      const switchButton = button(trans.__('Switch active notebook to %1', env.name), {
        title: trans.__(
          "Restart %1's kernel in %2 (variables are lost)",
          notebook,
          env.name
        )
      });
      switchButton.classList.add('jp-WorkbenchEnv-switch');
      switchButton.addEventListener('click', () => this._options.switchTo(env.name));
      actions.append(switchButton);
    }
    if (actions.childElementCount) {
      card.append(actions);
    }
    return card;
  }

  private _options: IEnvironmentsPanelOptions;
  private _trans: TranslationBundle;
  private _cards = new Map<string, { key: string; node: HTMLElement }>();
  private _notebook: HTMLDivElement;
  private _list: HTMLDivElement;
  private _error: HTMLDivElement;
}

/** The step, the last log lines and (while running) an indeterminate progress bar. */
export function renderProgress(
  progress: ICreationProgress,
  trans: TranslationBundle = defaultTrans()
): HTMLElement {
  const node = h('div', {
    className: 'jp-WorkbenchEnv-progress',
    'data-running': progress.running ? 'true' : 'false'
  });
  if (progress.running) {
    node.append(h('progress', { 'aria-label': trans.__('Creating %1', progress.name) }));
  }
  node.append(
    h('div', { className: 'jp-WorkbenchEnv-step', 'data-field': 'step' }, progress.step)
  );
  if (progress.log.length) {
    node.append(
      h(
        'pre',
        { className: 'jp-WorkbenchEnv-log', 'data-field': 'log' },
        progress.log.join('\n')
      )
    );
  }
  if (progress.error) {
    node.append(
      h(
        'div',
        { className: 'jp-WorkbenchEnv-message jp-mod-error', 'data-field': 'error' },
        progress.error
      )
    );
  }
  return node;
}
