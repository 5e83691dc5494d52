/**
 * Session expiry that never costs work (frontend; background jobs are in jobs.ts).
 *
 * - A countdown in the status bar, a warning `session_warning` seconds before expiry.
 * - On expiry (a deadline passed, or a 403 that `GET workbench/api/session` explains as
 *   expiry) the dialog "Session expired: log in again" logs in without reloading the page;
 *   requests held meanwhile are sent, the one that failed (a save) is sent again, and
 *   kernels whose connection dropped are reconnected. Nothing typed is lost.
 * - Activity pings on real user input (keydown, mousedown; throttled) keep an idle-timeout
 *   session alive; background polling does not.
 * - The sidebar's "Session" section: the session summary.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator } from '@jupyterlab/translation';

import { setTranslator, trans as bundle } from './i18n';
import { LoginDialog } from './sessionDialog';
import { FetchGuard, SessionMonitor } from './sessionMonitor';
import { formatCountdown, SessionCountdown, SessionSummary } from './sessionStatus';
import { IWorkbenchSidebar } from './tokens';
import { setLoggedOut } from './util';

export const SESSION_PLUGIN_ID = 'jupyter-workbench:session';

namespace SessionCommandIDs {
  export const login = 'workbench:session-login';
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
  description: 'Login expiry that never costs work.',
  autoStart: true,
  optional: [IStatusBar, INotebookTracker, IWorkbenchSidebar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    sidebar: IWorkbenchSidebar | null,
    translator: ITranslator | null
  ): void => {
    if (translator) {
      setTranslator(translator);
    }
    const trans = bundle();
    const monitor = new SessionMonitor();
    // Every model's poll stands by while logged out (instead of queueing in the guard).
    setLoggedOut(() => monitor.loggedOut);
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
        Notification.success(trans.__('Logged in again. Your work is safe.'), {
          autoClose: 4000
        });
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
          trans.__('Log in again'),
          trans.__(
            'Log in again now to start a new session (the session clock starts over).'
          )
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
            trans.__(
              'You will be logged out in %1 for inactivity. Press a key or click anywhere to stay logged in.',
              left
            ),
            { autoClose: false }
          )
        : Notification.warning(
            trans.__(
              'Your session ends in %1. Log in again now to keep working without interruption (nothing is lost either way).',
              left
            ),
            {
              autoClose: false,
              actions: [{ label: trans.__('Log in again'), callback: () => void login() }]
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
      label: trans.__('Workbench: Log In Again'),
      caption: trans.__('Log in again without reloading the page'),
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

    void monitor.refresh().then(() => {
      if (!monitor.available || !sidebar) {
        return;
      }
      void sidebar.features.then(features => {
        if (features?.session) {
          const summary = new SessionSummary(monitor, () => void login());
          sidebar.addSection(trans.__('Session'), summary, 'session');
        }
      });
    });
  }
};

export const sessionPlugins: JupyterFrontEndPlugin<any>[] = [sessionPlugin];
