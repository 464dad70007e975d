// The README's commands the way a user runs them: `npm start` and `npm run sample:*` through npm,
// stopped the way a supervisor (a signal to the npm process) or a terminal (Ctrl-C: SIGINT to the
// whole foreground process group) stops them. And the default ports: `npm start` and every sample
// run side by side on one machine.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOCAL_CLUSTER_TOPOLOGY } from '../../samples/cluster/nats-config.ts';
import { LOCAL_TOPOLOGY } from '../../samples/gateway/nginx-config.ts';
import { DASHBOARD_DEFAULT_PORT } from '../../samples/metrics-dashboard/dashboard-server.ts';
import { SENSOR_API_DEFAULT_PORT } from '../../samples/snapshot-sensors-api/sensor-api.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Every process a test saw (npm, and the pids its scripts reported): SIGKILLed at the end if alive. */
const pids = new Set<number>();

after(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

interface NpmRun {
  child: ChildProcess;
  output(): string;
  /** The first match of `re` in the output so far or to come; rejects when npm exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** npm's exit code, or the signal that ended it. */
  exited: Promise<number | string>;
}

/** `npm <args>` in the repository; `detached` puts npm in its own process group, as a terminal does. */
function npm(args: string[], detached = false): NpmRun {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false' };
  for (const name of ['PORT', 'HOST', 'DATA_DIR']) delete env[name];
  const child = spawn('npm', args, { cwd: root, env, detached, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) pids.add(child.pid);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const waitFor = async (re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(out);
      if (m !== null) return m;
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`no match for ${re} in the output of npm ${args.join(' ')}:\n${out}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, output: () => out, waitFor, exited };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits up to `timeoutMs` for the process to be gone; false if it still runs. */
async function gone(pid: number, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

describe('npm start', () => {
  it('stops the server gracefully when the npm process gets SIGTERM: exit 0, port closed, lock released', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('lfes-npm-start-');
    // The script's own --port 7070 --data-dir ./data come first: parseArgs keeps the last value.
    const run = npm(['start', '--', '--port', '0', '--data-dir', dir]);
    const url = (await run.waitFor(/listening on (http:\/\/\S+)/))[1]!;
    assert.notEqual(new URL(url).port, '7070', 'the port given after -- wins');
    const lock = join(dir, 'server.lock');
    const serverPid = Number((await readFile(lock, 'utf8')).trim());
    pids.add(serverPid);
    assert.ok(serverPid > 0 && alive(serverPid));
    const append = await fetch(`${url}/streams/npm/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    assert.equal(append.status, 201);

    // What pm2, a systemd unit running `npm start`, or `kill $(pgrep npm)` does.
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0, `npm reports the server's exit status:\n${run.output()}`);
    assert.ok(await gone(serverPid), `the server (pid ${serverPid}) outlived npm:\n${run.output()}`);
    assert.match(run.output(), /"msg":"stopped"/, 'the server ran its graceful close');
    assert.equal(existsSync(lock), false, 'the lock file is removed');
    await assert.rejects(fetch(`${url}/health`), 'nothing listens on the port any more');
  });

  it('stops the server gracefully on one Ctrl-C (SIGINT to its process group)', {
    timeout: 120_000,
  }, async () => {
    const dir = await tempDir('lfes-npm-start-ctrl-c-');
    const run = npm(['start', '--', '--port', '0', '--data-dir', dir], true);
    const url = (await run.waitFor(/listening on (http:\/\/\S+)/))[1]!;
    pids.add(Number((await readFile(join(dir, 'server.lock'), 'utf8')).trim()));
    // Enough events that the final snapshot takes a while: npm's relayed SIGINT arrives during it.
    const events = Array.from({ length: 5_000 }, (_, i) => ({ i, pad: 'x'.repeat(200) }));
    const append = await fetch(`${url}/streams/npm/ctrl-c`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    assert.equal(append.status, 201, await append.text());
    process.kill(-run.child.pid!, 'SIGINT');
    assert.equal(await run.exited, 0, run.output());
    assert.doesNotMatch(run.output(), /again/);
    assert.equal(existsSync(join(dir, 'server.lock')), false);
  });
});

describe('npm run sample:sensors', () => {
  it('completes the graceful stop on one Ctrl-C (SIGINT to its process group) while busy; a restart restores that state', {
    timeout: 180_000,
  }, async () => {
    const dir = await tempDir('lfes-npm-sensors-');
    // As fast as it can (--rate 0): the event loop is busy when the signal comes.
    const busy = ['--data-dir', dir, '--rate', '0', '--capacity', '200000', '--snapshot-interval-ms', '500'];
    const run = npm(['run', 'sample:sensors', '--', ...busy], true);
    await run.waitFor(/^\[METRICS\] t=(?:[2-9]|\d\d)\.\d+s rate=[1-9]/m);
    // A terminal's Ctrl-C: SIGINT to every process of the foreground group (npm and the sample).
    process.kill(-run.child.pid!, 'SIGINT');
    assert.equal(await run.exited, 0, run.output());
    const lines = run.output().split('\n');
    assert.deepEqual(
      lines.filter((l) => l.startsWith('[STOP]')),
      ['[STOP] SIGINT: stopping the producer and writing a final snapshot'],
    );
    const exit = lines.find((l) => l.startsWith('[EXIT]'));
    assert.match(
      exit ?? '',
      /^\[EXIT\] appended [1-9]\d* readings .*snapshots written: [1-9]\d*, failed: 0$/,
    );
    const states = lines.filter((l) => l.startsWith('[STATE] '));
    assert.equal(states.length, 2, run.output());
    const saved = states[1]!;
    assert.ok((JSON.parse(saved.slice('[STATE] '.length)) as { readings: number }).readings > 0);

    const restart = npm(['run', 'sample:sensors', '--', '--data-dir', dir, '--duration-ms', '300']);
    assert.equal(await restart.exited, 0, restart.output());
    assert.match(restart.output(), /^\[BOOT\] partitions restored from snapshot: [1-8]$/m);
    assert.equal(
      restart
        .output()
        .split('\n')
        .find((l) => l.startsWith('[STATE] ')),
      saved,
      'the restart restores the state the stop printed',
    );
  });
});

describe('npm run sample:sensors-api and sample:dashboard', () => {
  const servers: [string, string, string[], RegExp][] = [
    [
      'sample:sensors-api',
      'lfes-npm-sensors-api-',
      ['--port', '0'],
      /^\[EXIT\] readings held: 0; .*failed: 0/m,
    ],
    ['sample:dashboard', '', ['--port', '0'], /^SIGINT: closing$/m],
  ];
  for (const [script, prefix, args, stopped] of servers) {
    it(`${script} stops once and exits 0 on one Ctrl-C (SIGINT to its process group)`, {
      timeout: 60_000,
    }, async () => {
      const data = prefix === '' ? [] : ['--data-dir', await tempDir(prefix)];
      const run = npm(['run', script, '--', ...args, ...data], true);
      await run.waitFor(/listening on http:\/\/\S+/);
      process.kill(-run.child.pid!, 'SIGINT');
      // npm's relayed copy of the Ctrl-C may come after the stop: it must neither kill nor fail it.
      assert.equal(await run.exited, 0, run.output());
      assert.match(run.output(), stopped);
      assert.doesNotMatch(run.output(), /again/);
    });
  }
});

describe('default ports', () => {
  it('npm start and every sample have different default ports, none of them 5000 or 7000 (macOS AirPlay)', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const startPort = /--port (\d+)/.exec(pkg.scripts.start ?? '');
    assert.ok(startPort, 'npm start names its port');
    const defaults: [string, number][] = [
      ['npm start', Number(startPort[1])],
      ['sample:gateway nginx', LOCAL_TOPOLOGY.nginxPort],
      ['sample:gateway event store', LOCAL_TOPOLOGY.storePort],
      ...LOCAL_TOPOLOGY.gatewayPorts.map((p, i): [string, number] => [`sample:gateway gateway${i + 1}`, p]),
      ['sample:sensors-api', SENSOR_API_DEFAULT_PORT],
      ['sample:dashboard', DASHBOARD_DEFAULT_PORT],
      ['sample:cluster nginx', LOCAL_CLUSTER_TOPOLOGY.nginxPort],
      ...LOCAL_CLUSTER_TOPOLOGY.storePorts.map((p, i): [string, number] => [
        `sample:cluster store-${i + 1}`,
        p,
      ]),
      ...LOCAL_CLUSTER_TOPOLOGY.natsPorts.flatMap((p, i): [string, number][] => [
        [`sample:cluster nats-${i + 1}`, p],
        [`sample:cluster nats-${i + 1} routes`, p + LOCAL_CLUSTER_TOPOLOGY.routeOffset],
        [`sample:cluster nats-${i + 1} monitoring`, p + LOCAL_CLUSTER_TOPOLOGY.monitorOffset],
      ]),
    ];
    const byPort = new Map<number, string[]>();
    for (const [name, port] of defaults) byPort.set(port, [...(byPort.get(port) ?? []), name]);
    assert.deepEqual(
      [...byPort.values()].filter((names) => names.length > 1),
      [],
      'two defaults share a port',
    );
    for (const [name, port] of defaults) {
      assert.ok(Number.isInteger(port) && port > 1024 && port < 65_536, `${name}: ${port}`);
      assert.ok(port !== 5000 && port !== 7000, `${name} uses ${port}, taken by AirPlay on macOS`);
    }

    // Documented where a user looks: a row of the README's table of defaults, and each sample's README.
    const documents = (file: string, row: RegExp, what: string): void => {
      const text = readFileSync(join(root, file), 'utf8');
      assert.ok(row.test(text), `${file} documents ${what} (no line matches ${row})`);
    };
    for (const [name, port] of defaults) {
      documents('README.md', new RegExp(`^\\|[^\\n]*${name.split(' ')[0]}[^\\n]*\\b${port}\\b`, 'm'), name);
    }
    const storePort = LOCAL_TOPOLOGY.storePort;
    documents(
      'samples/gateway/README.md',
      new RegExp(`^\\| \`--store-port\`.*\\| \`${storePort}\` \\|$`, 'm'),
      'the store port',
    );
    documents(
      'samples/snapshot-sensors-api/README.md',
      new RegExp(`^\\| \`--port <n>\`.*\\b${SENSOR_API_DEFAULT_PORT} \\|$`, 'm'),
      'its port',
    );
    documents(
      'samples/metrics-dashboard/README.md',
      new RegExp(`^\\| \`--port <n>\`.*\\| \`${DASHBOARD_DEFAULT_PORT}\` \\|`, 'm'),
      'its port',
    );
  });
});
