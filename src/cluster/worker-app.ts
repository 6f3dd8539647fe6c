// A cluster worker's composition: the SMTP side of src/app.ts and nothing else — the runtime a session
// sees, the gateway, the listener, transactions in flight, and this process's metrics. What must exist
// once per host (the storage check, the notice outbox, the instance lease, the runtime file, retention,
// the HTTP endpoint, the start-time clean-up) is the primary's (src/cluster/primary.ts); the worker
// hears the storage verdict from it and tells it about each new quarantine entry.
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { listenerSettings, reloadListener } from '../app/listener-settings.js';
import { createInFlight } from '../app/in-flight.js';
import { createRuntimeHolder } from '../app/runtime-holder.js';
import type { Config } from '../config/load.js';
import { createGateway } from '../gateway/gateway.js';
import type { EventSink } from '../observability/events.js';
import { createMetrics } from '../observability/metrics.js';
import { replies } from '../smtp/replies.js';
import { createSmtpListener } from '../smtp/server.js';
import type { StateStore } from '../state/store.js';
import type { StorageReason } from '../storage/preflight.js';
import type { OutboxLane } from '../notice/lane.js';
import { spoolDirOf, workerSpoolDir } from '../storage/spool-dir.js';

export interface WorkerApp {
  /** Binds `listen` (the address the other workers serve, for a replacement) and takes sessions. */
  start(listen: { readonly host: string; readonly port: number }): Promise<AddressInfo>;
  reload(config: Config): { readonly ok: true } | { readonly ok: false; readonly error: string };
  /** As the single process's stop: refuse new sessions, close idle ones, let DATA in flight finish. */
  stop(graceMs: number): Promise<void>;
  /** The primary's storage verdict: MAIL FROM is refused while it names a failure. */
  setStorageFailure(failure: StorageReason | null): void;
  readonly registry: Registry;
}

export interface WorkerAppDeps {
  readonly events: EventSink;
  /** The host's state (ipc-store.ts), or Redis with `state.type: redis`. */
  readonly state: StateStore;
  /** This worker among the processes sharing the store: a holder of its own, the instance's host. */
  readonly stateHolder: { readonly holder: string; readonly host: string };
  /** Its number (1…N): it spools in a directory of its own, which the primary empties when it dies. */
  readonly workerId: number;
  /** A quarantine entry was committed: the primary's outbox takes it from here. */
  readonly onQuarantined: (qid: string, lane: OutboxLane) => void;
}

export function createWorkerApp(initial: Config, deps: WorkerAppDeps): WorkerApp {
  const { events } = deps;
  let shuttingDown = false;
  let storageFailure: StorageReason | null = null;
  const metrics = createMetrics(events);
  const runtime = createRuntimeHolder(initial, {
    events,
    state: deps.state,
    stateHolder: deps.stateHolder.holder,
    spoolDir: workerSpoolDir(spoolDirOf(initial), deps.workerId),
  });
  const inFlight = createInFlight();
  const gateway = createGateway({
    runtime: runtime.current,
    events,
    isShuttingDown: () => shuttingDown,
    storageFailure: () => storageFailure,
    state: deps.state,
    stateHolder: deps.stateHolder,
    inFlight,
    onQuarantined: deps.onQuarantined,
  });
  const listener = createSmtpListener(listenerSettings(initial), gateway);

  return {
    registry: metrics.registry,
    setStorageFailure(failure) {
      storageFailure = failure;
    },
    async start(listen) {
      const rt = runtime.current();
      // quarantine.maxSize is judged from the first RCPT on (what the other workers write reaches it as their shares)
      await rt.quarantineUsage.refresh().catch(() => 0);
      const addr = await listener.listen(listen.host, listen.port);
      // SPEC §3: ask the upstream whether it accepts any address (not awaited, as in src/app.ts)
      void rt.verifier.checkCatchAll();
      return addr;
    },
    reload(config) {
      return reloadListener(config, { initial, runtime, listener, events });
    },
    async stop(graceMs) {
      if (!shuttingDown) {
        shuttingDown = true;
        events.emit({ event: 'shutdown', phase: 'draining', inFlight: inFlight.count() });
      }
      listener.closeIdle(replies.shuttingDown());
      const drained = await inFlight.drained(graceMs);
      listener.closeIdle(replies.shuttingDown());
      await listener.close(drained === 'timeout' ? 0 : 1000);
      await runtime.close();
      metrics.stop();
      events.emit({ event: 'shutdown', phase: drained === 'timeout' ? 'forced' : 'done' });
    },
  };
}
