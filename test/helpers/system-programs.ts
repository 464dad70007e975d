// The system programs some tests drive: nginx (the gateway sample, the cluster topology), Chromium
// (the metrics dashboard page), libfiu's fiu-run/fiu-ctrl (the fault injection tests) and nats-server
// (cluster mode's JetStream log), installed from the system's
// packages (`.ci/run` installs them). Each is looked up on PATH (nginx also in the sbin directories),
// so hiding a binary makes it missing. When one is missing, its tests are reported as skipped with the
// command that installs it; under CI (env CI set, as `.ci/run` does) they fail instead, naming the
// program, so a CI machine without them cannot pass by skipping. A test that needs one starts with
// `if (program.skip) return t.skip(program.skip);` and then runs `program.path()`.

import { findExecutable, notFoundMessage, SBIN_DIRS } from '../../samples/shared/executables.ts';

export interface SystemProgram {
  /** Its name in messages. */
  name: string;
  /** The executables it provides that the tests run; all must be found. */
  commands: readonly string[];
  /** Directories searched after PATH. */
  extraDirs?: readonly string[];
  /** The command that installs it on Debian (the CI machine's system). */
  install: string;
}

export const NGINX: SystemProgram = {
  name: 'nginx',
  commands: ['nginx'],
  extraDirs: SBIN_DIRS,
  install: 'apt-get install -y nginx',
};

export const CHROMIUM: SystemProgram = {
  name: 'Chromium',
  commands: ['chromium'],
  install: 'apt-get install -y chromium',
};

export const LIBFIU: SystemProgram = {
  name: 'libfiu',
  commands: ['fiu-run', 'fiu-ctrl'],
  install: 'apt-get install -y fiu-utils',
};

export const NATS_SERVER: SystemProgram = {
  name: 'nats-server',
  commands: ['nats-server'],
  extraDirs: SBIN_DIRS,
  install: 'apt-get install -y nats-server',
};

/** Under CI a missing program fails its tests: `CI` set to anything but empty, `0` or `false`. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return ci !== '' && ci !== '0' && ci !== 'false';
}

export interface FoundProgram {
  /**
   * Why the tests that need the program are skipped (its install command included) when it is
   * missing outside CI, for `t.skip()`; otherwise `false`.
   */
  skip: string | false;
  /** Why the program is unusable, or `undefined` when every command was found. */
  missing: string | undefined;
  /**
   * The absolute path of `command` (default: the program's first). When the program is missing this
   * throws, naming it and its install command: call it in the test or its `before` hook, so that
   * under CI (where `skip` is false) the tests fail.
   */
  path(command?: string): string;
}

/** Looks the program's commands up now (PATH as it is; hiding a binary makes it missing). */
export function systemProgram(program: SystemProgram, env: NodeJS.ProcessEnv = process.env): FoundProgram {
  const extraDirs = program.extraDirs ?? [];
  const paths = new Map<string, string>();
  const notFound: string[] = [];
  for (const command of program.commands) {
    const path = findExecutable(command, extraDirs, env.PATH ?? '');
    if (path === undefined) notFound.push(notFoundMessage(command, extraDirs));
    else paths.set(command, path);
  }
  const missing =
    notFound.length === 0
      ? undefined
      : `${program.name} is not installed (${notFound.join(', ')}); install it with: ${program.install}`;
  return {
    missing,
    skip: missing !== undefined && !inCI(env) ? missing : false,
    path(command = program.commands[0]!) {
      if (missing !== undefined) {
        throw new Error(
          inCI(env) ? `${missing} (CI is set: a missing program fails the tests that need it)` : missing,
        );
      }
      const path = paths.get(command);
      if (path === undefined) throw new Error(`${command} is not a command of ${program.name}`);
      return path;
    },
  };
}
