// samples/cluster: the files docker-compose.yml mounts are exactly what the renderers make (the tests'
// own NATS and nginx configs come from the same renderers), and the compose file runs 3 NATS nodes
// and 3 store nodes that all name every NATS node.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { composeNatsConfigs } from '../../samples/cluster/nats-config.ts';
import { composeClusterNginxConfig } from '../../samples/cluster/nginx-config.ts';

const dir = new URL('../../samples/cluster/', import.meta.url);

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
