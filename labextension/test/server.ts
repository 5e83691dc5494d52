/**
 * A real Jupyter server with the workbench server extension, for the models' tests: started
 * from the `python` on PATH (scripts/test.sh puts the project's virtualenv there), on a free
 * port, with its own root, config, runtime and state directories, stopped after the suite.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { PageConfig } from '@jupyterlab/coreutils';

export interface ITestServer {
  url: string;
  root: string;
  stop: () => Promise<void>;
}

export async function startServer(...args: string[]): Promise<ITestServer> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wb-jest-'));
  const dirs = ['root', 'config', 'data', 'runtime', 'state'].map(d => path.join(tmp, d));
  dirs.forEach(d => fs.mkdirSync(d));
  const [root, config, data, runtime, state] = dirs;
  const token = randomBytes(16).toString('hex');
  const child: ChildProcess = spawn(
    'python',
    [
      '-m',
      'jupyter_server',
      '--no-browser',
      '--ip=127.0.0.1',
      '--port=0',
      `--ServerApp.root_dir=${root}`,
      `--IdentityProvider.token=${token}`,
      ...args.map(a => a.replace('{tmp}', tmp)),
      ...(process.getuid?.() === 0 ? ['--allow-root'] : [])
    ],
    {
      env: {
        ...process.env,
        JUPYTER_CONFIG_DIR: config,
        JUPYTER_DATA_DIR: data,
        JUPYTER_RUNTIME_DIR: runtime,
        JUPYTER_WORKBENCH_STATE_DIR: state
      },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no server:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', code => reject(new Error(`server exited (${code}):\n${output}`)));
  });
  // What `requestAPI` reads (ServerConnection.makeSettings): the page's base URL and token.
  PageConfig.setOption('baseUrl', url);
  PageConfig.setOption('wsUrl', url.replace(/^http/, 'ws'));
  PageConfig.setOption('token', token);
  const stop = async () => {
    const exited = new Promise(resolve => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGTERM');
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 10_000))]);
    if (child.exitCode === null) {
      process.kill(-child.pid!, 'SIGKILL');
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  return { url, root, stop };
}
