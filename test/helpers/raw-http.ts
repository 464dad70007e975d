// Raw TCP clients for the abuse tests: requests no well-behaved HTTP client would send (pipelined
// garbage, silent connections, half-closed sockets), and the server process's open descriptors.

import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

/** Host and port of a base URL. */
export function addressOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * Opens a TCP connection and resolves once it is connected. The socket reads (and drops) what the
 * server sends, so it sees the server close it.
 */
export function openSocket(url: string): Promise<Socket> {
  const { host, port } = addressOf(url);
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
    socket.resume();
  });
}

/**
 * Sends `bytes` and collects what the server sends back until it closes the connection or `waitMs`
 * pass. Our side is never closed first (a client that keeps its half open).
 */
export async function exchange(
  url: string,
  bytes: string | Buffer,
  waitMs = 3_000,
): Promise<{ text: string; closedByServer: boolean }> {
  const socket = await openSocket(url);
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.write(bytes);
  const closedByServer = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    socket.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { text, closedByServer };
}

/** Open file descriptors of a process (Linux). */
export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` pass; returns its last answer. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
