// The connections of the HTTP server and their bounds. At `maxConnections` a new connection takes the
// place of the oldest one that has sent nothing at all (silent ones are also cut by the headers
// timeout), and is refused only when every open connection has spoken. A client error is answered
// when no answer is under way on its socket, and the socket is then closed and destroyed a second
// later, so a peer that never closes its side holds no descriptor. `Expect: 100-continue` with a body
// over the limit is refused before the body is sent. Runs on the server's thread.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '../../errors.js';
import type { ServerMetrics } from '../metrics.js';
import { problem, sendProblem } from './problem.js';

/** Ends a socket after what it has to write, and destroys it a second later whatever the peer does. */
export function closeSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** Limits of {@link ConnectionGuard}. */
export interface ConnectionLimits {
  maxConnections: number;
  maxBodyBytes: number;
}

export class ConnectionGuard {
  /** Open connections, oldest first. */
  readonly #open = new Set<Socket>();
  /** Connections that sent a whole request head at least once. */
  readonly #spoke = new WeakSet<Socket>();
  /** Answers under way per socket: a parse error on a socket must not write over one of them. */
  readonly #responding = new WeakMap<Socket, number>();
  /** Sockets to close once their answers are done (a client error came while one was under way). */
  readonly #closeWhenDone = new WeakSet<Socket>();
  readonly #limits: ConnectionLimits;
  readonly #metrics: ServerMetrics;

  /**
   * Watches `http`'s connections; `onRequest` handles requests, including those that asked for
   * `100 Continue` and may send their body.
   */
  constructor(
    http: Server,
    limits: ConnectionLimits,
    metrics: ServerMetrics,
    onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  ) {
    this.#limits = limits;
    this.#metrics = metrics;
    http.on('connection', (socket: Socket) => this.#admit(socket));
    http.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#clientError(err, socket));
    http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
        res.on('finish', () => closeSoon(req.socket));
        sendProblem(
          res,
          problem(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `the request body is larger than ${limits.maxBodyBytes} bytes`,
            {
              maxBodyBytes: limits.maxBodyBytes,
            },
          ),
          true,
        );
        return;
      }
      res.writeContinue();
      onRequest(req, res);
    });
  }

  /** Open connections now. */
  get count(): number {
    return this.#open.size;
  }

  /** Marks the start of an answer on the request's socket; call for every request. */
  answering(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    this.#spoke.add(socket);
    this.#responding.set(socket, (this.#responding.get(socket) ?? 0) + 1);
    res.on('close', () => {
      const left = (this.#responding.get(socket) ?? 1) - 1;
      this.#responding.set(socket, left);
      if (left === 0 && this.#closeWhenDone.has(socket)) closeSoon(socket);
    });
  }

  #admit(socket: Socket): void {
    const open = this.#open;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    if (open.size <= this.#limits.maxConnections) return;
    for (const other of open) {
      if (other !== socket && other.bytesRead === 0 && !this.#spoke.has(other)) {
        open.delete(other);
        other.destroy();
        this.#metrics.silentConnectionsCut++;
        return;
      }
    }
    open.delete(socket);
    socket.destroy();
    this.#metrics.connectionsRefused++;
  }

  /** Malformed requests and timeouts (408, 431, 400) from node's parser: never a crash. */
  #clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if ((this.#responding.get(socket) ?? 0) > 0) {
      this.#closeWhenDone.add(socket);
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const reason =
      status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    closeSoon(socket);
  }
}
