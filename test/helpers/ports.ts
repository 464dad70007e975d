// Ports for the few tests that cannot let a server listen on port 0 and read the bound port back:
// nginx (its config names the port), a server restarted on the port its clients already know, and a
// port where nothing listens. A port picked free can be taken by another process before it is bound,
// so binding one goes through `retryWhileAddressInUse`.

import { connect, createServer, type Socket } from 'node:net';

const HOST = '127.0.0.1';

/**
 * A loopback port that was free a moment ago. Another process may bind it before the caller does:
 * bind it inside `retryWhileAddressInUse`, picking a new port on every attempt.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when `err` (or its cause) says the address is in use: EADDRINUSE, our server's or nginx's message. */
export function isAddressInUse(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
    if (/EADDRINUSE|already in use/i.test(e.message)) return true;
  }
  return false;
}

/**
 * Runs `bind` (it starts something that binds a port, and rejects if the bind fails) until it does not
 * fail with the address in use: at most `attempts` times, `delayMs` apart; any other failure, or the
 * last one, is thrown. `bind` chooses the port: a new `freePort()` on each attempt, or the same one
 * again when clients already know it (a restart, waiting for whoever briefly held it).
 */
export async function retryWhileAddressInUse<T>(
  bind: (attempt: number) => Promise<T>,
  { attempts = 5, delayMs = 200 }: { attempts?: number; delayMs?: number } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bind(attempt);
    } catch (err) {
      if (attempt >= attempts || !isAddressInUse(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** A loopback port where nothing listens, held until `release()`. */
export interface RefusedPort {
  port: number;
  release(): Promise<void>;
}

/**
 * A loopback port that refuses connections for as long as it is held: the local end of a connection
 * this process keeps open to itself. Nothing listens on it, and no other socket can bind it (not
 * even with SO_REUSEADDR) until `release()`, so it cannot start answering in the middle of a test.
 */
export async function refusedPort(): Promise<RefusedPort> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port: serverPort } = server.address() as { port: number };
  const [accepted, held] = await Promise.all([
    new Promise<Socket>((resolve) => server.once('connection', resolve)),
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(serverPort, HOST, () => resolve(socket));
      socket.once('error', reject);
    }),
  ]);
  return {
    port: held.localPort!,
    release: async () => {
      // The accepting end closes first, so the held port is free at once (TIME_WAIT stays on the
      // side that closes first, and would keep the port unbindable for a minute).
      const closed = new Promise((resolve) => held.once('close', resolve));
      accepted.destroy();
      await closed;
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
