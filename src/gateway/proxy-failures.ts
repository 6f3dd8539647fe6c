// A trusted peer whose PROXY header is missing or malformed: every such connection is lost mail (the
// client got `* BAD Invalid PROXY header`, or nothing), and a balancer set up without the header loses
// all of it. One warn line per peer a minute says so; the rest of that minute's go to debug, and
// every one is counted (the `proxy` event feeds catchall_guard_proxy_header_invalid_total).
import { performance } from 'node:perf_hooks';
import type { EventSink } from '../observability/events.js';

/** At most one warn line per peer in this long. */
export const PROXY_FAILURE_LOG_EVERY_MS = 60_000;
/** Peers remembered at most: trusted peers are a handful; a wide CIDR must not grow the map for ever. */
const MAX_PEERS = 1024;

export function createProxyFailureLog(
  events: EventSink,
  monotonic: () => number = () => performance.now(),
): (peer: string, detail: string) => void {
  /** Per peer: when its last warn line was written, and how many went to debug since. */
  const peers = new Map<string, { at: number; since: number }>();
  return (peer, detail) => {
    const t = monotonic();
    const last = peers.get(peer);
    if (last && t - last.at < PROXY_FAILURE_LOG_EVERY_MS) {
      last.since++;
      events.emit({ event: 'proxy', peer, reason: 'proxy-header-invalid', detail, repeat: true });
      return;
    }
    if (peers.size >= MAX_PEERS && !last) {
      for (const [p, v] of peers) if (t - v.at >= PROXY_FAILURE_LOG_EVERY_MS) peers.delete(p);
      if (peers.size >= MAX_PEERS) peers.clear();
    }
    peers.set(peer, { at: t, since: 0 });
    events.emit({
      event: 'proxy',
      peer,
      reason: 'proxy-header-invalid',
      detail,
      ...(last && last.since > 0 ? { repeated: last.since } : {}),
    });
  };
}
