// samples/gateway end to end: the deployment files agree with the script's topology, and the
// topology started by start-topology.ts (store + 3 gateways + the machine's nginx) keeps every
// acknowledged order exactly once through 10 000 concurrent orders while one gateway is SIGKILLed.
// Without nginx that part is skipped, with its install command (under CI it fails), and the script
// must refuse to start anything. Then a gateway alone against an unreachable store: 502
// problem+json, and a graceful SIGTERM.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMPOSE_TOPOLOGY, composeNginxConfig, LOCAL_TOPOLOGY } from '../../samples/gateway/nginx-config.ts';
import { EventStoreClient, type StreamEvent } from '../../src/client/index.ts';
import { refusedPort } from '../helpers/ports.ts';
import { get, post } from '../helpers/server.ts';
import { NGINX, systemProgram } from '../helpers/system-programs.ts';
import { startTopology, type Topology } from '../helpers/topology.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** `nginx.skip`: why the topology tests are skipped (outside CI, without nginx), else false. */
const nginx = systemProgram(NGINX);
const STREAM = 'gateway/orders';

interface Order {
  id: string;
  valor: number;
  gatewayId: string;
  timestamp: number;
}

interface OrderAnswer {
  gatewayId: string;
  offset: number;
  duplicate: boolean;
  order: Order | null;
}

type Totals = Record<string, { count: number; sum: number }>;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tally(orders: Iterable<Order>): Totals {
  const out: Totals = {};
  for (const o of orders) {
    const t = (out[o.gatewayId] ??= { count: 0, sum: 0 });
    t.count++;
    t.sum += o.valor;
  }
  return out;
}

async function readAll(es: EventStoreClient): Promise<StreamEvent<Order>[]> {
  const events: StreamEvent<Order>[] = [];
  for await (const ev of es.read<Order>(STREAM, { from: 0, limit: 10_000 })) events.push(ev);
  return events;
}

/** The services of docker-compose.yml, each with its indented text block. */
function composeServices(text: string): Map<string, string> {
  const section = /^services:\n([\s\S]*?)(?=^\S)/m.exec(text)?.[1] ?? '';
  const services = new Map<string, string>();
  const parts = section.split(/^ {2}([A-Za-z0-9_-]+):[ \t]*\n/m);
  for (let i = 1; i < parts.length; i += 2) services.set(parts[i]!, parts[i + 1]!);
  return services;
}

describe('samples/gateway deployment files', () => {
  it('docker-compose.yml, nginx.conf and the script describe the same topology', async () => {
    const dir = `${root}samples/gateway/`;
    const compose = await readFile(`${dir}docker-compose.yml`, 'utf8');
    const nginxConf = await readFile(`${dir}nginx.conf`, 'utf8');
    const services = composeServices(compose);
    const gatewayNames = [...COMPOSE_TOPOLOGY.gateways];
    assert.deepEqual([...services.keys()], ['eventstore', ...gatewayNames, 'nginx']);
    assert.equal(
      LOCAL_TOPOLOGY.gatewayPorts.length,
      gatewayNames.length,
      'the script starts as many gateways',
    );

    assert.match(compose, /^x-gateway: &gateway\n[\s\S]*?dockerfile: samples\/gateway\/Dockerfile$/m);
    for (const name of gatewayNames) {
      const block = services.get(name)!;
      assert.match(block, /^ {4}<<: \*gateway$/m, name);
      assert.match(block, new RegExp(`^ {6}GATEWAY_ID: ${name}$`, 'm'));
      assert.match(block, /^ {6}EVENTSTORE_URL: http:\/\/eventstore:7070$/m);
      assert.match(block, new RegExp(`^ {6}PORT: "${COMPOSE_TOPOLOGY.gatewayPort}"$`, 'm'));
    }
    const store = services.get('eventstore')!;
    assert.match(store, /dockerfile: Dockerfile$/m);
    assert.match(store, /"--port", "7070"/);
    assert.match(store, /"--host", "0\.0\.0\.0"/);

    const nginx = services.get('nginx')!;
    assert.match(nginx, /^ {4}image: nginx:stable$/m);
    const published = /^ {6}- "(\d+):(\d+)"$/m.exec(nginx);
    assert.ok(published, 'nginx publishes a port');
    assert.equal(Number(published[1]), COMPOSE_TOPOLOGY.publishedNginxPort);
    assert.equal(Number(published[1]), LOCAL_TOPOLOGY.nginxPort, 'the script uses the published port');
    assert.match(nginx, /^ {6}- \.\/nginx\.conf:\/etc\/nginx\/nginx\.conf:ro$/m);
    for (const name of gatewayNames) assert.match(nginx, new RegExp(`^ {6}${name}:$`, 'm'));

    // nginx.conf is the rendered template, listens on the container port and balances the gateways.
    assert.equal(nginxConf, composeNginxConfig());
    assert.deepEqual(
      [...nginxConf.matchAll(/^\s*listen (\S+);$/gm)].map((m) => m[1]),
      [published[2]],
    );
    const upstreams = [...nginxConf.matchAll(/^\s*server (\S+) max_fails=1 fail_timeout=5s;$/gm)];
    assert.deepEqual(
      upstreams.map((m) => m[1]),
      gatewayNames.map((g) => `${g}:${COMPOSE_TOPOLOGY.gatewayPort}`),
    );
    assert.match(nginxConf, /^\s*proxy_next_upstream error timeout;$/m);
    const directives = nginxConf.replace(/#.*$/gm, '');
    assert.doesNotMatch(directives, /non_idempotent|\bresolve\b/, 'stock nginx, POSTs never resent');
  });

  it('the Dockerfiles build unprivileged images with health checks', async () => {
    const store = await readFile(`${root}Dockerfile`, 'utf8');
    const gateway = await readFile(`${root}samples/gateway/Dockerfile`, 'utf8');
    for (const file of [store, gateway]) {
      assert.match(file, /^FROM node:20-slim/m);
      assert.match(file, /^USER node$/m);
      assert.match(file, /^HEALTHCHECK .*\n\s+CMD \["node", "-e", "fetch\(/m);
    }
    assert.match(store, /^EXPOSE 7070$/m);
    assert.match(
      store,
      /^CMD \["serve", "--host", "0\.0\.0\.0", "--port", "7070", "--data-dir", "\/data"\]$/m,
    );
    assert.match(gateway, /^EXPOSE 8080$/m);
    assert.match(gateway, /^CMD \["node", "--import", "tsx", "samples\/gateway\/main\.ts"\]$/m);
  });
});

describe('samples/gateway topology through nginx (start-topology.ts)', () => {
  let topo: Topology;
  let es: EventStoreClient;
  const VICTIM = 'gateway2';

  before(async () => {
    if (nginx.skip) return; // each test below reports itself skipped, with nginx's install command
    topo = await startTopology(['--stream-capacity', '50000']);
    es = new EventStoreClient(topo.store.url);
  });
  after(() => topo?.forceKill());

  it('serves /health through nginx, from a generated config that passes nginx -t', async (t: TestContext) => {
    if (nginx.skip) return t.skip(nginx.skip);
    assert.deepEqual([...topo.gateways.keys()], ['gateway1', 'gateway2', 'gateway3']);
    const health = await get(`${topo.nginx.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.ok(topo.gateways.has(String(health.body.gatewayId)));

    const config = await readFile(topo.nginx.configFile, 'utf8');
    assert.match(config, new RegExp(`listen ${new URL(topo.nginx.url).host};`));
    for (const g of topo.gateways.values()) assert.ok(config.includes(`server ${new URL(g.url).host} `));
    const prefix = dirname(topo.nginx.configFile);
    const check = spawnSync(nginx.path(), ['-t', '-c', topo.nginx.configFile, '-p', prefix, '-e', 'stderr']);
    assert.equal(check.status, 0, check.stderr.toString());
    assert.match(check.stderr.toString(), /test is successful/);
  });

  it('answers bad input with 400 problem+json and stores nothing', async (t: TestContext) => {
    if (nginx.skip) return t.skip(nginx.skip);
    const bad: [string, string][] = [
      ['/orders', '{'],
      ['/orders', '[1]'],
      ['/orders', '{"valor":0}'],
      ['/orders', '{"valor":1.5}'],
      ['/orders', '{"valor":"5"}'],
      ['/orders', '{"id":""}'],
      ['/orders', '{"id":"a b"}'],
      ['/orders', '{"valor":5,"gatewayId":"x"}'],
      ['/orders/bulk', ''],
      ['/orders/bulk?n=0', ''],
      ['/orders/bulk?n=10001', ''],
      ['/orders/bulk?n=abc', ''],
      ['/orders/bulk?n=1.5', ''],
      ['/orders/bulk?n=-1', ''],
    ];
    for (const [path, body] of bad) {
      const res = await post(`${topo.nginx.url}${path}`, body);
      assert.equal(res.status, 400, `${path} ${body}`);
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.match(String(res.body.code), /^ES_ERR_(BAD_REQUEST|INVALID_JSON)$/);
      assert.equal(typeof res.body.detail, 'string');
    }
    assert.equal((await post(`${topo.nginx.url}/orders`, '{')).body.code, 'ES_ERR_INVALID_JSON');
    const wrongMethod = await get(`${topo.nginx.url}/orders`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    assert.equal((await get(`${topo.nginx.url}/nope`)).status, 404);
    const global = await get(`${topo.nginx.url}/stats/global`);
    assert.deepEqual(global.body, { totalEvents: 0, totalValor: 0, gateways: {} });
  });

  it('stores 10 000 concurrent orders exactly once while one gateway is SIGKILLed midway', async (t: TestContext) => {
    if (nginx.skip) return t.skip(nginx.skip);
    const ORDERS = 10_000;
    const LOOPS = 48;
    const KILL_AFTER = 4_000;
    const MAX_ATTEMPTS = 40;
    const acks = new Map<string, OrderAnswer>();
    const requested = new Map<string, number>();
    const errored = new Set<string>();
    const refused: string[] = [];
    const retryCauses: Record<string, number> = {};
    let retries = 0;
    let next = 0;
    let acksAtKill = -1;
    const started = performance.now();
    const loop = async (): Promise<void> => {
      while (next < ORDERS) {
        const i = next++;
        const id = `load-${i}`;
        const valor = 1 + ((i * 7919) % 4999);
        requested.set(id, valor);
        const body = JSON.stringify({ id, valor });
        for (let attempt = 1; ; attempt++) {
          let cause: string;
          try {
            const res = await fetch(`${topo.nginx.url}/orders`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
              signal: AbortSignal.timeout(30_000),
            });
            const text = await res.text();
            if (res.status === 200 || res.status === 201) {
              acks.set(id, JSON.parse(text) as OrderAnswer);
              break;
            }
            if (res.status < 500) {
              refused.push(`${id}: ${res.status} ${text}`);
              break;
            }
            cause = `HTTP ${res.status}`;
          } catch (err) {
            const e = err as Error & { cause?: { code?: string } };
            cause = e.cause?.code ?? e.name;
          }
          // Same id, same body: whichever gateway gets the retry, the order is stored once.
          retries++;
          retryCauses[cause] = (retryCauses[cause] ?? 0) + 1;
          if (attempt >= MAX_ATTEMPTS) {
            errored.add(id);
            break;
          }
          await sleep(Math.min(500, 10 * attempt));
        }
        if (acksAtKill < 0 && acks.size >= KILL_AFTER) {
          acksAtKill = acks.size;
          process.kill(topo.gateways.get(VICTIM)!.pid, 'SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: LOOPS }, loop));
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `${ORDERS} orders through nginx in ${seconds.toFixed(1)} s (${Math.round(ORDERS / seconds)} orders/s), ` +
        `${LOOPS} client loops; ${VICTIM} SIGKILLed after ${acksAtKill} acks; retries ${retries} ` +
        `${JSON.stringify(retryCauses)}; answered as duplicates ${[...acks.values()].filter((a) => a.duplicate).length}; ` +
        `errored ${errored.size}`,
    );
    assert.deepEqual(refused, [], 'no order was refused');
    assert.ok(acksAtKill >= KILL_AFTER, 'the gateway was killed');
    assert.equal(acks.size + errored.size, ORDERS);

    const events = await readAll(es);
    assert.equal(
      events.findIndex((ev, i) => ev.offset !== i),
      -1,
      'offsets are contiguous from 0',
    );
    const offsetsById = new Map<string, number[]>();
    for (const ev of events) offsetsById.set(ev.data.id, [...(offsetsById.get(ev.data.id) ?? []), ev.offset]);
    const duplicated = [...offsetsById].filter(([, offsets]) => offsets.length > 1);
    assert.deepEqual(duplicated, [], 'no order id is stored twice');
    for (const [id, ack] of acks) {
      const stored = events[offsetsById.get(id)?.[0] ?? -1];
      assert.ok(stored, `acknowledged ${id} is stored`);
      assert.equal(ack.offset, stored.offset, id);
      assert.deepEqual(ack.order, stored.data, id);
      assert.equal(stored.data.valor, requested.get(id), id);
    }
    const unacknowledged = [...offsetsById.keys()].filter((id) => !acks.has(id));
    t.diagnostic(
      `stored but never acknowledged: ${unacknowledged.length}; errored requests: ${errored.size}`,
    );
    for (const id of unacknowledged) assert.ok(errored.has(id), `${id} is stored but was never acknowledged`);

    // /stats/global is the store's aggregation: it matches the stream, every live gateway's
    // /stats/local, and for the killed gateway the orders acknowledged to the client on its behalf.
    const global = (await get(`${topo.nginx.url}/stats/global`)).body as {
      totalEvents: number;
      totalValor: number;
      gateways: Totals;
    };
    const stored = tally(events.map((e) => e.data));
    assert.equal(global.totalEvents, events.length);
    assert.equal(
      global.totalValor,
      events.reduce((s, e) => s + e.data.valor, 0),
    );
    assert.deepEqual(global.gateways, stored);
    for (const [id, g] of topo.gateways) {
      if (id === VICTIM) continue;
      const local = (await get(`${g.url}/stats/local`)).body;
      assert.deepEqual(
        { count: local.sent, sum: local.sum },
        global.gateways[id] ?? { count: 0, sum: 0 },
        id,
      );
    }
    const ackedOrders = [...acks.values()].map((a) => a.order!);
    const storedErrored = events.filter((e) => errored.has(e.data.id)).map((e) => e.data);
    const victimTally = tally([...ackedOrders, ...storedErrored])[VICTIM];
    assert.ok(victimTally !== undefined && victimTally.count > 0, 'the killed gateway had stored orders');
    assert.deepEqual(global.gateways[VICTIM], victimTally);
    await assert.rejects(fetch(`${topo.gateways.get(VICTIM)!.url}/health`), 'the victim is dead');
  });

  it('stores an order id once when its retry reaches another gateway', async (t: TestContext) => {
    if (nginx.skip) return t.skip(nginx.skip);
    const [a, b] = [...topo.gateways].filter(([id]) => id !== VICTIM);
    const [idA, gwA] = a!;
    const [, gwB] = b!;
    const first = await post(`${gwA.url}/orders`, { id: 'retry-1', valor: 77 });
    assert.equal(first.status, 201);
    const localB = (await get(`${gwB.url}/stats/local`)).body;
    const again = await post(`${gwB.url}/orders`, { id: 'retry-1', valor: 77 });
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.offset, first.body.offset);
    assert.deepEqual(again.body.order, first.body.order);
    assert.equal((again.body.order as Order).gatewayId, idA);
    const noValor = await post(`${gwB.url}/orders`, { id: 'retry-1' });
    assert.equal(noValor.status, 200);
    assert.equal((noValor.body.order as Order).valor, 77);
    const otherValor = await post(`${gwB.url}/orders`, { id: 'retry-1', valor: 78 });
    assert.equal(otherValor.status, 409);
    assert.equal(otherValor.body.code, 'ES_ERR_IDEMPOTENCY_CONFLICT');
    assert.deepEqual((await get(`${gwB.url}/stats/local`)).body, localB, 'a duplicate is not counted again');

    const bulk = await post(`${topo.nginx.url}/orders/bulk?n=50`, '');
    assert.equal(bulk.status, 200);
    assert.deepEqual([bulk.body.requested, bulk.body.succeeded, bulk.body.failed], [50, 50, 0]);
    const events = await readAll(es);
    assert.equal(events.filter((e) => e.data.id === 'retry-1').length, 1);
    const global = (await get(`${topo.nginx.url}/stats/global`)).body;
    assert.equal(global.totalEvents, events.length);
  });

  it('stops nginx, the gateways and the store on SIGTERM', async (t: TestContext) => {
    if (nginx.skip) return t.skip(nginx.skip);
    topo.child.kill('SIGTERM');
    assert.equal(await topo.exited, 0, topo.output());
    assert.match(topo.output(), /^topology stopped$/m);
    for (const [id, g] of topo.gateways) {
      if (id !== VICTIM) assert.match(topo.output(), new RegExp(`\\[${id}\\] ${id} stopped \\(SIGTERM\\)`));
      if (id !== VICTIM) assert.throws(() => process.kill(g.pid, 0), { code: 'ESRCH' });
    }
    for (const pid of [topo.nginx.pid, topo.store.pid])
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
  });
});

describe('samples/gateway without nginx', () => {
  const cases: [string, string[], NodeJS.ProcessEnv, RegExp][] = [
    [
      '--nginx <missing path>',
      ['--nginx', '/nonexistent/lfes/nginx'],
      {},
      /^nginx not found: no executable file at \/nonexistent\/lfes\/nginx\.$/m,
    ],
    [
      'NGINX_BIN=<a name on no search path>',
      [],
      { NGINX_BIN: 'lfes-no-such-nginx' },
      /^nginx not found: no lfes-no-such-nginx on PATH or in \/usr\/local\/sbin, \/usr\/sbin, \/sbin\.$/m,
    ],
  ];
  for (const [what, args, env, message] of cases) {
    it(`with ${what}, exits 1 before starting anything and says how to install nginx`, async () => {
      const started = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'samples/gateway/start-topology.ts', '--store-port', '0', ...args],
        { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(started.status, 1, started.stderr);
      assert.match(started.stderr, message);
      assert.match(started.stderr, /sudo apt-get install -y nginx/);
      assert.match(started.stderr, /--nginx <path> \(env NGINX_BIN\)/);
      assert.equal(started.stdout, '', 'nothing was started');
      assert.doesNotMatch(started.stderr, /\[eventstore\]|\[gateway\d\]/);
    });
  }
});

describe('samples/gateway with an unreachable event store', () => {
  it('answers 502 problem+json with the store code and drains on SIGTERM', async () => {
    const dead = await refusedPort();
    const deadStore = `http://127.0.0.1:${dead.port}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'samples/gateway/main.ts', '--port', '0', '--gateway-id', 'lonely'],
      { cwd: root, env: { ...process.env, EVENTSTORE_URL: deadStore }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let output = '';
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | string>((resolve) =>
        child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
      );
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          output += c.toString();
          const m = /listening on (http:\/\/\S+)/.exec(output);
          if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`the gateway exited with ${code}: ${output}`)));
      });
      const order = await post(`${url}/orders`, { valor: 10 });
      assert.equal(order.status, 502);
      assert.equal(order.headers.get('content-type'), 'application/problem+json');
      assert.equal(order.body.code, 'ES_ERR_NETWORK');
      const global = await get(`${url}/stats/global`);
      assert.equal(global.status, 502);
      assert.equal(global.body.code, 'ES_ERR_NETWORK');
      assert.deepEqual((await get(`${url}/stats/local`)).body, { gatewayId: 'lonely', sent: 0, sum: 0 });

      // An order in flight (retrying the store with backoff) still gets its answer after SIGTERM.
      const inFlight = post(`${url}/orders`, { valor: 11 });
      await sleep(100);
      child.kill('SIGTERM');
      assert.equal((await inFlight).status, 502);
      assert.equal(await exited, 0);
      assert.match(output, /lonely stopped \(SIGTERM\)/);
    } finally {
      child.kill('SIGKILL');
      await dead.release();
    }
  });
});
