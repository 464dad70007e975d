// What a stream was created with beyond its capacity: its content type (JSON values or bytes), its
// expiry (a sliding TTL or a fixed time) and, for a fork, the stream and offset it continues. Streams
// created by a `/streams` append have the defaults: JSON, no expiry, no fork. Pure values and
// functions; the registry owns the streams.

/** The content type of streams created by `/streams` appends, and of JSON-mode protocol streams. */
export const JSON_CONTENT_TYPE = 'application/json';

/** The content type of a protocol stream created without one. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** A fork's link to the stream it continues. */
export interface ForkLink {
  /** Name of the source stream. */
  source: string;
  /** Offsets below this are the source's; the fork's own events start here. */
  at: number;
  /**
   * Bytes (byte streams) taken from the source's event `at` as the fork's own first event (the
   * `Stream-Fork-Sub-Offset`), 0 when the fork starts at an event boundary.
   */
  cut: number;
}

/** The configuration of a stream (see the file header). */
export interface StreamConfig {
  /** As given at creation (parameters kept), e.g. `text/plain; charset=utf-8`. */
  contentType: string;
  /** Sliding expiry: the stream expires this long after its last write or read. */
  ttlSeconds?: number | undefined;
  /** Fixed expiry, epoch ms. */
  expiresAtMs?: number | undefined;
  fork?: ForkLink | undefined;
}

/** The configuration of a stream created by a `/streams` append. */
export const DEFAULT_STREAM_CONFIG: StreamConfig = { contentType: JSON_CONTENT_TYPE };

/** The media type of a content type: lower-case, without parameters (`Text/Plain; x=1` -> `text/plain`). */
export function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** Whether streams of this content type hold JSON values (JSON mode) rather than byte chunks. */
export function isJsonContentType(contentType: string): boolean {
  return mediaType(contentType) === JSON_CONTENT_TYPE;
}

/** Whether two creations ask for the same stream: the same media type, expiry and fork. */
export function sameConfig(a: StreamConfig, b: StreamConfig): boolean {
  return (
    mediaType(a.contentType) === mediaType(b.contentType) &&
    a.ttlSeconds === b.ttlSeconds &&
    a.expiresAtMs === b.expiresAtMs &&
    a.fork?.source === b.fork?.source &&
    a.fork?.at === b.fork?.at &&
    (a.fork?.cut ?? 0) === (b.fork?.cut ?? 0)
  );
}

/**
 * Whether a stream with `config`, last written (or read, see `touch`) at `activeAtMs`, has expired at
 * `nowMs`. The times come from the journal (commands carry them), so every replay decides alike.
 */
export function expiredAt(config: StreamConfig, activeAtMs: number, nowMs: number): boolean {
  if (config.expiresAtMs !== undefined && nowMs >= config.expiresAtMs) return true;
  return config.ttlSeconds !== undefined && nowMs >= activeAtMs + config.ttlSeconds * 1000;
}
