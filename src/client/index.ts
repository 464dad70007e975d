// Entry point of `lockfree-eventstore/client`: the HTTP client. No Node-only imports (runs in browsers).

export type { ErrorCodeValue } from '../errors.js';
export { ErrorCode, EventStoreError } from '../errors.js';
export { EventStoreHttpError } from './errors.js';
export type {
  AggregateOptions,
  AggregateResult,
  AppendOptions,
  AppendResult,
  EventStoreClientOptions,
  FieldAggregate,
  IdempotentProducer,
  ProducerOptions,
  ReadOptions,
  StreamEvent,
  StreamInfo,
  SubscribeOptions,
} from './event-store-client.js';
export { EventStoreClient } from './event-store-client.js';
