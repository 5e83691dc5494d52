/**
 * Environments (frontend): the sidebar's "Environments" section, the status bar item
 * ("env: tf2"), switching a notebook between the py3 and tf2 environments, and creating an
 * environment a notebook needs.
 *
 * Switching restarts the notebook's kernel in the other environment (variables are lost,
 * the user confirms first) and writes the new kernel into the notebook's
 * `metadata.kernelspec`, then saves, so the file on disk names the environment it runs in.
 * A notebook whose kernelspec names a workbench environment that is missing or broken gets
 * a "Create" offer instead of a silent "No Kernel".
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import {
  createLabel,
  EnvironmentsModel,
  EnvironmentsPanel,
  IEnvironment
} from './environmentsPanel';
import { IWorkbenchSidebar, SIDEBAR_ID, TRANSLATION_DOMAIN } from './tokens';

export const ENVIRONMENTS_PLUGIN_ID = 'jupyter-workbench:environments';

export namespace EnvironmentCommandIDs {
  export const switchEnvironment = 'workbench:switch-environment';
  export const createEnvironment = 'workbench:create-environment';
}

/** How long a new kernel may take to answer its first request after a switch. */
const KERNEL_READY_TIMEOUT_MS = 180_000;

/** The kernel name the notebook runs, or (no kernel yet) the one its metadata asks for. */
export function notebookKernelName(panel: NotebookPanel | null): string | null {
  if (!panel) {
    return null;
  }
  const kernel = panel.sessionContext.session?.kernel;
  if (kernel) {
    return kernel.name;
  }
  return metadataKernelName(panel);
}

function metadataKernelName(panel: NotebookPanel): string | null {
  const spec = panel.model?.getMetadata('kernelspec') as { name?: string } | undefined;
  return spec && typeof spec.name === 'string' ? spec.name : null;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = window.setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      value => {
        window.clearTimeout(timer);
        resolve(value);
      },
      error => {
        window.clearTimeout(timer);
        reject(error);
      }
    );
  });
}

/** The status bar item: "env: tf2" for the active notebook; a click opens the switcher. */
export class EnvironmentStatus extends Widget {
  constructor(options: {
    model: EnvironmentsModel;
    current: () => NotebookPanel | null;
    /** Whether the active notebook is the current document (else the item hides). */
    visible: () => boolean;
    onClick: () => void;
    trans?: TranslationBundle;
  }) {
    super({
      node: h('button', {
        type: 'button',
        className: 'jp-WorkbenchEnvStatus',
        'data-env': ''
      })
    });
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this.node.addEventListener('click', () => options.onClick());
  }

  protected onAfterAttach(): void {
    this.update();
  }

  protected onUpdateRequest(): void {
    const { model, current } = this._options;
    const panel = current();
    this.setHidden(!panel || !this._options.visible());
    const kernelName = notebookKernelName(panel);
    const env = model.forKernel(kernelName);
    const node = this.node;
    const trans = this._trans;
    const hasKernel = !!panel?.sessionContext.session?.kernel;
    node.classList.toggle('jp-mod-warning', !!env && !env.ready && !hasKernel);
    if (env) {
      const missing = !env.ready && !hasKernel;
      node.dataset.env = env.name;
      node.textContent = missing
        ? trans.__('env: %1 (%2)', env.name, env.state)
        : trans.__('env: %1', env.name);
      node.title =
        trans.__(
          '%1 runs in %2',
          panel?.title.label ?? trans.__('This notebook'),
          env.display_name
        ) +
        (missing ? `: ${env.message}` : '') +
        '.\n' +
        trans.__('Click to switch environment.');
    } else if (kernelName) {
      node.dataset.env = '';
      node.textContent = trans.__('kernel: %1', kernelName);
      node.title = trans.__(
        '%1 is not a workbench environment. Click to switch to py3 or tf2.',
        kernelName
      );
    } else {
      node.dataset.env = '';
      node.textContent = trans.__('env: none');
      node.title = trans.__('This notebook has no kernel. Click to pick an environment.');
    }
  }

  private _options: {
    model: EnvironmentsModel;
    current: () => NotebookPanel | null;
    visible: () => boolean;
    onClick: () => void;
  };
  private _trans: TranslationBundle;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: ENVIRONMENTS_PLUGIN_ID,
  description: 'Workbench environments (py3, tf2): panel, status bar item, switching.',
  autoStart: true,
  optional: [
    IWorkbenchSidebar,
    INotebookTracker,
    IStatusBar,
    ICommandPalette,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    sidebar: IWorkbenchSidebar | null,
    notebooks: INotebookTracker | null,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new EnvironmentsModel({ trans });
    const current = (): NotebookPanel | null => notebooks?.currentWidget ?? null;
    const views: Widget[] = [];
    const updateViews = () => views.forEach(v => v.update());
    model.changed.connect(updateViews);

    const openSidebar = () => {
      if (sidebar) {
        app.shell.activateById(SIDEBAR_ID);
        sidebar.reveal('environments');
      }
    };

    /** Create/repair with a notification that follows the progress; resolves when ready. */
    const createWithFeedback = async (
      name: string,
      reveal = false
    ): Promise<IEnvironment> => {
      if (reveal) {
        openSidebar(); // the Environments section shows the step and pip's output
      }
      const id = Notification.emit(
        trans.__('Creating the %1 environment…', name),
        'in-progress',
        {
          autoClose: false,
          actions: sidebar
            ? [
                {
                  label: trans.__('Show progress'),
                  callback: openSidebar,
                  displayType: 'link'
                }
              ]
            : []
        }
      );
      let lastStep = '';
      const follow = () => {
        const step = model.progress(name)?.step ?? '';
        if (step && step !== lastStep && model.isCreating(name)) {
          lastStep = step;
          Notification.update({ id, message: trans.__('Creating %1: %2', name, step) });
        }
      };
      model.changed.connect(follow);
      try {
        const env = await model.create(name);
        Notification.update({
          id,
          message: trans.__('The %1 environment is ready.', name),
          type: 'success',
          autoClose: 5000
        });
        await app.serviceManager.kernelspecs.refreshSpecs();
        return env;
      } catch (error) {
        Notification.update({
          id,
          message: trans.__('Creating %1 failed: %2', name, (error as Error).message),
          type: 'error',
          autoClose: false
        });
        throw error;
      } finally {
        model.changed.disconnect(follow);
      }
    };

    /** Restart the notebook's kernel in `env`, record it in the metadata, save. */
    const changeKernel = async (panel: NotebookPanel, env: IEnvironment, save = true) => {
      const { sessionContext } = panel;
      await app.serviceManager.kernelspecs.refreshSpecs();
      const kernel = await sessionContext.changeKernel({ name: env.kernel_name });
      if (!kernel) {
        throw new Error(trans.__('The %1 kernel did not start.', env.kernel_name));
      }
      // Wait for the new kernel to answer: the switch is done when it can run cells.
      await withTimeout(
        kernel.info,
        KERNEL_READY_TIMEOUT_MS,
        trans.__(
          'The %1 kernel did not answer within %2 s.',
          env.kernel_name,
          KERNEL_READY_TIMEOUT_MS / 1000
        )
      );
      const spec = await kernel.spec;
      if (panel.isDisposed || !panel.model) {
        return;
      }
      // JupyterLab updates the kernelspec too, but asynchronously; the saved file must say
      // the new environment, so write it here before saving.
      panel.model.setMetadata('kernelspec', {
        name: kernel.name,
        display_name: spec?.display_name ?? env.display_name,
        language: spec?.language ?? 'python'
      });
      if (save) {
        await panel.context.save();
      }
    };

    /** Ask, then switch the notebook to `name` (creating it first when it is not ready). */
    const switchTo = async (name: string, panel: NotebookPanel | null = current()) => {
      if (!panel) {
        await showErrorMessage(
          trans.__('Switch environment'),
          trans.__('Open (or click into) the notebook to switch first.')
        );
        return;
      }
      await model.ensureLoaded();
      const env = model.get(name);
      if (!env) {
        await showErrorMessage(
          trans.__('Switch environment'),
          model.error
            ? trans.__('Cannot list the environments: %1', model.error)
            : trans.__('There is no environment named %1.', name)
        );
        return;
      }
      const nbName = panel.title.label || panel.context.path;
      const kernel = panel.sessionContext.session?.kernel;
      if (kernel && kernel.name === env.kernel_name) {
        Notification.info(trans.__('%1 already runs in %2.', nbName, env.name), {
          autoClose: 4000
        });
        return;
      }
      const lost = kernel
        ? trans.__(
            'The kernel restarts in %1: all variables, imports and other state of the running kernel are lost (cell outputs stay).',
            env.name
          )
        : '';
      const body = h(
        'div',
        { className: 'jp-WorkbenchEnvDialog' },
        h('p', {}, trans.__('Switch %1 to %2?', nbName, env.display_name)),
        lost ? h('p', { className: 'jp-WorkbenchEnvDialog-warning' }, lost) : null,
        env.ready
          ? null
          : h(
              'p',
              { className: 'jp-WorkbenchEnvDialog-warning' },
              trans.__(
                '%1 is not ready: %2 It is created first (this runs on the server and can take minutes).',
                env.name,
                env.message
              )
            ),
        h(
          'p',
          {},
          trans.__(
            "The notebook's kernelspec becomes %1 and the notebook is saved.",
            env.kernel_name
          )
        )
      );
      const result = await showDialog({
        title: env.ready
          ? trans.__('Switch environment')
          : trans.__('Create %1 and switch', env.name),
        body: new Widget({ node: body }),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Cancel') }),
          Dialog.warnButton({
            label: env.ready ? trans.__('Switch') : trans.__('Create and switch'),
            ariaLabel: env.ready
              ? trans.__('Switch to %1', env.name)
              : trans.__('Create %1 and switch', env.name)
          })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      try {
        const target = env.ready ? env : await createWithFeedback(env.name, true);
        await changeKernel(panel, target);
        Notification.success(trans.__('%1 now runs in %2.', nbName, target.name), {
          autoClose: 4000
        });
      } catch (error) {
        await showErrorMessage(
          trans.__('Switch environment'),
          trans.__(
            'Could not switch %1 to %2: %3',
            nbName,
            env.name,
            (error as Error).message
          )
        );
      }
      updateViews();
    };

    const create = async (name: string, reveal = false) => {
      try {
        await createWithFeedback(name, reveal);
      } catch (error) {
        // The notification and the panel show the error.
        console.warn(`creating ${name} failed`, error);
      }
    };

    /** Offer to create the environment an opened notebook asks for when it is not ready. */
    const offerMissing = async (panel: NotebookPanel, held: boolean) => {
      const release = () => {
        if (held && !panel.isDisposed) {
          const pref = panel.sessionContext.kernelPreference;
          panel.sessionContext.kernelPreference = { ...pref, shouldStart: undefined };
        }
      };
      await model.ensureLoaded();
      const kernelName = metadataKernelName(panel);
      const env = model.forKernel(kernelName);
      if (panel.isDisposed || !env || panel.sessionContext.session?.kernel) {
        release();
        return;
      }
      if (env.ready) {
        release();
        if (held) {
          await changeKernel(panel, env, false).catch(error => console.warn(error));
        }
        return;
      }
      const nbName = panel.title.label || panel.context.path;
      const result = await showDialog({
        title: trans.__('Environment %1 is not ready', env.name),
        body: new Widget({
          node: h(
            'div',
            { className: 'jp-WorkbenchEnvDialog' },
            h(
              'p',
              {},
              trans.__('%1 runs in %2.', nbName, env.display_name) + ' ' + env.message
            ),
            h(
              'p',
              {},
              trans.__(
                'Create it now? It is built on the server (this can take minutes); the notebook starts its kernel when it is ready.'
              )
            )
          )
        }),
        buttons: [
          Dialog.cancelButton({ label: trans.__('Not now') }),
          Dialog.okButton({
            label: createLabel(env, trans) ?? trans.__('Create'),
            ariaLabel: `${createLabel(env, trans) ?? trans.__('Create')} ${env.name}`
          })
        ]
      });
      release();
      if (!result.button.accept) {
        return;
      }
      try {
        const ready = await createWithFeedback(env.name, true);
        if (!panel.isDisposed) {
          // The notebook already names this kernel: start it, leave saving to the user.
          await changeKernel(panel, ready, false);
        }
      } catch (error) {
        await showErrorMessage(
          trans.__('Create %1', env.name),
          trans.__(
            'The %1 environment could not be created: %2',
            env.name,
            (error as Error).message
          )
        );
      }
      updateViews();
    };

    // Views.
    if (sidebar) {
      const panel = new EnvironmentsPanel({
        model,
        activeEnvironment: () =>
          model.forKernel(notebookKernelName(current()))?.name ?? null,
        activeNotebook: () => current()?.title.label ?? null,
        create: name => void create(name),
        switchTo: name => void switchTo(name),
        trans
      });
      views.push(panel);
      sidebar.addSection(trans.__('Environments'), panel, 'environments', {
        toolbar: [
          {
            name: 'refresh',
            icon: refreshIcon,
            tooltip: trans.__('Check the environments again'),
            onClick: () => void model.refresh()
          }
        ]
      });
    }
    if (statusBar) {
      const item = new EnvironmentStatus({
        model,
        current,
        visible: () => {
          const widget = app.shell.currentWidget;
          return !!widget && widget === current();
        },
        onClick: () => void app.commands.execute(EnvironmentCommandIDs.switchEnvironment),
        trans
      });
      views.push(item);
      // Shown only while a notebook is the current document (it hides itself otherwise).
      app.shell.currentChanged?.connect(() => item.update());
      statusBar.registerStatusItem(ENVIRONMENTS_PLUGIN_ID, {
        item,
        align: 'left',
        rank: 4
      });
    }

    // Follow the active notebook and its kernel.
    if (notebooks) {
      let watched: NotebookPanel | null = null;
      const onKernel = () => updateViews();
      const watch = () => {
        if (watched && !watched.isDisposed) {
          watched.sessionContext.kernelChanged.disconnect(onKernel);
          watched.sessionContext.statusChanged.disconnect(onKernel);
        }
        watched = current();
        if (watched) {
          watched.sessionContext.kernelChanged.connect(onKernel);
          watched.sessionContext.statusChanged.connect(onKernel);
          void watched.context.ready.then(updateViews);
        }
        updateViews();
      };
      notebooks.currentChanged.connect(watch);
      watch();

      notebooks.widgetAdded.connect((_, panel) => {
        void panel.context.ready.then(() => {
          // Hold the automatic kernel start of a notebook whose environment is known to be
          // missing: JupyterLab would ask to pick another kernel; we offer to create it.
          let held = false;
          const kernelName = metadataKernelName(panel);
          const env = model.forKernel(kernelName);
          const specs = app.serviceManager.kernelspecs.specs?.kernelspecs ?? {};
          const pref = panel.sessionContext.kernelPreference;
          if (
            env &&
            !env.ready &&
            kernelName &&
            !specs[kernelName] &&
            pref.shouldStart !== false
          ) {
            panel.sessionContext.kernelPreference = { ...pref, shouldStart: false };
            held = true;
          }
          void offerMissing(panel, held);
        });
      });
    }

    // Commands.
    const pick = async (title: string, envs: IEnvironment[], currentName?: string) => {
      const label = (e: IEnvironment) =>
        `${e.display_name}${e.ready ? '' : ` (${e.state})`}`;
      const items = envs.map(label);
      const chosen = envs.find(e => e.name === currentName) ?? envs[0];
      const result = await InputDialog.getItem({
        title,
        items,
        current: chosen ? label(chosen) : undefined,
        okLabel: trans.__('Continue'),
        cancelLabel: trans.__('Cancel')
      });
      if (!result.button.accept || result.value === null) {
        return null;
      }
      return envs[items.indexOf(result.value)] ?? null;
    };

    /** The environments freshly listed, or null (after saying why) when there are none. */
    const listed = async (title: string): Promise<IEnvironment[] | null> => {
      await model.refresh();
      if (!model.environments.length) {
        await showErrorMessage(
          title,
          model.error
            ? trans.__('Cannot list the environments: %1', model.error)
            : trans.__('No environments.')
        );
        return null;
      }
      return model.environments;
    };

    app.commands.addCommand(EnvironmentCommandIDs.switchEnvironment, {
      label: args =>
        args.name
          ? trans.__('Switch active notebook to %1', args.name as string)
          : trans.__('Workbench: Switch Environment…'),
      caption: trans.__(
        'Restart the active notebook in another workbench environment (py3, tf2)'
      ),
      isEnabled: () => !!current(),
      execute: async args => {
        const panel = current();
        let name = args.name as string | undefined;
        if (!name) {
          const envs = await listed(trans.__('Switch environment'));
          if (!envs) {
            return;
          }
          const active = model.forKernel(notebookKernelName(panel))?.name;
          const others = envs.filter(e => e.name !== active);
          const env = await pick(
            trans.__('Switch %1 to', panel?.title.label ?? trans.__('the notebook')),
            others.length ? others : envs
          );
          if (!env) {
            return;
          }
          name = env.name;
        }
        await switchTo(name, panel);
      }
    });
    app.commands.addCommand(EnvironmentCommandIDs.createEnvironment, {
      label: args =>
        args.name
          ? trans.__('Create the %1 environment', args.name as string)
          : trans.__('Workbench: Create Environment…'),
      caption: trans.__(
        'Create or repair a workbench environment (py3, tf2) on the server'
      ),
      execute: async args => {
        let name = args.name as string | undefined;
        if (!name) {
          const envs = await listed(trans.__('Create environment'));
          if (!envs) {
            return;
          }
          const candidates = envs.filter(e => !e.ready);
          const env = await pick(
            candidates.length
              ? trans.__('Create or repair environment')
              : trans.__('All environments are ready: rebuild one?'),
            candidates.length ? candidates : envs
          );
          if (!env) {
            return;
          }
          name = env.name;
        }
        await create(name, true);
      }
    });
    if (palette) {
      for (const command of [
        EnvironmentCommandIDs.switchEnvironment,
        EnvironmentCommandIDs.createEnvironment
      ]) {
        palette.addItem({ command, category: trans.__('Workbench') });
      }
    }

    void model.refresh();
  }
};

export const environmentsPlugins: JupyterFrontEndPlugin<any>[] = [plugin];
