/**
 * The models (jobs, environments, mounts) against a real Jupyter server running the workbench
 * server extension (test/server.ts): what the panels render from, signal by signal.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { ISignal } from '@lumino/signaling';

import { EnvironmentsModel, ICreationEnded } from '../src/environmentsModel';
import { ExportsModel, LAST_EXPORT_KEY } from '../src/exportsModel';
import { IJobLog, JobsModel } from '../src/jobsModel';
import { MountsModel } from '../src/mountsModel';
import { IJob, IMount } from '../src/util';
import { ITestServer, startServer } from './server';

let server: ITestServer;

beforeAll(async () => {
  // Exports run in the Python that runs the tests (it has TensorFlow).
  const python = execFileSync('python', ['-c', 'import sys; print(sys.executable)'])
    .toString()
    .trim();
  server = await startServer(
    '--Workbench.environments_dir={tmp}/envs',
    `--Workbench.export_python=${python}`
  );
}, 90_000);

afterAll(async () => {
  await server?.stop();
});

/** The first emission of `signal` for which `test` holds. */
function next<S, T>(signal: ISignal<S, T>, test: (value: T) => boolean): Promise<T> {
  return new Promise(resolve => {
    const slot = (_: S, value: T) => {
      if (test(value)) {
        signal.disconnect(slot);
        resolve(value);
      }
    };
    signal.connect(slot);
  });
}

describe('JobsModel', () => {
  it('follows a running job: its log as it grows, each part once, then `finished`', async () => {
    const flag = path.join(server.root, 'go');
    fs.writeFileSync(
      path.join(server.root, 'steps.sh'),
      `echo one\nwhile [ ! -e ${flag} ]; do sleep 0.05; done\necho two\n`
    );
    const model = new JobsModel({ interval: 200, logInterval: 100 });
    try {
      const listed = next(model.changed, jobs => jobs.length > 0);
      const job = await model.submit('steps.sh');
      expect(job.state).toBe('running');
      expect((await listed).map(j => j.id)).toContain(job.id);
      expect(model.running.map(j => j.id)).toEqual([job.id]);

      const logs: IJobLog[] = [];
      model.logChanged.connect((_, log) => void logs.push({ ...log }));
      const first = next(model.logChanged, log => log.text.includes('one'));
      model.watch(job.id, true);
      expect((await first).text).toBe('one\n');

      const finished = next(model.finished, (j: IJob) => j.id === job.id);
      const second = next(model.logChanged, log => log.text.includes('two'));
      fs.writeFileSync(flag, '');
      expect((await second).text).toBe('one\ntwo\n');
      expect((await finished).state).toBe('succeeded');
      expect(model.running).toEqual([]);
      // Ticks with nothing new do not emit: each emission grew the log
      const texts = logs.map(l => l.text).filter(t => t);
      expect(new Set(texts).size).toBe(texts.length);
      expect(model.log(job.id)!.next).toBe(8);

      model.watch(job.id, false);
      expect(model.log(job.id)).toBeUndefined();
    } finally {
      model.dispose();
    }
  });

  it('removes a finished job from the list, and refuses while it runs', async () => {
    const flag = path.join(server.root, 'go-remove');
    fs.writeFileSync(
      path.join(server.root, 'wait.sh'),
      `while [ ! -e ${flag} ]; do sleep 0.05; done\n`
    );
    const model = new JobsModel({ interval: 200 });
    try {
      const job = await model.submit('wait.sh');
      await expect(model.remove(job.id)).rejects.toThrow('still running');
      expect(model.jobs.map(j => j.id)).toContain(job.id);

      const finished = next(model.finished, (j: IJob) => j.id === job.id);
      fs.writeFileSync(flag, '');
      await finished;
      const removed = await model.remove(job.id);
      expect(removed.id).toBe(job.id);
      expect(model.jobs.map(j => j.id)).not.toContain(job.id);
      // and the server forgot it: a fresh model does not list it either
      const other = new JobsModel();
      try {
        await other.refresh();
        expect(other.jobs.map(j => j.id)).not.toContain(job.id);
      } finally {
        other.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it("rejects a bad submission with the server's message and lists nothing", async () => {
    const model = new JobsModel();
    try {
      await expect(model.submit('missing.py')).rejects.toThrow("No file 'missing.py'");
    } finally {
      model.dispose();
    }
  });
});

describe('EnvironmentsModel', () => {
  it('lists py3 and tf2 with their state, polling slowly when nothing is created', async () => {
    const model = new EnvironmentsModel({ interval: 60_000, followInterval: 100 });
    try {
      let changes = 0;
      model.changed.connect(() => void changes++);
      expect(model.loaded).toBe(false);
      await model.ensureLoaded();
      expect(model.loaded && model.error === null).toBe(true);
      expect(changes).toBeGreaterThan(0);
      const names = model.environments.map(e => e.name).sort();
      expect(names).toEqual(['py3', 'tf2']);
      const py3 = model.get('py3')!;
      expect([py3.state, py3.ready]).toEqual(['missing', false]);
      expect(model.forKernel(py3.kernel_name)).toBe(py3);
      expect(model.forKernel('python3')).toBeUndefined();
      expect(model.poll.frequency.interval).toBe(60_000);
    } finally {
      model.dispose();
    }
    expect(model.poll.isDisposed).toBe(true);
  });

  it('reports a creation the server refuses, with its message, and stops following', async () => {
    const model = new EnvironmentsModel({ interval: 60_000, followInterval: 100 });
    try {
      await model.refresh();
      const ended = next(model.creationEnded, (e: ICreationEnded) => e.name === 'nope');
      const creating = model.create('nope');
      expect(model.isCreating('nope')).toBe(true);
      expect(model.poll.frequency.interval).toBe(100);
      await expect(creating).rejects.toThrow(/nope/);
      const end = await ended;
      expect(end.ok).toBe(false);
      expect(end.error).toMatch(/nope/);
      expect(model.isCreating('nope')).toBe(false);
      expect(model.progress('nope')).toMatchObject({ running: false, error: end.error });
      expect(model.poll.frequency.interval).toBe(60_000);
    } finally {
      model.dispose();
    }
  });
});

describe('MountsModel', () => {
  it('adds a folder mount, finds it by path with its listing bound, and removes it', async () => {
    const folder = path.join(server.root, 'shared');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'a.csv'), 'x\n1\n');
    const model = new MountsModel();
    try {
      const changed = next(model.changed, (mounts: IMount[]) => mounts.length > 0);
      const mount = await model.add({
        name: 'team',
        url: `file://${folder}`,
        options: {},
        read_only: true
      });
      expect(mount.path).toBe('mnt/team');
      expect((await changed).map(m => m.name)).toEqual(['team']);
      expect(model.mountFor('mnt/team/a.csv')?.name).toBe('team');
      expect(model.mountFor('mnt/teams')).toBeNull();
      const bound = await model.listingBound('mnt/team');
      expect(bound).toMatchObject({ path: 'mnt/team', truncated: false });
      expect(await model.listingBound('elsewhere')).toBeNull();

      await expect(
        model.add({ name: 'team', url: `file://${folder}`, options: {}, read_only: true })
      ).rejects.toThrow(/team/);

      await model.remove('team');
      expect(model.mounts).toEqual([]);
    } finally {
      model.dispose();
    }
  });
});

/** A Storage in memory (what a browser's localStorage keeps across a reload). */
function memoryStorage(): Pick<Storage, 'getItem' | 'setItem'> {
  const items = new Map<string, string>();
  return {
    getItem: key => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value)
  };
}

describe('ExportsModel', () => {
  it('follows an export to its end, and a reloaded page finds it again', async () => {
    // Given a file that is no model
    fs.writeFileSync(path.join(server.root, 'notes.keras'), 'not a model');
    const storage = memoryStorage();
    const model = new ExportsModel({ interval: () => 100, storage });
    try {
      // When the panel exports it and waits
      const id = await model.start({
        source: 'notes.keras',
        destination: 'models/notes'
      });
      expect(storage.getItem(LAST_EXPORT_KEY)).toBe(id);
      const final = await model.wait(id);
      // Then it ends failed with the server's reason, and is listed as such
      expect(final.state).toBe('failed');
      expect(final.error).toMatch(/notes\.keras/);
      expect(model.get(id)?.source).toBe('notes.keras');
      expect(model.poll.frequency.interval).toBe(60_000); // nothing runs: slowly
    } finally {
      model.dispose();
    }
    // When the page is reloaded: the export this browser started is the one to show
    const reloaded = new ExportsModel({ storage });
    const other = new ExportsModel({ storage: memoryStorage() });
    try {
      expect(reloaded.current).toBeNull();
      await Promise.all([reloaded.refresh(), other.refresh()]);
      expect(reloaded.loaded).toBe(true);
      const id = storage.getItem(LAST_EXPORT_KEY)!;
      expect(reloaded.current).toMatchObject({ id, state: 'failed' });
      expect(await reloaded.wait(id)).toBe(reloaded.current);
      // (another browser sees no running export to show)
      expect(other.exports.map(e => e.id)).toContain(id);
      expect(other.current).toBeNull();
    } finally {
      reloaded.dispose();
      other.dispose();
    }
  });

  it("rejects a bad request with the server's message", async () => {
    const model = new ExportsModel({ storage: memoryStorage() });
    try {
      await expect(model.start({ source: '', destination: 'models/x' })).rejects.toThrow(
        /source/
      );
    } finally {
      model.dispose();
    }
  });
});
