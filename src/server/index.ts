// Entry point of `lockfree-eventstore/server`: the HTTP service (see docs/http-api.md).

export type { EventStoreServer, ServerOptions } from './create-server.ts';
export { createServer } from './create-server.ts';
export { STATUS_BY_CODE } from './problem.ts';
export type { FieldAggregate, ProducerState, StoredEvent, StreamPage } from './stream.ts';
export { PRODUCER_WINDOW, Stream } from './stream.ts';
export type { AppendResult, ShardOp } from './stream-registry.ts';
export { StreamRegistry } from './stream-registry.ts';
