// samples/cluster: the files docker-compose.yml mounts are exactly what the renderers make (the tests'
// own NATS and nginx configs come from the same renderers), and the compose file runs 3 NATS nodes
// and 3 store nodes that all name every NATS node. And `npm run sample:cluster`, the same topology on
// the machine's nats-server and nginx, run the way its README says.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { composeNatsConfigs } from '../../samples/cluster/nats-config.ts';
import { composeClusterNginxConfig } from '../../samples/cluster/nginx-config.ts';
import { EventStoreClient } from '../../src/client/index.ts';
import { retryWhileAddressInUse } from '../helpers/ports.ts';
import { NATS_SERVER, NGINX, systemProgram } from '../helpers/system-programs.ts';

const dir = new URL('../../samples/cluster/', import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));

describe('samples/cluster', () => {
  it('ships the NATS and nginx configs its renderers make', () => {
    for (const { file, text } of composeNatsConfigs()) {
      assert.equal(
        readFileSync(new URL(file, dir), 'utf8'),
        text,
        `${file} is stale: npx tsx samples/cluster/nats-config.ts`,
      );
    }
    assert.equal(readFileSync(new URL('nginx.conf', dir), 'utf8'), composeClusterNginxConfig());
  });

  it('runs 3 NATS nodes and 3 store nodes that each name all 3 NATS nodes', () => {
    const compose = readFileSync(new URL('docker-compose.yml', dir), 'utf8');
    for (const n of [1, 2, 3]) {
      assert.match(compose, new RegExp(`^  nats-${n}:$`, 'm'));
      assert.match(compose, new RegExp(`^  store-${n}:$`, 'm'));
      assert.match(compose, new RegExp(`"--node-id",\\s*"store-${n}"`));
    }
    const clusterArgs = compose.match(/"--cluster",\s*"([^"]+)"/g) ?? [];
    assert.equal(clusterArgs.length, 3);
    for (const a of clusterArgs)
      assert.ok(a.includes('nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222'));
    for (const line of composeClusterNginxConfig()
      .split('\n')
      .filter((l) => l.includes('server store-'))) {
      assert.match(line, /store-[123]:7070/);
    }
  });
});

/** `npm run sample:cluster` in its own process group, as a terminal runs it. */
interface ClusterRun {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

function startSample(args: string[]): ClusterRun {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_update_notifier: 'false' };
  const child = spawn('npm', ['run', 'sample:cluster', '--', ...args], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, output: () => out, exited };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(
  what: string,
  check: () => boolean,
  output: () => string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm run sample:cluster (start-topology.ts)', () => {
  const nats = systemProgram(NATS_SERVER);
  const nginx = systemProgram(NGINX);
  const pids = new Set<number>();
  after(() => {
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  it('serves every acknowledged event from every node, survives kill -9 of a store node, and stops on one Ctrl-C', {
    timeout: 240_000,
  }, async (t) => {
    if (nats.skip) return t.skip(nats.skip);
    if (nginx.skip) return t.skip(nginx.skip);
    const run = await retryWhileAddressInUse(async () => {
      // Ports in a random block: nginx, 3 store nodes, 3 NATS client ports (+1000 routes, +2000 monitoring).
      const base = 20_000 + randomInt(0, 2_000) * 10;
      const r = startSample([
        '--nginx',
        nginx.path(),
        '--nats-server',
        nats.path(),
        '--nginx-port',
        String(base),
        '--store-ports',
        [base + 1, base + 2, base + 3].join(','),
        '--nats-ports',
        [base + 4, base + 5, base + 6].join(','),
      ]);
      if (r.child.pid !== undefined) pids.add(r.child.pid);
      const ready = await Promise.race([
        until('the topology is ready', () => /^ready:/m.test(r.output()), r.output).then(() => true),
        r.exited.then(() => false),
      ]);
      // An "address already in use" in the output makes retryWhileAddressInUse try other ports.
      if (!ready) throw new Error(`the script exited before it was ready:\n${r.output()}`);
      return r;
    });
    const out = run.output();
    const line = (name: string): { url: string; pid: number } => {
      const m = new RegExp(`^${name} +(\\S+) +pid (\\d+)`, 'm').exec(out);
      assert.ok(m, `no ${name} line in:\n${out}`);
      pids.add(Number(m[2]));
      return { url: m[1]!, pid: Number(m[2]) };
    };
    const nodes = ['nats-1', 'nats-2', 'nats-3', 'store-1', 'store-2', 'store-3', 'nginx'].map(line);
    const [, , , store1, store2, store3, front] = nodes;
    const runtimeDir = dirname(/config (\S+)/.exec(out)![1]!);

    // Through nginx: an idempotent producer, as a gateway would append.
    const producer = new EventStoreClient(front!.url).producer('sample-test', { epoch: 1 });
    for (let i = 0; i < 10; i++) await producer.append('orders', { i });
    for (const node of [store1!, store2!, store3!]) {
      const events = [];
      for await (const ev of new EventStoreClient(node.url).read<{ i: number }>('orders', { from: 0 }))
        events.push(ev);
      assert.deepEqual(
        events.map((e) => [e.offset, e.data.i]),
        Array.from({ length: 10 }, (_, i) => [i, i]),
        `${node.url} holds every acknowledged event at its offset`,
      );
    }

    process.kill(store2!.pid, 'SIGKILL');
    await until('store-2 is gone', () => !alive(store2!.pid), run.output, 10_000);
    for (let i = 10; i < 20; i++) await producer.append('orders', { i });
    for (const node of [store1!, store3!]) {
      const events = [];
      for await (const ev of new EventStoreClient(node.url).read<{ i: number }>('orders', { from: 0 }))
        events.push(ev);
      assert.deepEqual(
        events.map((e) => [e.offset, e.data.i]),
        Array.from({ length: 20 }, (_, i) => [i, i]),
        `${node.url} after kill -9 of store-2`,
      );
    }
    assert.match(run.output(), /\[store-2\] exited \(SIGKILL\)/);

    // One Ctrl-C: SIGINT to the whole foreground process group.
    process.kill(-run.child.pid!, 'SIGINT');
    assert.equal(await run.exited, 0, run.output());
    assert.match(run.output(), /^topology stopped$/m, 'every process stopped with exit 0');
    for (const n of nodes) assert.equal(alive(n.pid), false, `${n.url} (pid ${n.pid}) outlived the script`);
    assert.equal(existsSync(runtimeDir), false, 'the temp directory is removed');
  });
});
