// Entry point of `lockfree-eventstore/server`: the HTTP service (see docs/http-api.md). Exports the
// server, its options and the types of what it hands out; the stream internals stay inside.

export type { AppendResult, FieldAggregate, StoredEvent, StreamPage } from '../protocol.js';
export type { ClusterOptions } from './cluster/cluster-options.js';
export type { EventStoreServer } from './create-server.js';
export { createServer } from './create-server.js';
export { STATUS_BY_CODE } from './http/problem.js';
export type { ServerOptions } from './server-options.js';
export type { ProducerState } from './streams/producers.js';
export type { ShardOp } from './streams/shard-ops.js';
export type { Stream } from './streams/stream.js';
export type { StreamRegistry } from './streams/stream-registry.js';
