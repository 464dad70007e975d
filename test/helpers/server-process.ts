// Runs `lockfree-eventstore serve` as a child process (through tsx) and returns its URL, for the
// kill -9 and SIGTERM tests.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with the exit code (or signal name) when the process exits. */
  exited: Promise<number | string>;
}

/** `wrapper`: a command that runs the server (e.g. `['fiu-run', '-x']`), exec'ing it in its own pid. */
export async function spawnServer(args: string[], wrapper: string[] = []): Promise<ServerProcess> {
  const command = [
    process.execPath,
    ...['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--log-level', 'warn', ...args],
  ];
  const [program, ...rest] = [...wrapper, ...command];
  // A token in the developer's shell would make every test server ask for one.
  const env = { ...process.env };
  delete env.LFES_TOKEN;
  delete env.LOCKFREE_EVENTSTORE_TOKEN;
  const child = spawn(program!, rest, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    // The banner goes to stderr (stdout carries only the JSON log).
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${output}`));
    });
  });
  return { child, url, exited };
}
