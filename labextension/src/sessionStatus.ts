/**
 * What the user sees of the session clock: a countdown in the status bar and a summary in
 * the sidebar's "Session & jobs" section.
 */
import { Widget } from '@lumino/widgets';

import { button, h } from './dom';
import { trans } from './i18n';
import { ISessionState, SessionMonitor } from './sessionMonitor';
import { formatCountdown } from './util';

export { formatCountdown };

function clockTime(epochSeconds: number, offsetMs: number): string {
  return new Date(epochSeconds * 1000 - offsetMs).toLocaleTimeString();
}

/** The status bar item: "Session 2:59:41"; "Logged out: log in" once expired. */
export class SessionCountdown extends Widget {
  constructor(monitor: SessionMonitor, onLogin: () => void) {
    super({ node: h('button', { type: 'button', className: 'jp-WorkbenchCountdown' }) });
    this._monitor = monitor;
    this.node.addEventListener('click', () => onLogin());
    monitor.changed.connect(() => this.update());
    monitor.warning.connect(() => this.update());
  }

  /** Whether the item has something to show (an expiring browser session, or expiry). */
  get active(): boolean {
    return this._monitor.loggedOut || this._monitor.nextDeadline() !== null;
  }

  protected onAfterAttach(): void {
    this._timer = window.setInterval(() => this.update(), 1000);
    this.update();
  }

  protected onBeforeDetach(): void {
    window.clearInterval(this._timer);
  }

  protected onUpdateRequest(): void {
    const node = this.node;
    const monitor = this._monitor;
    // Nothing to count down (a token session, no timeouts): take no room in the bar.
    this.setHidden(!this.active);
    node.classList.toggle('jp-mod-expired', monitor.loggedOut);
    if (monitor.loggedOut) {
      node.textContent = trans().__('Logged out: log in');
      node.title = trans().__(
        'Your session expired. Click to log in again; nothing is lost.'
      );
      node.classList.remove('jp-mod-warning');
      return;
    }
    const next = monitor.nextDeadline();
    const left = monitor.secondsLeft();
    if (!next || left === null) {
      node.textContent = '';
      node.title = '';
      return;
    }
    const warn = left <= (monitor.state?.warning ?? 0);
    node.classList.toggle('jp-mod-warning', warn);
    node.textContent = next.idle
      ? trans().__('Idle logout %1', formatCountdown(left))
      : trans().__('Session %1', formatCountdown(left));
    node.title =
      describeSession(monitor) + '\n' + trans().__('Click to log in again now.');
  }

  private _monitor: SessionMonitor;
  private _timer = 0;
}

/** A sentence or two about the session, for tooltips and the sidebar. */
export function describeSession(monitor: SessionMonitor): string {
  const s: ISessionState | null = monitor.state;
  if (monitor.loggedOut) {
    return trans().__('Logged out: your session expired.');
  }
  if (!s || !s.logged_in) {
    return '';
  }
  if (s.kind === 'token') {
    return trans().__(
      'Authenticated with the server token: this session does not expire.'
    );
  }
  const off = monitor.clockOffset;
  const parts = [
    trans().__(
      'Logged in as %1 at %2.',
      s.display_name || s.user,
      clockTime(s.login_at!, off)
    )
  ];
  if (s.expires_at) {
    parts.push(trans().__('The session ends at %1.', clockTime(s.expires_at, off)));
  }
  if (s.idle_timeout && s.idle_expires_at) {
    parts.push(
      trans().__(
        'After %1 without activity it ends early (now at %2).',
        formatCountdown(s.idle_timeout),
        clockTime(s.idle_expires_at, off)
      )
    );
  }
  if (!s.expires_at && !s.idle_expires_at) {
    parts.push(trans().__('It does not expire.'));
  }
  return parts.join(' ');
}

/** The sidebar's session summary with a "Log in again" button. */
export class SessionSummary extends Widget {
  constructor(monitor: SessionMonitor, onLogin: () => void) {
    super();
    this.addClass('jp-WorkbenchSession');
    this._monitor = monitor;
    this._text = h('p', { className: 'jp-WorkbenchSession-text' });
    const login = button(trans().__('Log in again'), {
      kind: 'accept',
      title: trans().__('Start a new session now (resets the session clock)')
    });
    login.addEventListener('click', () => onLogin());
    this.node.append(this._text, login);
    monitor.changed.connect(() => this.update());
  }

  protected onAfterAttach(): void {
    this.update();
  }

  protected onUpdateRequest(): void {
    this._text.textContent =
      describeSession(this._monitor) ||
      trans().__('Session information is not available.');
  }

  private _monitor: SessionMonitor;
  private _text: HTMLParagraphElement;
}
