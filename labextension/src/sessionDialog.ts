/**
 * "Session expired: log in again": logs in without reloading the page, so nothing typed is
 * lost. Single-user, the password or token goes to the server's own `/login` form handler
 * with a `fetch` POST; the new login cookie arrives with the answer. Under JupyterHub the
 * login goes through the hub's OAuth flow in a popup (`workbench/session/login`), never a
 * token prompt. Other tabs learn about a new login over a BroadcastChannel: a logged-out
 * tab sends nothing to the server while it waits.
 */
import { Dialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { trans } from './i18n';
import {
  getCookie,
  LOGIN_MESSAGE,
  SESSION_CHANNEL,
  SessionMonitor
} from './sessionMonitor';

/** The dialog's title on expiry (translated at use time). */
export const expiredTitle = () => trans().__('Session expired: log in again');

/** POST the login form; true when the server accepted it. */
export async function postLogin(
  monitor: SessionMonitor,
  password: string
): Promise<boolean> {
  const fetch = monitor.rawFetch;
  const loginUrl = URLExt.join(monitor.baseUrl, 'login');
  if (!getCookie('_xsrf')) {
    await fetch(loginUrl, { credentials: 'same-origin' }); // the form page sets _xsrf
  }
  const basePath = new URL(monitor.baseUrl, window.location.href).pathname;
  // Land on the session endpoint after the redirect: it tells us the new times.
  const next = URLExt.join(basePath, 'workbench', 'api', 'session');
  const body = new URLSearchParams({ password, _xsrf: getCookie('_xsrf') ?? '' });
  const response = await fetch(`${loginUrl}?next=${encodeURIComponent(next)}`, {
    method: 'POST',
    credentials: 'same-origin',
    body
  });
  if (!response.ok) {
    return false;
  }
  return monitor.loggedIn();
}

/** The hub dialog's body: what happened and the last error (no password field). */
class HubLoginBody extends Widget {
  constructor(message: string, error: string) {
    super();
    this.addClass('jp-WorkbenchLogin');
    this.node.append(
      h('p', {}, message),
      h('p', { className: 'jp-WorkbenchLogin-error', role: 'alert' }, error)
    );
  }

  getValue(): string {
    return '';
  }
}

/** The dialog's body: what happened, a password field, the last error. */
class LoginBody extends Widget {
  constructor(message: string, error: string) {
    super();
    this.addClass('jp-WorkbenchLogin');
    this._input = h('input', {
      type: 'password',
      className: 'jp-mod-styled jp-WorkbenchLogin-password',
      'aria-label': trans().__('Password or token'),
      placeholder: trans().__('Password or token'),
      autocomplete: 'current-password'
    });
    this.node.append(
      h('p', {}, message),
      h('label', {}, trans().__('Password or token'), this._input),
      h('p', { className: 'jp-WorkbenchLogin-error', role: 'alert' }, error)
    );
  }

  getValue(): string {
    return this._input.value;
  }

  private _input: HTMLInputElement;
}

const expiredMessage = () =>
  trans().__(
    'Your login session has expired. Log in again to go on where you left off: nothing you typed is lost, and kernels, terminals and jobs kept running.'
  );

const hubMessage = () =>
  trans().__(
    "Logging in again opens JupyterHub's login in a new window; this page stays as it is."
  );

/**
 * Ask for the password or token (or open the hub's login) until the login succeeds or the
 * user chooses "Later". Only one dialog at a time; concurrent callers share its outcome.
 */
export class LoginDialog {
  constructor(monitor: SessionMonitor) {
    this._monitor = monitor;
    const onLogin = () => {
      if (this._monitor.loggedOut) {
        void this._monitor.refresh().then(() => {
          if (!this._monitor.loggedOut) {
            this._loginSeen.forEach(resolve => resolve());
          }
        });
      }
    };
    try {
      this._channel = new BroadcastChannel(SESSION_CHANNEL);
      this._channel.onmessage = event => {
        if (event.data?.type === LOGIN_MESSAGE) {
          onLogin();
        }
      };
    } catch {
      this._channel = null; // no BroadcastChannel: the popup still posts to its opener
    }
    window.addEventListener('message', event => {
      if (event.origin === window.location.origin && event.data?.type === LOGIN_MESSAGE) {
        onLogin();
      }
    });
  }

  /** Open the dialog (or join the open one); resolves true once logged in. */
  open(title = expiredTitle(), message = expiredMessage()): Promise<boolean> {
    if (!this._current) {
      this._current = this._run(title, message).finally(() => {
        this._current = null;
      });
    }
    return this._current;
  }

  /** Resolves when another tab or the login popup reports a login this tab confirmed. */
  private _nextLogin(): { promise: Promise<void>; cancel: () => void } {
    let done: () => void = () => undefined;
    const promise = new Promise<void>(resolve => {
      done = resolve;
    });
    this._loginSeen.add(done);
    return { promise, cancel: () => this._loginSeen.delete(done) };
  }

  private async _run(title: string, message: string): Promise<boolean> {
    let error = '';
    for (;;) {
      const hub = this._monitor.login.kind === 'hub';
      const dialog = new Dialog<string>({
        title,
        body: hub
          ? new HubLoginBody(`${message} ${hubMessage()}`, error)
          : new LoginBody(message, error),
        buttons: [
          Dialog.cancelButton({ label: trans().__('Later') }),
          Dialog.okButton({
            label: hub ? trans().__('Log in with JupyterHub') : trans().__('Log in')
          })
        ],
        focusNodeSelector: hub ? '.jp-mod-accept' : 'input',
        hasClose: false
      });
      dialog.addClass('jp-WorkbenchLoginDialog');
      // Logged in again in another tab? Then this one is done too (same cookie).
      let elsewhere = false;
      const seen = this._nextLogin();
      void seen.promise.then(() => {
        elsewhere = true;
        dialog.resolve(0);
      });
      const result = await dialog.launch().finally(seen.cancel);
      if (elsewhere) {
        return true;
      }
      if (!result.button.accept) {
        return false;
      }
      try {
        if (hub) {
          // Still logged in ("Log in again" before expiry): the hub's flow starts a new session.
          error = await this._hubLogin(!this._monitor.loggedOut);
          if (!error) {
            return true;
          }
        } else if (await postLogin(this._monitor, result.value ?? '')) {
          this._announce();
          return true;
        } else {
          error = trans().__('That password or token was not accepted. Try again.');
        }
      } catch (e) {
        error = trans().__('Could not reach the server: %1', (e as Error).message);
      }
    }
  }

  /** Log in through JupyterHub in a popup; '' once logged in, else what went wrong. */
  private async _hubLogin(renew: boolean): Promise<string> {
    const url = (this._monitor.login.url ?? '') + (renew ? '?renew=1' : '');
    const popup = window.open(
      url,
      'jupyter-workbench-login',
      'popup,width=600,height=720'
    );
    if (!popup) {
      return trans().__(
        'The browser blocked the login window: allow pop-ups for this page and try again.'
      );
    }
    const seen = this._nextLogin();
    // The popup reports the login; closing it without logging in ends the wait (no polling
    // of the server: window.closed is local).
    const closed = new Promise<void>(resolve => {
      const timer = window.setInterval(() => {
        if (popup.closed) {
          window.clearInterval(timer);
          resolve();
        }
      }, 500);
      void seen.promise.then(() => {
        window.clearInterval(timer);
        resolve();
      });
    });
    await Promise.race([seen.promise, closed]);
    seen.cancel();
    if (await this._monitor.loggedIn()) {
      return '';
    }
    return trans().__(
      'You are not logged in yet: finish logging in in the JupyterHub window.'
    );
  }

  /** Tell the other tabs of this server that the login is back. */
  private _announce(): void {
    try {
      this._channel?.postMessage({ type: LOGIN_MESSAGE });
    } catch {
      // a closed channel: the other tabs ask when they are next visible
    }
  }

  private _monitor: SessionMonitor;
  private _channel: BroadcastChannel | null = null;
  private _loginSeen = new Set<() => void>();
  private _current: Promise<boolean> | null = null;
}
