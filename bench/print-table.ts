// Prints the tables of every bench/results/*.json as markdown, or with `--write` puts them into
// BENCHMARKS.md between the `<!-- results:start -->` and `<!-- results:end -->` markers.
// Usage: node --import tsx bench/print-table.ts [--write]

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resultMarkdown } from './lib/markdown.ts';
import { readAllResults } from './lib/results.ts';

const START = '<!-- results:start -->';
const END = '<!-- results:end -->';
const DOC = join(dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');

const results = readAllResults();
const body =
  results.length === 0 ? '_No results yet: run `npm run bench`._' : results.map(resultMarkdown).join('\n\n');

if (process.argv.includes('--write')) {
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`BENCHMARKS.md must contain ${START} … ${END}`);
  writeFileSync(DOC, `${doc.slice(0, a + START.length)}\n\n${body}\n\n${doc.slice(b)}`);
  console.log(`BENCHMARKS.md: tables of ${results.length} result file(s) written`);
} else {
  console.log(body);
}
