/**
 * Background jobs (frontend plugin): the sidebar's "Jobs" section, "Run as Background Job"
 * in the file browser's context menu, the running jobs in the status bar, and a
 * notification when a job ends, with a link to its executed notebook.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { IStatusBar } from '@jupyterlab/statusbar';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { IJob, JobsModel, JobsPanel, RUNNABLE } from './jobsPanel';
import { IWorkbenchSidebar, SIDEBAR_ID, TRANSLATION_DOMAIN } from './tokens';

export const JOBS_PLUGIN_ID = 'jupyter-workbench:jobs';

namespace JobsCommandIDs {
  export const runAsJob = 'workbench:run-as-job';
  export const showJobs = 'workbench:show-jobs';
}

/** The status bar item: "2 jobs running" (hidden when none runs). */
export class JobsStatus extends Widget {
  constructor(model: JobsModel, trans: TranslationBundle, onClick: () => void) {
    super({ node: h('button', { type: 'button', className: 'jp-WorkbenchJobsStatus' }) });
    this._trans = trans;
    this.node.addEventListener('click', onClick);
    model.changed.connect((_, jobs) => this._show(jobs));
    this._show([]);
  }

  private _show(jobs: IJob[]): void {
    const running = jobs.filter(j => j.state === 'running');
    this.setHidden(running.length === 0);
    this.node.textContent = this._trans._n(
      '%1 job running',
      '%1 jobs running',
      running.length
    );
    this.node.title = running.map(j => j.name).join(', ');
  }

  private _trans: TranslationBundle;
}

const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: JOBS_PLUGIN_ID,
  description: 'Background jobs: run notebooks and scripts detached from the browser.',
  autoStart: true,
  requires: [IWorkbenchSidebar],
  optional: [IDefaultFileBrowser, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    sidebar: IWorkbenchSidebar,
    fileBrowser: IDefaultFileBrowser | null,
    statusBar: IStatusBar | null
  ): void => {
    const trans = sidebar.translator.load(TRANSLATION_DOMAIN);
    const model = new JobsModel();
    const selectedPath = (): string | null => {
      const item = fileBrowser?.selectedItems().next();
      return item && !item.done ? item.value.path : null;
    };
    const openOutput = async (job: IJob) => {
      if (!job.output) {
        throw new Error(trans.__('%1 has no executed notebook.', job.name));
      }
      try {
        await app.serviceManager.contents.get(job.output, { content: false });
      } catch {
        throw new Error(
          job.state === 'cancelled'
            ? trans.__(
                '%1 was cancelled before it wrote its executed notebook (%2). Its log shows how far it got.',
                job.name,
                job.output
              )
            : trans.__(
                '%1 did not write its executed notebook (%2). Its log says why.',
                job.name,
                job.output
              )
        );
      }
      await app.commands.execute('docmanager:open', { path: job.output });
    };
    const panel = new JobsPanel({
      model,
      trans,
      selectedPath,
      environments: () =>
        Object.keys(app.serviceManager.kernelspecs.specs?.kernelspecs ?? {}).sort(),
      openOutput
    });
    const showJobs = () => {
      app.shell.activateById(SIDEBAR_ID);
      sidebar.reveal('jobs');
    };

    model.finished.connect((_, job) => {
      const actions: Notification.IAction[] = [
        { label: trans.__('Show jobs'), callback: showJobs }
      ];
      if (job.kind === 'notebook' && job.output && job.state !== 'cancelled') {
        actions.unshift({
          label: trans.__('Open output'),
          callback: () =>
            void openOutput(job).catch(error =>
              Notification.error((error as Error).message)
            )
        });
      }
      const options = {
        autoClose: job.state === 'succeeded' ? 8000 : (false as const),
        actions
      };
      if (job.state === 'succeeded') {
        Notification.success(trans.__('Job %1 finished.', job.name), options);
      } else if (job.state === 'failed') {
        Notification.error(
          trans.__('Job %1 failed: %2', job.name, job.reason ?? trans.__('see its log')),
          options
        );
      } else {
        Notification.info(trans.__('Job %1 was cancelled.', job.name), options);
      }
    });

    app.commands.addCommand(JobsCommandIDs.runAsJob, {
      label: trans.__('Run as Background Job'),
      caption: trans.__(
        'Run this notebook or script detached from the browser and the login'
      ),
      isVisible: () => RUNNABLE.test(selectedPath() ?? ''),
      execute: async () => {
        const path = selectedPath();
        if (path) {
          showJobs();
          await panel.submit(path);
        }
      }
    });
    app.commands.addCommand(JobsCommandIDs.showJobs, {
      label: trans.__('Workbench: Show Background Jobs'),
      execute: showJobs
    });
    app.contextMenu.addItem({
      command: JobsCommandIDs.runAsJob,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 61
    });
    if (statusBar) {
      const activeChanged = new Signal<JobsModel, void>(model);
      model.changed.connect(() => activeChanged.emit());
      statusBar.registerStatusItem(JOBS_PLUGIN_ID, {
        item: new JobsStatus(model, trans, showJobs),
        align: 'left',
        rank: 50,
        // Only while something runs: the status bar hides inactive items itself.
        isActive: () => model.running.length > 0,
        activeStateChanged: activeChanged
      });
    }
    void sidebar.features.then(features => {
      if (!features || !features.jobs) {
        return;
      }
      sidebar.addSection(trans.__('Background jobs'), panel, 'jobs', {
        toolbar: [
          {
            name: 'add',
            icon: addIcon,
            tooltip: trans.__('Run a notebook or script as a job'),
            onClick: () => panel.showForm()
          },
          {
            name: 'refresh',
            icon: refreshIcon,
            tooltip: trans.__('Refresh the jobs'),
            onClick: () => void panel.refresh()
          }
        ]
      });
      // Running jobs show in the status bar even before the sidebar is opened.
      void model.refresh();
    });
  }
};

export const jobsPlugins: JupyterFrontEndPlugin<any>[] = [jobsPlugin];
