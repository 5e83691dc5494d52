/**
 * The workbench environments (py3, tf2) as the frontend sees them: a model that lists them
 * and creates/repairs one with progress, and the sidebar's "Environments" section.
 *
 * REST: `GET workbench/api/environments`, `GET|POST workbench/api/environments/{name}`
 * (POST answers 202 and the creation runs on the server; GET shows its step and last log
 * lines under `creation`).
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { requestAPI } from './api';
import { button, h } from './dom';
import { TRANSLATION_DOMAIN } from './tokens';

const defaultTrans = () => nullTranslator.load(TRANSLATION_DOMAIN);

export type EnvironmentState = 'ready' | 'missing' | 'incomplete' | 'broken' | 'creating';

/** A creation/repair started through the REST API. */
export interface ICreation {
  state: 'running' | 'done' | 'failed';
  step: string;
  started_at: number;
  log: string[];
  error: string | null;
}

/** One entry of `GET workbench/api/environments`. */
export interface IEnvironment {
  name: string;
  display_name: string;
  description?: string;
  kernel_name: string;
  python: string | null;
  packages: { [dist: string]: string };
  /** tf2: a GPU build with a GPU visible; null for environments that ignore GPUs. */
  gpu: boolean | null;
  gpu_visible?: boolean;
  ready: boolean;
  state: EnvironmentState;
  message: string;
  cull_idle_timeout?: number | null;
  creation?: ICreation;
}

/** What the panel shows while a creation runs (or after it ended). */
export interface ICreationProgress {
  name: string;
  running: boolean;
  step: string;
  log: string[];
  error: string | null;
}

/** Key packages, in the order they are worth showing, with readable names. */
const KEY_PACKAGES: [string, string][] = [
  ['tensorflow', 'TensorFlow'],
  ['tensorflow-cpu', 'TensorFlow (CPU)'],
  ['keras', 'Keras'],
  ['tf_keras', 'tf_keras'],
  ['numpy', 'NumPy'],
  ['pandas', 'pandas'],
  ['ipykernel', 'ipykernel'],
  ['fsspec', 'fsspec']
];

/** "TensorFlow 2.21.0, Keras 3.15.1, NumPy 2.4.6" (at most `max` packages). */
export function describePackages(packages: { [dist: string]: string }, max = 4): string {
  const norm: { [dist: string]: string } = {};
  for (const [dist, version] of Object.entries(packages || {})) {
    norm[dist.toLowerCase().replace(/_/g, '-')] = version;
  }
  const out: string[] = [];
  let hasTF = false;
  for (const [dist, label] of KEY_PACKAGES) {
    const version = norm[dist.replace(/_/g, '-')];
    if (version === undefined) {
      continue;
    }
    if (dist === 'tensorflow-cpu' && hasTF) {
      continue;
    }
    hasTF = hasTF || dist.startsWith('tensorflow');
    out.push(`${label} ${version}`);
    if (out.length >= max) {
      break;
    }
  }
  return out.join(', ');
}

/** A sentence about the GPU for GPU-aware environments, null for the others. */
export function describeGpu(
  env: IEnvironment,
  trans: TranslationBundle = defaultTrans()
): string | null {
  if (env.gpu === null || env.gpu === undefined) {
    return null;
  }
  if (env.gpu) {
    return trans.__('visible and used by TensorFlow');
  }
  if (env.gpu_visible) {
    return trans.__(
      'visible, but this is a CPU build (Repair/Update to rebuild for the GPU)'
    );
  }
  return trans.__('none visible (TensorFlow runs on the CPU)');
}

/** The label of the button that (re)builds an environment, null when none is needed. */
export function createLabel(
  env: IEnvironment,
  trans: TranslationBundle = defaultTrans()
): string | null {
  switch (env.state) {
    case 'missing':
      return trans.__('Create');
    case 'incomplete':
    case 'broken':
      return trans.__('Repair');
    case 'creating':
      return null;
    default:
      return /older definition|different GPU/.test(env.message)
        ? trans.__('Update')
        : null;
  }
}

/** A minimal signal (this package does not depend on @lumino/signaling). */
export class Listeners<T> {
  connect(fn: (value: T) => void): void {
    this._fns.add(fn);
  }
  disconnect(fn: (value: T) => void): void {
    this._fns.delete(fn);
  }
  emit(value: T): void {
    for (const fn of [...this._fns]) {
      try {
        fn(value);
      } catch (error) {
        console.error(error);
      }
    }
  }
  private _fns = new Set<(value: T) => void>();
}

export interface ICreationEnded {
  name: string;
  ok: boolean;
  error: string | null;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * The environments and the creations in flight. One instance is shared by the panel, the
 * status bar item and the commands.
 */
export class EnvironmentsModel {
  constructor(options: { pollInterval?: () => number; trans?: TranslationBundle } = {}) {
    this._trans = options.trans ?? defaultTrans();
    this._pollInterval = options.pollInterval ?? (() => 1000);
  }

  /** Emitted when the list, or a creation's progress, changed. */
  get changed(): Listeners<void> {
    return this._changed;
  }

  /** Emitted with the environment's name when a creation ended (either way). */
  get creationEnded(): Listeners<ICreationEnded> {
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

  /** Whether a creation of `name` started here is still running. */
  isCreating(name: string): boolean {
    return this._waiters.has(name);
  }

  /** Fetch the list; never throws (the error is kept in `error`). */
  refresh(): Promise<void> {
    if (!this._refreshing) {
      this._refreshing = this._refresh().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
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
    const running = this._waiters.get(name);
    if (running) {
      return running;
    }
    const promise = this._create(name).finally(() => {
      this._waiters.delete(name);
      this._changed.emit();
    });
    this._waiters.set(name, promise);
    this._changed.emit();
    return promise;
  }

  private async _refresh(): Promise<void> {
    try {
      const envs = await requestAPI<IEnvironment[]>('environments');
      this._envs = envs;
      this._error = null;
      this._loaded = true;
      // A creation started elsewhere (another tab, the CLI): follow it too.
      for (const env of envs) {
        if (env.state === 'creating' && !this._waiters.has(env.name)) {
          void this.create(env.name).catch(() => undefined);
        }
      }
    } catch (error) {
      this._error = (error as Error).message;
    }
    this._changed.emit();
  }

  private async _create(name: string): Promise<IEnvironment> {
    const progress: ICreationProgress = {
      name,
      running: true,
      step: this._trans.__('starting'),
      log: [],
      error: null
    };
    this._progress.set(name, progress);
    this._changed.emit();
    const current = this.get(name);
    try {
      if (!current || current.state !== 'creating') {
        try {
          await requestAPI(`environments/${encodeURIComponent(name)}`, {
            method: 'POST',
            body: '{}'
          });
        } catch (error) {
          // 409: already being created (by another tab): follow that one.
          const status = (error as { response?: Response }).response?.status;
          if (status !== 409 || !/already being created/.test((error as Error).message)) {
            throw error;
          }
        }
      }
      let env: IEnvironment;
      for (;;) {
        await sleep(this._pollInterval());
        env = await requestAPI<IEnvironment>(`environments/${encodeURIComponent(name)}`);
        this._update(env);
        const creation = env.creation;
        if (creation) {
          progress.step = creation.step || progress.step;
          progress.log = creation.log.slice(-6);
          if (creation.state !== 'running') {
            if (creation.state === 'failed') {
              throw new Error(
                creation.error || this._trans.__('Creating %1 failed.', name)
              );
            }
            break;
          }
        } else if (env.state !== 'creating') {
          break; // created by someone else (the CLI): no creation record here
        } else {
          progress.step = env.message;
        }
        this._changed.emit();
      }
      progress.running = false;
      progress.step = env.ready ? this._trans.__('%1 is ready', name) : env.message;
      if (!env.ready) {
        throw new Error(env.message || this._trans.__('%1 is not ready.', name));
      }
      this._creationEnded.emit({ name, ok: true, error: null });
      void this.refresh();
      return env;
    } catch (error) {
      progress.running = false;
      progress.error = (error as Error).message;
      this._creationEnded.emit({ name, ok: false, error: progress.error });
      void this.refresh();
      throw error;
    }
  }

  private _update(env: IEnvironment): void {
    const i = this._envs.findIndex(e => e.name === env.name);
    if (i >= 0) {
      this._envs[i] = env;
    } else {
      this._envs.push(env);
    }
  }

  private _envs: IEnvironment[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _refreshing: Promise<void> | null = null;
  private _progress = new Map<string, ICreationProgress>();
  private _waiters = new Map<string, Promise<IEnvironment>>();
  private _pollInterval: () => number;
  private _trans: TranslationBundle;
  private _changed = new Listeners<void>();
  private _creationEnded = new Listeners<ICreationEnded>();
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
    options.model.changed.connect(() => this.update());
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
      add(trans.__('Packages'), 'packages', packages);
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
