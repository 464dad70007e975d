// Entry point of `lockfree-eventstore/client`: the HTTP client. No Node-only imports (runs in browsers).

export type { ErrorCodeValue } from '../errors.js';
export { ErrorCode, EventStoreError } from '../errors.js';
export type {
  AggregateResult,
  AppendResult,
  FieldAggregate,
  StoredEvent,
  StreamInfo,
  StreamList,
  StreamPage,
} from '../protocol.js';
export { EventStoreHttpError } from './errors.js';
export type {
  AggregateOptions,
  AppendOptions,
  EventStoreClientOptions,
  IdempotentProducer,
  ProducerOptions,
  ReadOptions,
  StreamEvent,
  SubscribeOptions,
} from './event-store-client.js';
export { EventStoreClient } from './event-store-client.js';
