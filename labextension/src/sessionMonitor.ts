/**
 * The browser session's clock, and the fetch guard that makes expiry cost nothing.
 *
 * The server (`WorkbenchIdentityProvider`) expires a login after `session_absolute_timeout`
 * or `session_idle_timeout`, answering 403 like any jupyter_server. `SessionMonitor` knows
 * the deadlines from `GET workbench/api/session` (which answers 200 `{"logged_in": false}`
 * when logged out), sends activity pings on real user input, and declares the session
 * expired when a deadline passes or a 403 turns out to be expiry. `FetchGuard` wraps every
 * request to the server: while logged out it holds requests instead of sending them (so
 * background polling pauses and nothing fails), and a request that failed with an expiry
 * 403 is sent again once the user has logged in (so a save is not lost).
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** `GET workbench/api/session` (times are epoch seconds, by the server's clock). */
export interface ISessionState {
  logged_in: boolean;
  /** Logged out: true only when the server confirms this browser's login ran out. */
  expired?: boolean;
  reason?: 'absolute' | 'idle' | 'logout' | null;
  /** False when the server cannot enforce expiry (another identity provider). */
  enforced?: boolean;
  /** How to log in again: `password` (the dialog) or `hub` (JupyterHub's OAuth, popup). */
  login?: 'password' | 'hub' | 'page';
  /** `hub`: the page that goes through the hub's login and tells this tab. */
  login_url?: string;
  /** Real input (typing, clicking) is reported to the server, which tells JupyterHub. */
  report_activity?: boolean;
  user?: string;
  display_name?: string;
  /** `browser`: an expiring cookie session; `token`: an API token, never expires. */
  kind?: 'browser' | 'token';
  login_at?: number | null;
  active_at?: number | null;
  expires_at?: number | null;
  idle_expires_at?: number | null;
  absolute_timeout?: number;
  idle_timeout?: number;
  warning?: number;
  now?: number;
}

/**
 * The value of a cookie readable by the page (`_xsrf`), as ServerConnection reads it: the
 * last one when several paths set it (the server sees that one).
 */
export function getCookie(name: string): string | undefined {
  let value: string | undefined;
  let cookies = '';
  try {
    cookies = document.cookie;
  } catch {
    return undefined;
  }
  for (const part of cookies.split(';')) {
    const trimmed = part.trim();
    if (trimmed.startsWith(name + '=')) {
      value = decodeURIComponent(trimmed.slice(name.length + 1));
    }
  }
  return value;
}

/**
 * The `X-XSRFToken` header JupyterLab's ServerConnection sends on every request. JupyterHub's
 * cookie auth ignores the login cookie on a script's request without it (GETs included).
 */
export function xsrfHeaders(): Record<string, string> {
  const xsrf = getCookie('_xsrf');
  return xsrf ? { 'X-XSRFToken': xsrf } : {};
}

/** Tabs of this server tell each other (and the login popup tells them) about a new login. */
export const SESSION_CHANNEL = 'jupyter-workbench-session';
export const LOGIN_MESSAGE = 'jupyter-workbench:login';

/** A deadline is near: `deadline` in server epoch seconds; `idle`: the inactivity one. */
export interface IWarning {
  deadline: number;
  idle: boolean;
}

/** A minimal signal: the panels here need no more. */
export class Listeners<T> {
  connect(listener: (value: T) => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  emit(value: T): void {
    for (const listener of [...this._listeners]) {
      try {
        listener(value);
      } catch (error) {
        console.error(error);
      }
    }
  }

  private _listeners = new Set<(value: T) => void>();
}

export class SessionMonitor {
  constructor(baseUrl = PageConfig.getBaseUrl()) {
    this.baseUrl = baseUrl;
    // Captured before FetchGuard wraps window.fetch: the monitor's own calls pass through.
    this.rawFetch = window.fetch.bind(window);
  }

  readonly baseUrl: string;
  readonly rawFetch: typeof window.fetch;

  /** The last known session (null before the first answer or without the server part). */
  get state(): ISessionState | null {
    return this._state;
  }

  /** True from the moment expiry is known until the user has logged in again. */
  get loggedOut(): boolean {
    return this._loggedOut;
  }

  /** False when the server has no session endpoint (older server, extension disabled). */
  get available(): boolean {
    return this._available;
  }

  /** Called on every new state, on expiry and on login. */
  readonly changed = new Listeners<ISessionState | null>();

  /** Called once per expiry: the login dialog listens. */
  readonly expired = new Listeners<void>();

  /** Called when the next deadline is within `warning` seconds. */
  readonly warning = new Listeners<IWarning>();

  /** Milliseconds to add to Date.now() to get the server's clock. */
  get clockOffset(): number {
    return this._offset;
  }

  /** The earliest deadline (server epoch seconds) and whether it is the idle one. */
  nextDeadline(): { at: number; idle: boolean } | null {
    const s = this._state;
    if (!s || !s.logged_in) {
      return null;
    }
    const abs = s.expires_at ?? null;
    const idle = s.idle_expires_at ?? null;
    if (abs === null && idle === null) {
      return null;
    }
    if (idle !== null && (abs === null || idle < abs)) {
      return { at: idle, idle: true };
    }
    return { at: abs as number, idle: false };
  }

  /** Seconds left until the next deadline, by the server's clock (null: none). */
  secondsLeft(): number | null {
    const next = this.nextDeadline();
    if (!next) {
      return null;
    }
    return next.at - (Date.now() + this._offset) / 1000;
  }

  /** Ask the server (deduplicated); a logged-out answer declares expiry. */
  refresh(): Promise<ISessionState | null> {
    if (!this._pending) {
      this._pending = this._fetchState().finally(() => {
        this._pending = null;
      });
    }
    return this._pending;
  }

  /** Resolves once the user is logged in (at once when they are). */
  waitForLogin(): Promise<void> {
    if (!this._loggedOut) {
      return Promise.resolve();
    }
    return new Promise(resolve => this._waiters.push(resolve));
  }

  /** Real user input happened: tell the server, at most once per throttle interval. */
  noteActivity(): void {
    const s = this._state;
    if (!s || !s.logged_in || this._loggedOut || !(s.idle_timeout || s.report_activity)) {
      return; // no idle timeout and no hub to tell: nothing to keep alive
    }
    const throttle = s.idle_timeout
      ? Math.max(1000, Math.min(60_000, (s.idle_timeout * 1000) / 4))
      : 60_000;
    const now = Date.now();
    if (now - this._lastPing < throttle) {
      return;
    }
    this._lastPing = now;
    void this._ping();
  }

  /** Called by the login dialog once the server accepted the password or token. */
  async loggedIn(): Promise<boolean> {
    const state = await this.refresh();
    return !!state && state.logged_in;
  }

  /** Declare the session over (a deadline passed and the server confirmed it). */
  markExpired(): void {
    this._clearTimers();
    if (this._loggedOut) {
      return;
    }
    this._loggedOut = true;
    this._state = { logged_in: false };
    this.changed.emit(this._state);
    this.expired.emit();
  }

  dispose(): void {
    this._clearTimers();
  }

  private async _fetchState(): Promise<ISessionState | null> {
    const url = URLExt.join(this.baseUrl, 'workbench', 'api', 'session');
    let state: ISessionState;
    try {
      const response = await this.rawFetch(url, {
        credentials: 'same-origin',
        cache: 'no-store',
        headers: xsrfHeaders()
      });
      if (response.status === 404) {
        this._available = false;
        return null;
      }
      if (!response.ok) {
        return this._state;
      }
      state = await response.json();
    } catch {
      return this._state; // offline for a moment: keep what we knew
    }
    this._available = true;
    this._accept(state);
    return state;
  }

  /** How the last answer said to log in again (kept across logged-out answers). */
  get login(): { kind: string; url: string | null } {
    return { kind: this._loginKind, url: this._loginUrl };
  }

  private _accept(state: ISessionState): void {
    if (state.login) {
      this._loginKind = state.login;
      this._loginUrl = state.login_url ?? null;
    }
    if (!state.logged_in) {
      if (state.expired) {
        this.markExpired();
      }
      // Otherwise the server cannot confirm an expiry (no login of ours, another identity
      // provider): announce nothing, requests go on as in stock JupyterLab.
      return;
    }
    if (typeof state.now === 'number') {
      this._offset = state.now * 1000 - Date.now();
    }
    this._state = state;
    if (this._loggedOut) {
      this._loggedOut = false;
      const waiters = this._waiters.splice(0);
      waiters.forEach(resolve => resolve());
    }
    this._schedule();
    this.changed.emit(state);
  }

  private async _ping(): Promise<void> {
    const url = URLExt.join(this.baseUrl, 'workbench', 'api', 'session', 'activity');
    const headers = { 'Content-Type': 'application/json', ...xsrfHeaders() };
    try {
      const response = await this.rawFetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers,
        body: '{}'
      });
      if (response.ok) {
        this._accept(await response.json());
      } else if (response.status === 403) {
        await this.refresh(); // expired, or another 403: the endpoint says which
      }
    } catch {
      // offline for a moment: the next input pings again
    }
  }

  private _schedule(): void {
    this._clearTimers();
    if (this._state?.enforced === false) {
      return; // the server does not enforce expiry: no deadline to announce
    }
    const next = this.nextDeadline();
    if (!next) {
      return;
    }
    const left = next.at * 1000 - (Date.now() + this._offset);
    const warnAt = left - (this._state?.warning ?? 0) * 1000;
    if (warnAt <= 0 && left > 0) {
      this.warning.emit({ deadline: next.at, idle: next.idle });
    } else if (warnAt > 0) {
      this._timers.push(
        window.setTimeout(
          () => this.warning.emit({ deadline: next.at, idle: next.idle }),
          Math.min(warnAt, MAX_DELAY)
        )
      );
    }
    // At the deadline, ask the server: it decides (its clock, a renewed login elsewhere).
    this._timers.push(
      window.setTimeout(
        () => void this.refresh(),
        Math.min(Math.max(left + 250, 0), MAX_DELAY)
      )
    );
  }

  private _clearTimers(): void {
    this._timers.forEach(t => window.clearTimeout(t));
    this._timers = [];
  }

  private _state: ISessionState | null = null;
  private _loginKind = 'password';
  private _loginUrl: string | null = null;
  private _loggedOut = false;
  private _available = true;
  private _offset = 0;
  private _lastPing = 0;
  private _timers: number[] = [];
  private _waiters: (() => void)[] = [];
  private _pending: Promise<ISessionState | null> | null = null;
}

/** Give a request built before a new login the `_xsrf` value of the new one. */
function refreshXsrf(request: Request): void {
  const xsrf = getCookie('_xsrf');
  if (xsrf && request.headers.has('X-XSRFToken')) {
    request.headers.set('X-XSRFToken', xsrf);
  }
}

/** setTimeout's limit is 2^31-1 ms; longer deadlines are re-checked by refresh(). */
const MAX_DELAY = 2_000_000_000;

/**
 * Wraps `fetch` for requests to the Jupyter server: holds them while logged out, and
 * re-sends one that failed because the login expired once the user has logged in again.
 */
export class FetchGuard {
  constructor(monitor: SessionMonitor) {
    this._monitor = monitor;
    this._original = monitor.rawFetch;
    const base = new URL(monitor.baseUrl, window.location.href);
    this._base = base.href;
    this._exempt = ['login', 'logout', 'workbench/api/session', 'static/'].map(
      p => new URL(p, base).href
    );
  }

  /** The wrapped fetch (same signature as window.fetch). */
  readonly fetch = async (
    input: RequestInfo | URL,
    init?: RequestInit
  ): Promise<Response> => {
    const url =
      typeof input === 'string'
        ? input
        : input instanceof URL
          ? input.href
          : (input as Request).url;
    if (!this._guards(url)) {
      return this._original(input, init);
    }
    let held = false;
    if (this._monitor.loggedOut) {
      await this._monitor.waitForLogin(); // polling pauses here while logged out
      held = true;
    }
    const request = new Request(input, init);
    if (held) {
      refreshXsrf(request); // a new login (JupyterHub's above all) comes with a new _xsrf
    }
    const copy = request.clone(); // the body can only be read once: keep one for a retry
    const response = await this._original(request);
    if (response.status !== 403 || !this._monitor.available) {
      return response;
    }
    const state = await this._monitor.refresh();
    if (!state || state.logged_in) {
      return response; // a 403 for another reason: the caller handles it as usual
    }
    await this._monitor.waitForLogin();
    refreshXsrf(copy);
    return this._original(copy);
  };

  /** Route window.fetch and the given server settings (created before us) through the guard. */
  install(settings: ServerConnection.ISettings[]): void {
    window.fetch = this.fetch;
    const seen = new Set<ServerConnection.ISettings>();
    for (const s of settings) {
      if (s && !seen.has(s)) {
        seen.add(s);
        try {
          (s as { fetch: typeof window.fetch }).fetch = this.fetch;
        } catch {
          // a frozen settings object: its requests stay unguarded
        }
      }
    }
  }

  private _guards(url: string): boolean {
    let absolute: string;
    try {
      absolute = new URL(url, window.location.href).href;
    } catch {
      return false;
    }
    return (
      absolute.startsWith(this._base) && !this._exempt.some(e => absolute.startsWith(e))
    );
  }

  private _monitor: SessionMonitor;
  private _original: typeof window.fetch;
  private _base: string;
  private _exempt: string[];
}
