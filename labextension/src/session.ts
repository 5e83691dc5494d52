/**
 * Session expiry that never costs work, and background jobs (frontend).
 *
 * - A countdown in the status bar, a warning `session_warning` seconds before expiry.
 * - On expiry (a deadline passed, or a 403 that `GET workbench/api/session` explains as
 *   expiry) the dialog "Session expired: log in again" logs in without reloading the page;
 *   requests held meanwhile are sent, the one that failed (a save) is sent again, and
 *   kernels whose connection dropped are reconnected. Nothing typed is lost.
 * - Activity pings on real user input (keydown, mousedown; throttled) keep an idle-timeout
 *   session alive; background polling does not.
 * - The sidebar's "Session & jobs" section: the session summary and the Jobs panel.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Panel } from '@lumino/widgets';

import { JobsPanel, RUNNABLE } from './jobsPanel';
import { LoginDialog } from './sessionDialog';
import { FetchGuard, SessionMonitor } from './sessionMonitor';
import { formatCountdown, SessionCountdown, SessionSummary } from './sessionStatus';
import { IWorkbenchSidebar, SIDEBAR_ID } from './tokens';

export const SESSION_PLUGIN_ID = 'jupyter-workbench:session';

namespace SessionCommandIDs {
  export const login = 'workbench:session-login';
  export const runAsJob = 'workbench:run-as-job';
}

/** Every ServerConnection settings object the service manager holds (usually one). */
function serverSettings(app: JupyterFrontEnd): ServerConnection.ISettings[] {
  const manager = app.serviceManager as unknown as Record<string, unknown>;
  const found: ServerConnection.ISettings[] = [app.serviceManager.serverSettings];
  for (const value of Object.values(manager)) {
    const settings = (value as { serverSettings?: ServerConnection.ISettings } | null)
      ?.serverSettings;
    if (settings) {
      found.push(settings);
    }
  }
  for (const name of [
    'contents',
    'kernels',
    'sessions',
    'terminals',
    'kernelspecs',
    'user'
  ]) {
    const settings = (manager[name] as { serverSettings?: ServerConnection.ISettings })
      ?.serverSettings;
    if (settings) {
      found.push(settings);
    }
  }
  return found;
}

/** Reconnect notebook kernels whose websocket dropped while logged out. */
function reconnectKernels(notebooks: INotebookTracker | null): void {
  notebooks?.forEach(panel => {
    const kernel = panel.sessionContext.session?.kernel;
    if (kernel && kernel.connectionStatus === 'disconnected') {
      void kernel
        .reconnect()
        .catch(error => console.warn('kernel reconnect failed', error));
    }
  });
}

const sessionPlugin: JupyterFrontEndPlugin<void> = {
  id: SESSION_PLUGIN_ID,
  description: 'Login expiry that never costs work; background jobs.',
  autoStart: true,
  optional: [IStatusBar, INotebookTracker, IWorkbenchSidebar, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    sidebar: IWorkbenchSidebar | null,
    fileBrowser: IDefaultFileBrowser | null
  ): void => {
    const monitor = new SessionMonitor();
    const guard = new FetchGuard(monitor);
    guard.install(serverSettings(app));
    const dialog = new LoginDialog(monitor);
    let warningId: string | null = null;
    const dismissWarning = () => {
      if (warningId) {
        Notification.dismiss(warningId);
        warningId = null;
      }
    };

    const afterLogin = (ok: boolean) => {
      if (ok) {
        reconnectKernels(notebooks);
        Notification.success('Logged in again. Your work is safe.', { autoClose: 4000 });
      }
      return ok;
    };
    const login = () => {
      dismissWarning();
      if (monitor.loggedOut) {
        return dialog.open().then(afterLogin);
      }
      return dialog
        .open(
          'Log in again',
          'Log in again now to start a new session (the session clock starts over).'
        )
        .then(afterLogin);
    };

    monitor.expired.connect(() => {
      dismissWarning();
      void dialog.open().then(afterLogin);
    });
    monitor.warning.connect(({ idle }) => {
      dismissWarning();
      const left = formatCountdown(monitor.secondsLeft() ?? 0);
      warningId = idle
        ? Notification.warning(
            `You will be logged out in ${left} for inactivity. ` +
              'Press a key or click anywhere to stay logged in.',
            { autoClose: false }
          )
        : Notification.warning(
            `Your session ends in ${left}. Log in again now to keep working ` +
              'without interruption (nothing is lost either way).',
            {
              autoClose: false,
              actions: [{ label: 'Log in again', callback: () => void login() }]
            }
          );
    });
    // A new deadline further away (activity, a new login) makes the warning obsolete.
    monitor.changed.connect(() => {
      const left = monitor.secondsLeft();
      if (warningId && left !== null && left > (monitor.state?.warning ?? 0)) {
        dismissWarning();
      }
    });

    const onInput = () => monitor.noteActivity();
    document.addEventListener('keydown', onInput, true);
    document.addEventListener('mousedown', onInput, true);
    // Timers sleep with the laptop or a background tab: ask again when the page is back.
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        void monitor.refresh();
      }
    });

    app.commands.addCommand(SessionCommandIDs.login, {
      label: 'Workbench: Log In Again',
      caption: 'Log in again without reloading the page',
      execute: () => login()
    });

    if (statusBar) {
      const countdown = new SessionCountdown(monitor, () => void login());
      statusBar.registerStatusItem(SESSION_PLUGIN_ID, {
        item: countdown,
        align: 'right',
        rank: 900
      });
    }

    const selectedPath = (): string | null => {
      const item = fileBrowser?.selectedItems().next();
      return item && !item.done ? item.value.path : null;
    };
    const jobs = new JobsPanel({
      selectedPath,
      environments: () =>
        Object.keys(app.serviceManager.kernelspecs.specs?.kernelspecs ?? {}).sort(),
      canPoll: () => !monitor.loggedOut,
      openPath: path => void app.commands.execute('docmanager:open', { path })
    });
    app.commands.addCommand(SessionCommandIDs.runAsJob, {
      label: 'Run as Background Job',
      caption: 'Run this notebook or script detached from the browser and the login',
      isVisible: () => RUNNABLE.test(selectedPath() ?? ''),
      execute: async () => {
        const path = selectedPath();
        if (path) {
          app.shell.activateById(SIDEBAR_ID);
          await jobs.submit(path);
        }
      }
    });
    app.contextMenu.addItem({
      command: SessionCommandIDs.runAsJob,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 61
    });

    void monitor.refresh().then(() => {
      if (!monitor.available || !sidebar) {
        return;
      }
      void sidebar.features.then(features => {
        if (!features) {
          return;
        }
        const section = new Panel();
        section.addClass('jp-WorkbenchSessionJobs');
        if (features.session) {
          section.addWidget(new SessionSummary(monitor, () => void login()));
        }
        if (features.jobs) {
          section.addWidget(jobs);
        }
        sidebar.addSection('Session & jobs', section, 'session');
      });
    });
  }
};

export const sessionPlugins: JupyterFrontEndPlugin<any>[] = [sessionPlugin];
