// /metrics of the cluster primary: its own counters (notices, purges, storage) and every worker's
// (connections, RCPT decisions, messages), added up by prom-client's AggregatorRegistry as each
// metric's `aggregator` says (counters summed; a 0/1 gauge such as quarantine_full takes the max).
// Asked over our own IPC messages at each scrape; a worker that does not answer within the bound
// (busy, or being replaced) is left out of that scrape rather than holding it up.
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsSource } from '../observability/http.js';

export const WORKER_METRICS_TIMEOUT_MS = 2_000;

export function createClusterMetrics(
  own: Registry,
  /** Each live worker's getMetricsAsJSON(), or null for one that did not answer in time. */
  workers: () => Promise<ReadonlyArray<unknown>>,
): MetricsSource {
  return {
    contentType: own.contentType,
    async metrics() {
      const [mine, theirs] = await Promise.all([own.getMetricsAsJSON(), workers()]);
      const parts = [mine, ...theirs.filter((m): m is object => Array.isArray(m))];
      return AggregatorRegistry.aggregate(parts).metrics();
    },
  };
}

/** Pending requests by id: the primary resolves each with the worker's reply, or null at the bound. */
export function createMetricsRequests(timeoutMs: number = WORKER_METRICS_TIMEOUT_MS): {
  ask(send: (id: number) => void): Promise<unknown>;
  answer(id: number, metrics: unknown): void;
} {
  const pending = new Map<number, (m: unknown) => void>();
  let nextId = 1;
  return {
    ask(send) {
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(null);
        }, timeoutMs);
        timer.unref();
        pending.set(id, (m) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve(m);
        });
        send(id);
      });
    },
    answer(id, metrics) {
      pending.get(id)?.(metrics);
    },
  };
}
