// Entry point of `lockfree-eventstore/server`: the HTTP service (see docs/http-api.md).

export type { EventStoreServer, ServerOptions } from './create-server.js';
export { createServer } from './create-server.js';
export { STATUS_BY_CODE } from './problem.js';
export type { FieldAggregate, ProducerState, StoredEvent, StreamPage } from './stream.js';
export { PRODUCER_WINDOW, Stream } from './stream.js';
export type { AppendResult, ShardOp } from './stream-registry.js';
export { StreamRegistry } from './stream-registry.js';
