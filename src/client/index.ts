// Entry point of `lockfree-eventstore/client`: the HTTP client. No Node-only imports (runs in browsers).

export type { ErrorCodeValue } from '../errors.ts';
export { ErrorCode, EventStoreError } from '../errors.ts';
export { EventStoreHttpError } from './errors.ts';
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
} from './event-store-client.ts';
export { EventStoreClient } from './event-store-client.ts';
