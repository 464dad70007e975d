// Finds a program the way a shell does: the first executable file of that name in the PATH
// directories, then in extra directories (nginx lives in an sbin directory, which a non-root user's
// PATH often lacks).

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** Where system daemons such as nginx are installed (Debian's, and a source build's /usr/local). */
export const SBIN_DIRS: readonly string[] = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** A regular file this process may execute. */
export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path of `command`, or `undefined` when there is none. A command with a `/` is a path,
 * checked as given; a bare name is looked up in `searchPath` (default: PATH), then in `extraDirs`.
 */
export function findExecutable(
  command: string,
  extraDirs: readonly string[] = [],
  searchPath: string = process.env.PATH ?? '',
): string | undefined {
  if (command.includes('/')) {
    const path = resolve(command);
    return isExecutableFile(path) ? path : undefined;
  }
  const dirs = [...searchPath.split(delimiter).filter((d) => d !== ''), ...extraDirs];
  for (const dir of dirs) {
    const candidate = resolve(join(dir, command));
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * What {@link findExecutable} did not find, for a message: `no nginx on PATH or in /usr/sbin, /sbin`,
 * or `no executable file at /opt/nginx/sbin/nginx`.
 */
export function notFoundMessage(command: string, extraDirs: readonly string[] = []): string {
  if (command.includes('/')) return `no executable file at ${resolve(command)}`;
  return `no ${command} on PATH${extraDirs.length === 0 ? '' : ` or in ${extraDirs.join(', ')}`}`;
}
