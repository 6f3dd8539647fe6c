// Composition root. Construction first (runtime, gateway, notice outbox, SMTP listener, metrics),
// then the lifecycle: the start order and the stop order each in one short place. No module-level
// state anywhere else.
import { errorText } from './observability/error-text.js';
import type { AddressInfo } from 'node:net';
import { createInFlight } from './app/in-flight.js';
import { cleanCrashLeftovers } from './app/crash-leftovers.js';
import { listenerSettings, reloadListener } from './app/listener-settings.js';
import { removeRuntimeFile, runtimeFilePath, writeRuntimeFile } from './app/runtime-file.js';
import { createInstanceLease } from './app/instance-lease.js';
import { createRuntimeHolder } from './app/runtime-holder.js';
import { THIS_PROCESS } from './quarantine/notice-claim.js';
import { THIS_INSTANCE } from './storage/instance-id.js';
import type { Config } from './config/load.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import type { Runtime } from './gateway/runtime.js';
import type { SpoolWriter } from './message/spool.js';
import { createOutbox } from './notice/outbox.js';
import type { EventSink } from './observability/events.js';
import { createHttpEndpoint, type HttpEndpoint } from './observability/http.js';
import { createMetrics } from './observability/metrics.js';
import { startRetention, type Retention } from './quarantine/retention.js';
import { createFollowingResolver, type DnsResolver } from './sender-auth/dns.js';
import { replies } from './smtp/replies.js';
import { createSmtpListener } from './smtp/server.js';
import type { DurableFs } from './storage/durable-fs.js';
import { buildStateStore, type BuiltStateStore } from './state/build.js';
import type { StateStore } from './state/store.js';
import { createStorageHealth } from './storage/health.js';
import { StorageUnusableError, storageDirs, storageNeed } from './storage/preflight.js';

export interface AppDeps {
  readonly events: EventSink;
  readonly fs?: DurableFs;
  readonly spoolWriter?: SpoolWriter;
  readonly spoolMemoryLimit?: number;
  readonly now?: () => Date;
  /** Notices: DNS for SPF/DMARC and direct MX (tests answer offline), the retry backoff unit and window, the direct port. */
  readonly noticeResolver?: DnsResolver;
  readonly noticeRetryBaseMs?: number;
  readonly noticeRetryWindowMs?: number;
  readonly noticeDirect?: { readonly port?: number; readonly allowUnroutable?: boolean };
  /**
   * The storage check (src/storage/health.ts): how often it runs, and the free bytes it asks for
   * (default: maxMessageSize + 1 MiB). The full-disk test asks for none, to reach the ENOSPC handling
   * of a write that the check cannot rule out (concurrent messages, other writers on the disk).
   */
  readonly storageCheck?: { readonly intervalMs?: number; readonly needBytes?: number };
  /**
   * The state store limits, the notice throttle and the verify cache live in (src/state/): given by a
   * cluster worker (its IPC store to the primary's), else built from `state` and closed at stop.
   */
  readonly stateStore?: StateStore;
  /** This process among all sharing the store (cluster workers: one holder each); see GatewayDeps. */
  readonly stateHolder?: { readonly holder: string; readonly host: string };
}

export interface App {
  start(): Promise<AddressInfo>;
  /** Validated config in; the old runtime stays if the new one cannot be built. */
  reload(config: Config): { readonly ok: true } | { readonly ok: false; readonly error: string };
  /** Graceful: refuse new sessions, close idle ones, let DATA in flight finish within the grace period. */
  stop(graceMs?: number): Promise<void>;
  /** The SMTP hooks, for tests that drive a phase directly. */
  readonly gateway: Gateway;
  /** The HTTP endpoint's address, when `http.listen` is configured and start() has run. */
  readonly httpAddress: () => AddressInfo | null;
}

export function createApp(initial: Config, deps: AppDeps): App {
  const { events } = deps;
  let shuttingDown = false;
  let listening = false;
  let retention: Retention | null = null;
  let http: HttpEndpoint | null = null;
  let httpAddress: AddressInfo | null = null;

  // ── construction ──
  const metrics = createMetrics(events);
  // read once: a change of `state` needs a restart
  const ownState = deps.stateStore ? null : buildStateStore(initial.state, events);
  const state = deps.stateStore ?? (ownState as BuiltStateStore).store;
  const runtime = createRuntimeHolder(initial, { events, fs: deps.fs, state, stateHolder: deps.stateHolder?.holder });
  const inFlight = createInFlight();
  const runtimeFile = runtimeFilePath(initial.paths.dataDir);
  const storage = createStorageHealth({
    target: () => {
      const config = runtime.current().config;
      return {
        dirs: storageDirs(config),
        needBytes: deps.storageCheck?.needBytes ?? storageNeed(config.server.maxMessageSize),
      };
    },
    events,
    ...(deps.storageCheck?.intervalMs !== undefined ? { intervalMs: deps.storageCheck.intervalMs } : {}),
  });
  // notices are sent by a background outbox after the transaction, never on the SMTP path
  const outbox = createOutbox({
    runtime: runtime.current,
    events,
    state,
    ...(deps.now ? { now: deps.now } : {}),
    // `dns.servers` and `dns.timeout` as the running configuration says, a reload included
    resolver: deps.noticeResolver ?? createFollowingResolver(() => runtime.current().config.dns),
    ...(deps.noticeRetryBaseMs !== undefined ? { retryBaseMs: deps.noticeRetryBaseMs } : {}),
    ...(deps.noticeRetryWindowMs !== undefined ? { retryWindowMs: deps.noticeRetryWindowMs } : {}),
    ...(deps.noticeDirect ? { direct: deps.noticeDirect } : {}),
  });
  // liveness among instances sharing the data volume: a gone one's spool is removed and its notices
  // recovered at once
  const lease = createInstanceLease({
    dataDir: initial.paths.dataDir,
    id: THIS_INSTANCE,
    token: THIS_PROCESS.token,
    events,
    onPeerGone: () => outbox.kick(),
  });
  const gateway = createGateway({
    runtime: runtime.current,
    events,
    isShuttingDown: () => shuttingDown,
    storageFailure: () => storage.failure(),
    state,
    ...(deps.stateHolder ? { stateHolder: deps.stateHolder } : {}),
    inFlight,
    onQuarantined: (qid, lane) => outbox.kick(qid, lane),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.spoolWriter ? { spoolWriter: deps.spoolWriter } : {}),
    ...(deps.spoolMemoryLimit !== undefined ? { spoolMemoryLimit: deps.spoolMemoryLimit } : {}),
  });
  const listener = createSmtpListener(listenerSettings(initial), gateway);

  async function cleanUp(rt: Runtime): Promise<void> {
    await cleanCrashLeftovers(rt);
    // quarantine.maxSize is judged from the first RCPT on
    await rt.quarantineUsage.refresh().catch(() => 0);
  }

  return {
    gateway,
    httpAddress: () => httpAddress,

    // ── start order ──
    async start() {
      const rt = runtime.current();
      // a server that cannot store mail must not greet: every message would get 451 after being sent.
      // Before anything else writes to the data directory, so the error names the directory and the fix.
      const problems = await storage.check({ writeTest: true });
      if (problems.length > 0) throw new StorageUnusableError(problems);
      storage.start();
      // first: our spool and leftovers are cleaned below as no live process's (a second one refuses here)
      await lease.acquire();
      await lease.sweep();
      lease.start();
      await cleanUp(rt);
      // at most state.timeout: an unreachable Redis is a `state` event and local limits, never a failed start
      await ownState?.start();
      const addr = await listener.listen(rt.config.server.listen.host, rt.config.server.listen.port);
      listening = true;
      events.emit({ event: 'listening', host: addr.address, port: addr.port, proto: 'smtp' });
      await outbox.start();
      // SPEC §3: at start, ask the upstream whether it accepts any address (not awaited: a slow upstream
      // must not hold the listener; a RCPT that needs the answer waits for the same check)
      void rt.verifier.checkCatchAll();
      retention = startRetention({ store: () => runtime.current().quarantine, events });
      const httpListen = rt.config.http?.listen;
      if (httpListen) {
        http = createHttpEndpoint({
          registry: metrics.registry,
          isReady: () => listening && !shuttingDown && storage.failure() === null,
        });
        httpAddress = await http.listen(httpListen.host, httpListen.port);
        events.emit({ event: 'listening', host: httpAddress.address, port: httpAddress.port, proto: 'http' });
      }
      // what `probe` checks: the addresses bound, whatever the config file says by now
      await writeRuntimeFile(runtimeFile, {
        pid: process.pid,
        started: new Date().toISOString(),
        smtp: { host: addr.address, port: addr.port },
        http: httpAddress && { host: httpAddress.address, port: httpAddress.port },
      }).catch((err: unknown) => events.emit({ event: 'error', where: 'runtime-file', error: errorText(err) }));
      return addr;
    },

    reload(config) {
      return reloadListener(config, {
        initial,
        runtime,
        listener,
        events,
        // new directories or a new maxMessageSize are judged now, not at the next periodic check
        afterApply: () => void storage.check(),
      });
    },

    // ── stop order ──
    async stop(graceMs = 30_000) {
      if (!shuttingDown) {
        shuttingDown = true;
        events.emit({ event: 'shutdown', phase: 'draining', inFlight: inFlight.count() });
      }
      listener.closeIdle(replies.shuttingDown());
      const drained = await inFlight.drained(graceMs);
      // sessions that finished their DATA meanwhile are idle now: tell them too, then stop listening
      listener.closeIdle(replies.shuttingDown());
      await listener.close(drained === 'timeout' ? 0 : 1000);
      listening = false;
      await removeRuntimeFile(runtimeFile).catch(() => undefined);
      await outbox.stop();
      // after the outbox: a claim still held now is taken over by the others at once
      await lease.release().catch(() => undefined);
      await retention?.stop();
      storage.stop();
      await runtime.close();
      await ownState?.close();
      await http?.close();
      metrics.stop();
      events.emit({ event: 'shutdown', phase: drained === 'timeout' ? 'forced' : 'done' });
    },
  };
}
