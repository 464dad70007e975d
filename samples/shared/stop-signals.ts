// Stop signals, counted the way a user means them. Under `npm run` (and `npm start`) one Ctrl-C
// reaches a sample twice: the terminal signals its whole foreground process group (npm and the sample),
// and npm relays the signal to its script as well. A supervisor that signals a process tree (systemd's
// default KillMode, pm2) does the same. So a stop signal within SIGNAL_REPEAT_WINDOW_MS of the first
// is that same request; a later one is the user insisting.

/** How long after the first stop signal another one counts as the same request. */
export const SIGNAL_REPEAT_WINDOW_MS = 1_000;

export interface StopSignalHandlers {
  /** The first SIGINT or SIGTERM. */
  onStop(signal: NodeJS.Signals): void;
  /** A stop signal more than SIGNAL_REPEAT_WINDOW_MS after the first (e.g. exit at once). */
  onRepeat(signal: NodeJS.Signals): void;
}

/**
 * Listens for SIGINT and SIGTERM until the process exits: npm's relayed copy of a Ctrl-C may arrive
 * after the stop has finished, and without a listener it would kill the process (exit by SIGINT).
 * The listeners do not keep the process alive.
 */
export function onStopSignals(handlers: StopSignalHandlers): void {
  let firstAt: number | undefined;
  const listener = (signal: NodeJS.Signals): void => {
    const now = performance.now();
    if (firstAt === undefined) {
      firstAt = now;
      handlers.onStop(signal);
    } else if (now - firstAt > SIGNAL_REPEAT_WINDOW_MS) {
      handlers.onRepeat(signal);
    }
  };
  process.on('SIGINT', listener);
  process.on('SIGTERM', listener);
}
