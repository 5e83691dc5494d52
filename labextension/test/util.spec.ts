/**
 * The frontend's pure functions (src/util.ts): what the panels show and send.
 */
import {
  appendLog,
  buildMountRequest,
  createLabel,
  describeGpu,
  describePackages,
  duration,
  english,
  finishedSince,
  formatBytes,
  formatCountdown,
  IEnvironment,
  IJob,
  ITrans,
  RUNNABLE,
  setLoggedOut,
  standby
} from '../src/util';

const job = (over: Partial<IJob>): IJob => ({
  id: 'a',
  name: 'train.ipynb',
  kind: 'notebook',
  path: 'train.ipynb',
  environment: 'py3',
  state: 'running',
  created_at: 1000,
  started_at: 1000,
  ended_at: null,
  exit_code: null,
  reason: null,
  output: null,
  ...over
});

const env = (over: Partial<IEnvironment>): IEnvironment => ({
  name: 'tf2',
  display_name: 'TensorFlow 2',
  kernel_name: 'workbench-tf2',
  python: '3.11',
  packages: {},
  gpu: null,
  ready: true,
  state: 'ready',
  message: 'tf2 is ready.',
  ...over
});

/** A bundle that marks what it translated, to check strings go through it. */
const marked: ITrans = { __: (msgid, ...args) => `«${english.__(msgid, ...args)}»` };

describe('english', () => {
  it('fills numbered placeholders and leaves unknown ones', () => {
    expect(english.__('%2 then %1', 'a', 'b')).toBe('b then a');
    expect(english.__('%1 and %3', 'x')).toBe('x and %3');
  });
});

describe('formatBytes / formatCountdown', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(formatBytes(5e15)).toBe('5000.0 TB');
  });
  it('formats a countdown with hours only when needed', () => {
    expect(formatCountdown(245)).toBe('4:05');
    expect(formatCountdown(3 * 3600 - 19)).toBe('2:59:41');
    expect(formatCountdown(-5)).toBe('0:00');
  });
});

describe('jobs', () => {
  it('says how long a job ran or runs', () => {
    expect(duration(job({ ended_at: 1012 }))).toBe('12 s');
    expect(duration(job({}), 1000 + 184)).toBe('3 min 4 s');
    expect(duration(job({ started_at: null, created_at: 0, ended_at: 5400 }))).toBe(
      '1.5 h'
    );
  });
  it('finds the jobs that ended between two listings', () => {
    const before = [
      job({ id: 'a' }),
      job({ id: 'b' }),
      job({ id: 'c', state: 'failed' })
    ];
    const after = [
      job({ id: 'a', state: 'succeeded' }),
      job({ id: 'b' }),
      job({ id: 'c', state: 'failed' }),
      job({ id: 'd', state: 'cancelled' })
    ];
    expect(finishedSince(before, after).map(j => j.id)).toEqual(['a']);
  });
  it('runs notebooks, Python and shell scripts only', () => {
    expect(['a.ipynb', 'b.PY', 'c.sh'].every(p => RUNNABLE.test(p))).toBe(true);
    expect(['a.txt', 'ipynb', 'b.py.bak'].some(p => RUNNABLE.test(p))).toBe(false);
  });
});

describe('appendLog', () => {
  it('joins a reply that starts where the last one ended', () => {
    const first = appendLog(undefined, {
      log: 'a\n',
      offset: 0,
      next: 2,
      truncated: false
    });
    const second = appendLog(first, { log: 'b\n', offset: 2, next: 4, truncated: false });
    expect(second).toEqual({ text: 'a\nb\n', next: 4, truncated: false });
  });
  it('replaces the buffer after a gap (the follower fell behind)', () => {
    const first = { text: 'a\n', next: 2, truncated: false };
    const jump = appendLog(first, { log: 'z\n', offset: 90, next: 92, truncated: true });
    expect(jump).toEqual({ text: 'z\n', next: 92, truncated: true });
  });
  it('keeps at most `keep` characters, from a line start', () => {
    const full = appendLog(
      undefined,
      {
        log: 'one\ntwo\nthree\n',
        offset: 0,
        next: 14,
        truncated: false
      },
      9
    );
    expect(full).toEqual({ text: 'three\n', next: 14, truncated: true });
  });
});

describe('environments', () => {
  it('names the key packages first, TensorFlow once', () => {
    const packages = {
      numpy: '2.4.6',
      'tensorflow-cpu': '2.21.0',
      tensorflow: '2.21.0',
      Keras: '3.15.1',
      tf_keras: '2.21.0',
      pandas: '2.3'
    };
    expect(describePackages(packages)).toBe(
      'TensorFlow 2.21.0, Keras 3.15.1, tf_keras 2.21.0, NumPy 2.4.6'
    );
    expect(describePackages({ 'tensorflow-cpu': '2.21.0' }, 1)).toBe(
      'TensorFlow (CPU) 2.21.0'
    );
    expect(describePackages({})).toBe('');
  });
  it('describes the GPU only for GPU-aware environments, translated', () => {
    expect(describeGpu(env({ gpu: null }))).toBeNull();
    expect(describeGpu(env({ gpu: true }), marked)).toBe(
      '«visible and used by TensorFlow»'
    );
    expect(describeGpu(env({ gpu: false, gpu_visible: true }))).toMatch(/CPU build/);
    expect(describeGpu(env({ gpu: false }))).toMatch(/none visible/);
  });
  it('offers Create, Repair or Update as the state asks', () => {
    expect(createLabel(env({ state: 'missing', ready: false }), marked)).toBe('«Create»');
    expect(createLabel(env({ state: 'broken', ready: false }))).toBe('Repair');
    expect(createLabel(env({ state: 'incomplete', ready: false }))).toBe('Repair');
    expect(createLabel(env({ state: 'creating', ready: false }))).toBeNull();
    expect(createLabel(env({}))).toBeNull();
    expect(createLabel(env({ message: 'tf2 was built from an older definition.' }))).toBe(
      'Update'
    );
  });
});

describe('buildMountRequest', () => {
  it('builds an OSS request with the bucket as the default name', () => {
    const request = buildMountRequest(
      'oss',
      {
        bucket: 'data',
        prefix: '/train/',
        endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
        key: ' AK ',
        secret: ' s3cr3t '
      },
      true
    );
    expect(request).toEqual({
      name: 'data',
      url: 'oss://data/train',
      options: {
        endpoint: 'https://oss-cn-hangzhou.aliyuncs.com',
        key: 'AK',
        secret: ' s3cr3t ' // secrets are sent as typed
      },
      read_only: true
    });
  });
  it('turns a NAS path into a file URL and an SMB share into smb://', () => {
    expect(
      buildMountRequest('nas', { location: '/mnt/nas/share/' }, false)
    ).toMatchObject({
      name: 'share',
      url: 'file:///mnt/nas/share/'
    });
    expect(
      buildMountRequest(
        'smb',
        { server: 'fs1', share: 'team', subpath: 'a/b', username: 'me', password: 'pw' },
        false
      )
    ).toEqual({
      name: 'team',
      url: 'smb://fs1/team/a/b',
      options: { username: 'me', password: 'pw' },
      read_only: false
    });
  });
  it('parses key=value options of any fsspec URL, skipping comments', () => {
    const request = buildMountRequest(
      'url',
      { url: 's3://b/p', name: 'my data', options: '# creds\nkey = K\n\nanon=false' },
      false
    );
    expect(request.options).toEqual({ key: 'K', anon: 'false' });
    expect(request.name).toBe('my data');
  });
  it('says what is missing, through the translator', () => {
    expect(() => buildMountRequest('oss', {}, false, marked)).toThrow(
      '«Enter the bucket name.»'
    );
    expect(() => buildMountRequest('oss', { bucket: 'b' }, false)).toThrow(
      /OSS endpoint/
    );
    expect(() => buildMountRequest('smb', { server: 'fs1' }, false)).toThrow(
      /SMB server/
    );
    expect(() =>
      buildMountRequest('url', { url: 'memory://x', options: 'oops' }, false)
    ).toThrow('Options must be key=value lines, got "oops".');
    expect(() => buildMountRequest('url', { url: 'memory://' }, false)).toThrow(/name/);
  });
});

describe('standby', () => {
  it('stands by while logged out, else only while the page is hidden', () => {
    let out = false;
    setLoggedOut(() => out);
    expect(standby()).toBe('when-hidden');
    out = true;
    expect(standby()).toBe(true);
  });
});
