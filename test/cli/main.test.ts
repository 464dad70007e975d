import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
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
});
