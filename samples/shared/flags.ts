// Command-line flags of the topology scripts: a malformed or unknown flag, or a bad value, prints the
// problem and the script's usage and exits 2.

import { type ParseArgsConfig, parseArgs } from 'node:util';

export function flagParser(usage: string) {
  const fail = (message: string): never => {
    console.error(`${message}\n\n${usage}`);
    process.exit(2);
  };
  return {
    fail,
    /** parseArgs (strict, no positionals) with a usage error instead of an exception. */
    parse<T extends NonNullable<ParseArgsConfig['options']>>(options: T) {
      try {
        return parseArgs({ options, strict: true });
      } catch (err) {
        return fail((err as Error).message);
      }
    },
    /** A TCP port, 1-65535 (0 too when `allowZero`: any free port). */
    port(name: string, text: string, allowZero: boolean): number {
      const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : Number.NaN;
      if (!(n <= 65_535 && (n > 0 || (allowZero && n === 0)))) fail(`bad ${name} ${JSON.stringify(text)}`);
      return n;
    },
  };
}
