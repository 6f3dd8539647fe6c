// Prometheus metrics (SPEC §9), fed by the same events that are logged: one source of truth.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventSink } from './events.js';

export interface Metrics {
  readonly registry: Registry;
  stop(): void;
}

export function createMetrics(events: EventSink): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'catchall_guard_' });
  const connections = new Counter({
    name: 'catchall_guard_connections_total',
    help: 'SMTP connections, by whether they were refused',
    labelNames: ['result'],
    registers: [registry],
  });
  const rcpt = new Counter({
    name: 'catchall_guard_rcpt_total',
    help: 'RCPT decisions',
    labelNames: ['decision'],
    registers: [registry],
  });
  const messages = new Counter({
    name: 'catchall_guard_messages_total',
    help: 'Messages after DATA, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const delivered = new Counter({
    name: 'catchall_guard_recipients_delivered_total',
    help: 'Recipients a message was delivered to',
    registers: [registry],
  });
  const quarantined = new Counter({
    name: 'catchall_guard_messages_quarantined_total',
    help: 'Messages stored in the quarantine',
    registers: [registry],
  });
  const notices = new Counter({
    name: 'catchall_guard_notices_total',
    help: 'Notices, by status',
    labelNames: ['status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'catchall_guard_transaction_duration_seconds',
    help: 'DATA transaction duration, from the start of DATA to the final reply',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const storageFailing = new Gauge({
    name: 'catchall_guard_storage_failing',
    help: '1 while a data directory is not writable or lacks room for one message (MAIL FROM gets 452/451, /readyz 503)',
    registers: [registry],
    // with workers, /metrics adds the processes' values up (src/cluster/metrics.ts): a 0/1 gauge takes the max
    aggregator: 'max',
  });
  const quarantineFull = new Gauge({
    name: 'catchall_guard_quarantine_full',
    help: '1 while the quarantine is at quarantine.maxSize (quarantine RCPTs get 452 4.3.1)',
    registers: [registry],
    aggregator: 'max',
  });
  const stateDegraded = new Gauge({
    name: 'catchall_guard_state_degraded',
    help: '1 while the shared state store (state.type: redis) cannot be used and limits are per instance',
    registers: [registry],
    aggregator: 'max',
  });
  const purged = new Counter({
    name: 'catchall_guard_quarantine_purged_total',
    help: 'Quarantine entries deleted by retention',
    registers: [registry],
  });
  const proxyInvalid = new Counter({
    name: 'catchall_guard_proxy_header_invalid_total',
    help: 'Connections of a trusted PROXY peer that ended without a usable PROXY header (each lost to the client)',
    registers: [registry],
  });
  // every label value that can occur is shown from the start, so rate() works before the first event
  for (const d of [
    'accept',
    'reject',
    'reject-after-data',
    'moved',
    'quarantine',
    'observe',
    'relay-denied',
    'invalid',
    'limited',
    'deferred',
  ])
    rcpt.inc({ decision: d }, 0);
  for (const s of ['sent', 'suppressed', 'deferred', 'failed']) notices.inc({ status: s }, 0);

  const unsubscribe = events.subscribe((e) => {
    switch (e.event) {
      case 'connect':
        connections.inc({ result: e.refused ? 'refused' : 'accepted' });
        break;
      case 'rcpt':
        rcpt.inc({ decision: e.decision });
        break;
      case 'message':
        messages.inc({ outcome: e.outcome });
        duration.observe(e.durationMs / 1000);
        if (e.outcome === 'stored') {
          delivered.inc(e.delivered.length + (e.observed?.length ?? 0));
          if (e.quarantined.length > 0) quarantined.inc();
        }
        break;
      case 'notice':
        notices.inc({ status: e.status });
        break;
      case 'storage':
        storageFailing.set(e.ok ? 0 : 1);
        break;
      case 'quota':
        quarantineFull.set(e.full ? 1 : 0);
        break;
      case 'state':
        stateDegraded.set(e.ok ? 0 : 1);
        break;
      case 'purge':
        purged.inc(e.deleted);
        break;
      case 'proxy':
        proxyInvalid.inc();
        break;
      default:
        break;
    }
  });
  return { registry, stop: () => void unsubscribe() };
}
