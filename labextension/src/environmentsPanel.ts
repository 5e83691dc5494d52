/**
 * The sidebar's "Environments" section, rendered from `EnvironmentsModel`
 * (environmentsModel.ts).
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { button, h } from './dom';
import { EnvironmentsModel } from './environmentsModel';
import { TRANSLATION_DOMAIN } from './tokens';
import {
  createLabel,
  describeGpu,
  describePackages,
  ICreationProgress,
  IEnvironment
} from './util';

export { createLabel, EnvironmentsModel };
export type { ICreationEnded } from './environmentsModel';
export type { IEnvironment };

const defaultTrans = () => nullTranslator.load(TRANSLATION_DOMAIN);

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
    // (a shared environment is the administrator's to create or repair)
    const label = env.shared ? null : createLabel(env, trans);
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
