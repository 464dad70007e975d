// Counters of the server and their Prometheus text rendering. Written and read on the server's
// thread only; counters are monotonic for the life of the process.

import type { SnapshotterMetrics } from '../snapshots/types.js';

export class ServerMetrics {
  readonly startedAt = Date.now();
  /** `route status` -> count. */
  readonly requests = new Map<string, number>();
  appendRequests = 0;
  appendedEvents = 0;
  duplicateAppends = 0;
  conflicts = 0;
  liveSubscribers = 0;
  /** Long-polls waiting now. */
  longPolls = 0;
  /** Connections closed to make room at `maxConnections` because they had sent no request. */
  silentConnectionsCut = 0;
  /** Connections refused at `maxConnections` (every open one was in use). */
  connectionsRefused = 0;
  sseEventsSent = 0;

  countRequest(route: string, status: number): void {
    const key = `${route} ${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }
}

export interface MetricsSnapshot {
  metrics: ServerMetrics;
  streams: number;
  events: number;
  producersEvicted: number;
  snapshots: SnapshotterMetrics | undefined;
  snapshotsFailingForMs: number;
  failClosed: boolean;
}

function line(out: string[], name: string, help: string, type: string, samples: [string, number][]) {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, v] of samples) out.push(`${name}${labels} ${v}`);
}

/** Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(s: MetricsSnapshot): string {
  const m = s.metrics;
  const out: string[] = [];
  line(out, 'eventstore_streams', 'Live streams.', 'gauge', [['', s.streams]]);
  line(out, 'eventstore_events', 'Events held over every stream.', 'gauge', [['', s.events]]);
  line(out, 'eventstore_append_requests_total', 'Acknowledged append requests.', 'counter', [
    ['', m.appendRequests],
  ]);
  line(out, 'eventstore_appended_events_total', 'Events appended (acknowledged).', 'counter', [
    ['', m.appendedEvents],
  ]);
  line(
    out,
    'eventstore_duplicate_appends_total',
    'Producer retries acknowledged without storing.',
    'counter',
    [['', m.duplicateAppends]],
  );
  line(out, 'eventstore_conflicts_total', 'Appends refused with 409.', 'counter', [['', m.conflicts]]);
  line(out, 'eventstore_producers_evicted_total', 'Producer dedupe states dropped by the limit.', 'counter', [
    ['', s.producersEvicted],
  ]);
  line(out, 'eventstore_live_subscribers', 'Open SSE subscriptions.', 'gauge', [['', m.liveSubscribers]]);
  line(out, 'eventstore_long_polls', 'Long-polls waiting.', 'gauge', [['', m.longPolls]]);
  line(
    out,
    'eventstore_silent_connections_cut_total',
    'Connections without a request cut at maxConnections.',
    'counter',
    [['', m.silentConnectionsCut]],
  );
  line(out, 'eventstore_connections_refused_total', 'Connections refused at maxConnections.', 'counter', [
    ['', m.connectionsRefused],
  ]);
  line(out, 'eventstore_sse_events_sent_total', 'Events written to SSE subscribers.', 'counter', [
    ['', m.sseEventsSent],
  ]);
  const req: [string, number][] = [];
  for (const [key, n] of [...m.requests].sort()) {
    const [route, status] = key.split(' ');
    req.push([`{route="${route}",status="${status}"}`, n]);
  }
  line(out, 'eventstore_http_requests_total', 'HTTP requests by route and status.', 'counter', req);
  line(out, 'eventstore_uptime_seconds', 'Seconds since the server started.', 'gauge', [
    ['', Math.round((Date.now() - m.startedAt) / 1000)],
  ]);
  const snap = s.snapshots;
  if (snap !== undefined) {
    const per = (f: (p: SnapshotterMetrics['partitions'][number]) => number): [string, number][] =>
      snap.partitions.map((p) => [`{shard="${p.partition}"}`, f(p)]);
    line(
      out,
      'eventstore_snapshot_successes_total',
      'Snapshots saved per shard.',
      'counter',
      per((p) => p.successes),
    );
    line(
      out,
      'eventstore_snapshot_failures_total',
      'Failed snapshot saves per shard.',
      'counter',
      per((p) => p.failures),
    );
    line(
      out,
      'eventstore_snapshot_last_version',
      'Shard version of the last saved snapshot.',
      'gauge',
      per((p) => p.lastVersion),
    );
    line(
      out,
      'eventstore_snapshot_ops_since_last',
      'Shard changes since the last saved snapshot.',
      'gauge',
      per((p) => p.eventsSinceLastSnapshot),
    );
    line(
      out,
      'eventstore_snapshots_failing_seconds',
      'Age of the oldest change a failed snapshot save should have persisted (0: none failing).',
      'gauge',
      [['', Math.round(s.snapshotsFailingForMs / 100) / 10]],
    );
    line(out, 'eventstore_fail_closed', '1 while fail-closed mode refuses changes.', 'gauge', [
      ['', s.failClosed ? 1 : 0],
    ]);
    line(out, 'eventstore_snapshot_failed_jobs_total', 'Snapshot jobs that gave up.', 'counter', [
      ['', snap.totalFailedJobs],
    ]);
    line(out, 'eventstore_journal_failures_total', 'Journal write or fsync failures.', 'counter', [
      ['', snap.journalFailures],
    ]);
    line(out, 'eventstore_journal_records_replayed', 'Journal records replayed at start.', 'gauge', [
      ['', snap.journalRecordsReplayed],
    ]);
  }
  return `${out.join('\n')}\n`;
}
