// `lockfree-eventstore --version`: the version of the installed package, read from its package.json
// (two folders up from this module, whether it runs from src/cli or dist/cli).

import { readFileSync } from 'node:fs';

/** The `version` field of the package's own package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
