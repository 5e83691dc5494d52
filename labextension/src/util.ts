/**
 * The frontend's pure functions and the REST shapes they work on: no import at all (not
 * even JupyterLab's), so that the jest tests in `labextension/test` run them as they are.
 * The panels and models import from here; strings still go through the caller's
 * translation bundle (`trans.__`), passed in.
 */

/** What these functions need of a JupyterLab `TranslationBundle`. */
export interface ITrans {
  __(msgid: string, ...args: any[]): string;
}

/** English, with gettext-style `%1` placeholders filled in (like JupyterLab's nullTranslator). */
export const english: ITrans = {
  __: (msgid: string, ...args: any[]) =>
    msgid.replace(/%(\d+)/g, (match, n) =>
      Number(n) <= args.length ? String(args[Number(n) - 1]) : match
    )
};

/** Human-readable byte count ("12.3 MB"). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** "2:59:41" or "4:05". */
export function formatCountdown(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const secs = String(s % 60).padStart(2, '0');
  return hours > 0
    ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}`
    : `${minutes}:${secs}`;
}

export interface IJob {
  id: string;
  name: string;
  /** export / environment: started by the Export panel or an environment creation. */
  kind: 'notebook' | 'python' | 'shell' | 'export' | 'environment';
  path: string | null;
  environment: string;
  state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  reason: string | null;
  output: string | null;
  /** Exports and environment creations only: the last progress message. */
  message?: string | null;
}

export interface IJobLog {
  id: string;
  log: string;
  size: number;
  truncated: boolean;
}

export const RUNNABLE = /\.(ipynb|py|sh)$/i;

/** "12 s", "3 min 4 s", "1.5 h". */
export function duration(job: IJob, now = Date.now() / 1000): string {
  const start = job.started_at ?? job.created_at;
  const end = job.ended_at ?? now;
  const s = Math.max(0, Math.round(end - start));
  return s < 60
    ? `${s} s`
    : s < 3600
      ? `${Math.floor(s / 60)} min ${s % 60} s`
      : `${(s / 3600).toFixed(1)} h`;
}

/** Jobs whose state changed between two listings from running to a final state. */
export function finishedSince(before: IJob[], after: IJob[]): IJob[] {
  const running = new Set(before.filter(j => j.state === 'running').map(j => j.id));
  return after.filter(j => running.has(j.id) && j.state !== 'running');
}

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
  /** Read-only for this user (a team's shared environment): their installs go to an overlay. */
  shared?: boolean;
  /** What this user installed into their overlay of a shared environment. */
  personal_packages?: { [dist: string]: string };
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
export function describeGpu(env: IEnvironment, trans: ITrans = english): string | null {
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
export function createLabel(env: IEnvironment, trans: ITrans = english): string | null {
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

/** A mount as `GET workbench/api/mounts` describes it (never with secrets). */
export interface IMount {
  name: string;
  url: string;
  protocol: string;
  options: { [key: string]: unknown };
  read_only: boolean;
  secret_options: string[];
  path: string;
  local_path: string | null;
  state: { state: 'ok' | 'error' | 'unknown'; message: string | null };
  fuse: unknown;
  listing_page_size: number;
  listing_limit: number;
  in_file_browser: boolean;
}

/** `workbench/api/mounts/<name>/listing/more`: the file browser's bound for one folder. */
export interface IListingBound {
  /** The folder's API path (`mnt/<name>/<rel>`). */
  path: string;
  /** Entries the file browser lists of it now. */
  limit: number;
  /** How many more one "load the next" adds. */
  step: number;
  /** Entries its last listing held (null before the first). */
  shown: number | null;
  /** Whether the store holds more than that listing. */
  truncated: boolean;
}

/** What the user asked for, as the REST API takes it. */
export interface IMountRequest {
  name: string;
  url: string;
  options: { [key: string]: string };
  read_only: boolean;
}

export type MountKind = 'oss' | 'nas' | 'smb' | 'url';

const trimSlashes = (s: string) => s.trim().replace(/^\/+|\/+$/g, '');

/** Build the REST request from the form's values; throws a plain message when incomplete. */
export function buildMountRequest(
  kind: MountKind,
  values: { [field: string]: string },
  readOnly: boolean,
  trans: ITrans = english
): IMountRequest {
  const v = (name: string) => (values[name] || '').trim();
  const options: { [key: string]: string } = {};
  const setIf = (key: string, value: string) => {
    if (value) {
      options[key] = value;
    }
  };
  let url: string;
  let suggested = '';
  if (kind === 'oss') {
    const bucket = v('bucket');
    if (!bucket) {
      throw new Error(trans.__('Enter the bucket name.'));
    }
    if (!v('endpoint')) {
      throw new Error(
        trans.__('Enter the OSS endpoint, e.g. https://oss-cn-hangzhou.aliyuncs.com.')
      );
    }
    const prefix = trimSlashes(v('prefix'));
    url = `oss://${bucket}${prefix ? '/' + prefix : ''}`;
    setIf('endpoint', v('endpoint'));
    setIf('key', v('key'));
    setIf('secret', values.secret || '');
    setIf('token', values.token || '');
    suggested = bucket;
  } else if (kind === 'nas') {
    url = v('location');
    if (!url) {
      throw new Error(
        trans.__('Enter a path (/mnt/nas/share) or a nas://server:/export URL.')
      );
    }
    if (url.startsWith('/')) {
      url = `file://${url}`;
    }
    suggested =
      trimSlashes(url.replace(/^[a-z]+:\/\//, ''))
        .split('/')
        .pop() || '';
  } else if (kind === 'smb') {
    const server = v('server');
    const share = trimSlashes(v('share'));
    if (!server || !share) {
      throw new Error(trans.__('Enter the SMB server and share.'));
    }
    const sub = trimSlashes(v('subpath'));
    url = `smb://${server}/${share}${sub ? '/' + sub : ''}`;
    setIf('username', v('username'));
    setIf('password', values.password || '');
    suggested = share;
  } else {
    url = v('url');
    if (!url) {
      throw new Error(trans.__('Enter an fsspec URL such as s3://bucket/prefix.'));
    }
    for (const line of (values.options || '').split('\n')) {
      const text = line.trim();
      if (!text || text.startsWith('#')) {
        continue;
      }
      const eq = text.indexOf('=');
      if (eq <= 0) {
        throw new Error(trans.__('Options must be key=value lines, got "%1".', text));
      }
      options[text.slice(0, eq).trim()] = text.slice(eq + 1).trim();
    }
  }
  const name = v('name') || suggested.replace(/[^A-Za-z0-9._-]/g, '-');
  if (!name) {
    throw new Error(
      trans.__('Enter a name for the mount (it becomes the folder mnt/<name>).')
    );
  }
  return { name, url, options, read_only: readOnly };
}

/** A watched job's log as the frontend holds it: what was read so far, and where to go on. */
export interface ILogBuffer {
  text: string;
  /** Byte offset in the server's log file to ask from next (`?offset=`). */
  next: number;
  /** The start was dropped (too long to keep, or the server sent only a tail). */
  truncated: boolean;
}

/** At most this many characters of a log are kept in the page (the head is dropped). */
export const LOG_KEEP_CHARS = 256 * 1024;

/**
 * Append one reply of `GET jobs/{id}/log?offset=` to what was read so far. A reply with
 * `reset` (the log is shorter than the offset: a new file) or a gap (`offset` past `next`)
 * replaces the buffer; the result keeps at most `keep` characters, cut at a line start.
 */
export function appendLog(
  buffer: ILogBuffer | undefined,
  reply: { log: string; offset: number; next: number; truncated: boolean },
  keep = LOG_KEEP_CHARS
): ILogBuffer {
  const joins = buffer !== undefined && reply.offset === buffer.next;
  let text = joins ? buffer!.text + reply.log : reply.log;
  let truncated = joins ? buffer!.truncated || reply.truncated : reply.truncated;
  if (text.length > keep) {
    text = text.slice(text.length - keep);
    const nl = text.indexOf('\n');
    if (nl >= 0 && nl < text.length - 1) {
      text = text.slice(nl + 1);
    }
    truncated = true;
  }
  return { text, next: reply.next, truncated };
}

/**
 * Whether the models' polls stand by: always while the user is logged out (the session
 * plugin says so through `setLoggedOut`), otherwise while the page is hidden.
 */
export function standby(): boolean | 'when-hidden' {
  return loggedOut() || 'when-hidden';
}

/** Tell the polls how to know the login expired (the session plugin calls this once). */
export function setLoggedOut(fn: () => boolean): void {
  loggedOut = fn;
}

let loggedOut: () => boolean = () => false;
