// What the `lockfree-eventstore` commands share: the usage error that main.ts answers with the usage
// text and exit status 2, the readers of option values, short file-error reasons, and the output sink
// (main.ts passes stdout and stderr). Nothing here reads argv or exits.

/** Where a command prints: data to `out` (stdout), diagnostics to `err` (stderr), a line at a time. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** A bad command line: main.ts prints the message, then the usage, and exits 2. */
export class UsageError extends Error {}

/** The value of an integer option, or `undefined` when the option is absent. */
export function integerArg(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]+$/.test(text))
    throw new UsageError(`--${name} must be a non-negative integer, received ${text}`);
  return Number(text);
}

/**
 * The message of a usage error in our own words, or `undefined` when `err` is not one. Node's
 * parseArgs errors (code ERR_PARSE_ARGS_…) are reworded: their text suggests `--` quoting and
 * names no command.
 */
export function usageMessage(err: unknown): string | undefined {
  if (err instanceof UsageError) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) return undefined;
  const message = (err as Error).message;
  const quoted = /'([^']*)'/.exec(message)?.[1];
  if (quoted === undefined) return message;
  const option = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quoted}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (message.includes('argument missing')) return `${option} needs a value`;
      if (message.includes('ambiguous'))
        return `${option} needs a value (write ${option}=<value> for one that starts with -)`;
      if (message.includes('does not take')) return `${option} takes no value`;
      return message;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted}`;
    default:
      return message;
  }
}

/** A short reason for a failed file-system call: "no such file or directory", "permission denied"… */
export function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'not a directory';
    default:
      return e.message;
  }
}
