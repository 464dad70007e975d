// Runs samples/gateway/start-topology.ts as its README says (store + 3 gateways + the machine's
// nginx, found by system-programs.ts), and parses the URLs and pids it prints. The store and the
// gateways listen on port 0 and the script prints their URLs; nginx needs a port in its config: a free
// one, and a new one if another process took it first. `forceKill` is the after-hook's safety net: it
// SIGKILLs every process the script reported, whatever state the test left it in.

import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, retryWhileAddressInUse } from './ports.ts';
import { NGINX, systemProgram } from './system-programs.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface TopologyProcess {
  url: string;
  pid: number;
}

export interface Topology {
  child: ChildProcess;
  nginx: TopologyProcess & { configFile: string };
  store: TopologyProcess;
  /** By gateway id (`gateway1` …). */
  gateways: Map<string, TopologyProcess>;
  /** Everything the script printed so far. */
  output(): string;
  /** Resolves with the script's exit code (or signal name). */
  exited: Promise<number | string>;
  forceKill(): void;
}

async function startOnce(args: string[], nginxPort: number): Promise<Topology> {
  const nginx = systemProgram(NGINX).path(); // throws, naming nginx and its install command, if missing
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'samples/gateway/start-topology.ts',
      '--nginx',
      nginx,
      '--nginx-port',
      String(nginxPort),
      '--store-port',
      '0',
      '--gateway-ports',
      '0,0,0',
      ...args,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const pids = (): number[] => [...output.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
  const forceKill = (): void => {
    for (const pid of [child.pid, ...pids()]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the topology did not start:\n${output}`)), 60_000);
    const check = (): void => {
      if (/^ready:/m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the topology script exited with ${code}:\n${output}`));
    });
  });
  try {
    await ready;
  } catch (err) {
    forceKill();
    throw err;
  }
  const line = (name: string): RegExpExecArray => {
    const m = new RegExp(`^${name} +(http://\\S+) +pid (\\d+)(?: +config (\\S+))?`, 'm').exec(output);
    if (m === null) throw new Error(`no ${name} line in:\n${output}`);
    return m;
  };
  const gateways = new Map<string, TopologyProcess>();
  for (const m of output.matchAll(/^(gateway\d+) +(http:\/\/\S+) +pid (\d+)/gm)) {
    gateways.set(m[1]!, { url: m[2]!, pid: Number(m[3]) });
  }
  const n = line('nginx');
  const s = line('eventstore');
  return {
    child,
    nginx: { url: n[1]!, pid: Number(n[2]), configFile: n[3]! },
    store: { url: s[1]!, pid: Number(s[2]) },
    gateways,
    output: () => output,
    exited,
    forceKill: () => {
      forceKill();
      // The script removes its directory on a clean stop; after a SIGKILL nobody else would.
      rmSync(dirname(n[3]!), { recursive: true, force: true });
    },
  };
}

/**
 * Starts the topology (`args` are added to the script's flags; a later flag wins). When nginx finds
 * its port taken (its "bind() … Address already in use" ends the script), it starts again on a new
 * free port.
 */
export async function startTopology(args: string[] = []): Promise<Topology> {
  return retryWhileAddressInUse(async () => startOnce(args, await freePort()));
}
