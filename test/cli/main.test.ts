import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/ports.ts';
import { removeTempDir, tempDir } from '../helpers/temp-dir.ts';
import { runCli } from './run-cli.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('lockfree-eventstore (the command line)', () => {
  it('prints the package version for --version and -v, from src and from the built dist/, and exits 0', async () => {
    for (const built of [false, true]) {
      for (const flag of ['--version', '-v']) {
        const r = await runCli([flag], { built });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, `${version}\n`, `${flag}${built ? ' (dist)' : ''}`);
      }
    }
  });

  it('documents every command in --help', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.status, 0);
    for (const line of [
      'lockfree-eventstore serve',
      'lockfree-eventstore snapshot inspect <file...>',
      'lockfree-eventstore journal inspect <file...>',
      'lockfree-eventstore data streams <dir>',
      'lockfree-eventstore data read <dir> <stream> [--from <offset>] [--limit <n>]',
      'lockfree-eventstore --version, -v',
      'Exit status:',
    ]) {
      assert.ok(r.stdout.includes(line), `--help lacks ${line}`);
    }
  });

  it('answers an unknown option with its own message and the usage, exit 2, for every command', async () => {
    for (const args of [
      ['--bogus'],
      ['snapshot', 'inspect', 'x.snap', '-x'],
      ['data', 'streams', '.', '--nope'],
      ['serve', '--bogus'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.status, 2, args.join(' '));
      const option = args[args.length - 1]!;
      assert.ok(
        r.stderr.startsWith(`unknown option ${option}\n\nUsage:\n`),
        `${args.join(' ')}: ${r.stderr}`,
      );
      assert.doesNotMatch(r.stderr, /To specify a positional argument/);
      assert.equal(r.stdout, '');
    }
  });

  it('says what is missing from a command line, with the usage, exit 2', async () => {
    const cases: [string[], string][] = [
      [[], 'missing command'],
      [['snapshot', 'inspect'], 'snapshot inspect needs at least one file'],
      [['journal', 'inspect', '--json'], 'journal inspect needs at least one file'],
      [['snapshot', 'frobnicate'], 'unknown command snapshot frobnicate'],
      [['serve', '--port'], '--port needs a value'],
      [['serve', '--port', '-3'], '--port needs a value (write --port=<value> for one that starts with -)'],
      [['serve', '--port=-3'], '--port must be a non-negative integer, received -3'],
      [['data'], 'data needs a command: streams or read'],
      [['data', 'streams'], 'data streams needs exactly one argument: the data directory'],
      [['data', 'read', 'dir'], 'data read needs two arguments: the data directory and the stream name'],
      [['data', 'read', 'dir', 's', '--from'], '--from needs a value'],
      [
        ['data', 'read', 'dir', 's', '--limit', '-3'],
        '--limit needs a value (write --limit=<value> for one that starts with -)',
      ],
      [['data', 'read', 'dir', 's', '--limit=-3'], '--limit must be a non-negative integer, received -3'],
      [
        ['data', 'read', 'dir', 's', '--limit', 'ten'],
        '--limit must be a non-negative integer, received ten',
      ],
      [['data', 'streams', 'dir', '--from', '3'], '--from applies to data read, not data streams'],
      [['--json', '--json=yes'], '--json takes no value'],
      [
        ['serve', '--start-timeout-ms', '5000'],
        '--replicas, --node-id and --start-timeout-ms apply to cluster mode: give --cluster too',
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n')[0], message, args.join(' '));
      assert.match(r.stderr, /\n\nUsage:\n/);
    }
  });

  it('reports a file that is not there in one line, and exits 1, going on with the other files', async () => {
    const missing = '/nonexistent/lfes/0_1_2.snap';
    const r = await runCli(['snapshot', 'inspect', missing, 'package.json']);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], `${missing}: cannot read: no such file or directory`);
    assert.match(lines[1]!, /^package\.json: unknown, \d+ bytes, INVALID$/);
    assert.equal(r.stderr, '');
    const json = await runCli(['journal', 'inspect', '--json', missing]);
    assert.equal(json.status, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      file: missing,
      kind: 'unreadable',
      valid: false,
      bytes: 0,
      details: {},
      error: 'no such file or directory',
    });
  });

  it('gives up starting a cluster node whose NATS servers never answer after --start-timeout-ms: exit 1, ES_ERR_LOG_UNAVAILABLE, no data directory left', {
    timeout: 60_000,
  }, async () => {
    // One server refuses connections (nothing listens), the other accepts them and never speaks.
    const closed = await freePort();
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const parent = await tempDir('lfes-cluster-start-');
    const dataDir = join(parent, 'data');
    try {
      const r = await runCli([
        'serve',
        ...['--port', '0', '--data-dir', dataDir, '--log-level', 'error'],
        ...['--cluster', `nats://127.0.0.1:${closed},nats://127.0.0.1:${silentPort}`],
        ...['--start-timeout-ms', '3000'],
      ]);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(
        // Which server the client tried last (it shuffles them) decides the last error.
        r.stderr.replace(/:\d+/g, ':<port>').replace(/\(last: [^)]+\)/, '(last: <error>)'),
        'lockfree-eventstore: cannot start the cluster node: no NATS server of nats://127.0.0.1:<port>, ' +
          'nats://127.0.0.1:<port> accepted a connection within 3000 ms (last: <error>) ' +
          '(ES_ERR_LOG_UNAVAILABLE)\n',
      );
      assert.doesNotMatch(r.stderr, /listening on/);
      assert.equal(existsSync(dataDir), false, 'the data directory it created is gone');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await removeTempDir(parent);
    }
  });
});
