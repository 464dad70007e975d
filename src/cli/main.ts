#!/usr/bin/env node
// The `lockfree-eventstore` command. The only module that reads argv or calls process.exit.
//   lockfree-eventstore snapshot inspect <file...>   header, count and checksum verdict of snapshot files
//   lockfree-eventstore journal inspect <file...>    records and torn-tail verdict of journal segments

import { parseArgs } from 'node:util';
import { inspectFile } from './inspect.ts';

const USAGE = `Usage:
  lockfree-eventstore snapshot inspect <file...> [--json]   check snapshot files (header, count, checksum)
  lockfree-eventstore journal inspect <file...> [--json]    check journal segment files (records, torn tail)
  lockfree-eventstore --help

Exit status: 0 when every file is valid, 1 when one is not, 2 on a usage error.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } },
  });
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const [group, command, ...files] = positionals;
  if ((group === 'snapshot' || group === 'journal') && command === 'inspect' && files.length > 0) {
    let allValid = true;
    for (const file of files) {
      const report = await inspectFile(file);
      allValid &&= report.valid;
      if (values.json === true) {
        console.log(JSON.stringify(report));
        continue;
      }
      console.log(
        `${report.file}: ${report.kind}, ${report.bytes} bytes, ${report.valid ? 'VALID' : 'INVALID'}`,
      );
      for (const [k, v] of Object.entries(report.details))
        console.log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
      if (report.error !== undefined) console.log(`  error: ${report.error}`);
    }
    return allValid ? 0 : 1;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(2);
  },
);
