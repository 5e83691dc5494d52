/**
 * "Session expired: log in again": logs in without reloading the page, so nothing typed is
 * lost. The password or token goes to the server's own `/login` form handler with a
 * `fetch` POST; the new login cookie arrives with the answer.
 */
import { Dialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { h } from './dom';
import { trans } from './i18n';
import { getCookie, SessionMonitor } from './sessionMonitor';

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

/**
 * Ask for the password or token until the login succeeds or the user chooses "Later".
 * Only one dialog at a time; concurrent callers share its outcome.
 */
export class LoginDialog {
  constructor(monitor: SessionMonitor) {
    this._monitor = monitor;
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

  private async _run(title: string, message: string): Promise<boolean> {
    let error = '';
    for (;;) {
      const dialog = new Dialog<string>({
        title,
        body: new LoginBody(message, error),
        buttons: [
          Dialog.cancelButton({ label: trans().__('Later') }),
          Dialog.okButton({ label: trans().__('Log in') })
        ],
        focusNodeSelector: 'input',
        hasClose: false
      });
      dialog.addClass('jp-WorkbenchLoginDialog');
      // Logged in again in another tab? Then this one is done too (same cookie).
      let elsewhere = false;
      const watch = window.setInterval(async () => {
        if (this._monitor.loggedOut) {
          await this._monitor.refresh();
          if (!this._monitor.loggedOut) {
            elsewhere = true;
            dialog.resolve(0);
          }
        }
      }, 5000);
      const result = await dialog.launch().finally(() => window.clearInterval(watch));
      if (elsewhere) {
        return true;
      }
      if (!result.button.accept) {
        return false;
      }
      try {
        if (await postLogin(this._monitor, result.value ?? '')) {
          return true;
        }
        error = trans().__('That password or token was not accepted. Try again.');
      } catch (e) {
        error = trans().__('Could not reach the server: %1', (e as Error).message);
      }
    }
  }

  private _monitor: SessionMonitor;
  private _current: Promise<boolean> | null = null;
}
