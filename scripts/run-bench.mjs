#!/usr/bin/env node
// Runs the benchmarks one after another, each in its own process through tsx, so one benchmark's
// heap and JIT state never colour the next. Then rebuilds the tables of BENCHMARKS.md.
// Usage: node scripts/run-bench.mjs [name ...]   (names like `core-append` or `bench/core-append.bench.ts`;
//        default: every bench/*.bench.ts, in name order). `--no-write` leaves BENCHMARKS.md alone.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const BENCH_DIR = 'bench';
const args = process.argv.slice(2);
const write = !args.includes('--no-write');
const names = args.filter((a) => !a.startsWith('--'));

const all = readdirSync(BENCH_DIR)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const files =
  names.length === 0
    ? all.map((f) => join(BENCH_DIR, f))
    : names.map((n) => {
        const file = n.endsWith('.bench.ts') ? n : join(BENCH_DIR, `${basename(n)}.bench.ts`);
        if (!existsSync(file)) {
          console.error(`no such benchmark: ${n} (have: ${all.join(', ')})`);
          process.exit(2);
        }
        return file;
      });

let failed = 0;
const started = Date.now();
for (const file of files) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', file], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`=== ${file} FAILED (exit ${result.status ?? result.signal})`);
  }
}
console.log(
  `\n${files.length - failed}/${files.length} benchmarks done in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);

if (write) {
  const table = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(BENCH_DIR, 'print-table.ts'), '--write'],
    {
      stdio: 'inherit',
    },
  );
  if (table.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
