// The cluster primary (`server.workers` above 1): the process the operator started. It forks the SMTP
// workers (supervisor.ts) and holds everything that must exist once per host: the storage check (its
// verdict broadcast to the workers, who refuse MAIL FROM on it), the host's state store (workers ask
// over IPC), the notice outbox (workers say when an entry needs a notice), the instance lease, the
// start-time clean-up, quarantine retention, the HTTP endpoint (readiness = every worker listening and
// storage ok; metrics summed over all processes), the runtime file, and the one log destination.
// SIGHUP reloads its part, then each worker's; SIGTERM drains every worker, then stops its own part.
import type { AddressInfo } from 'node:net';
import type { Worker } from 'node:cluster';
import { readTls } from '../app/listener-settings.js';
import { claimHolderIn, createInstanceLease, InstanceIdInUseError } from '../app/instance-lease.js';
import { restartNeeded } from '../app/restart-needed.js';
import { removeRuntimeFile, runtimeFilePath, writeRuntimeFile } from '../app/runtime-file.js';
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from '../cli/exit-codes.js';
import { listenFailureText, describeListenFailure } from '../cli/listen-failure.js';
import { SHUTDOWN_GRACE_MS } from '../cli/serve.js';
import { configForReload } from '../app/reload-config.js';
import type { Config } from '../config/load.js';
import { buildDelivery } from '../delivery/build.js';
import { cleanSpool } from '../message/spool.js';
import { cleanCrashLeftovers } from '../app/crash-leftovers.js';
import { createOutbox } from '../notice/outbox.js';
import { errorText } from '../observability/error-text.js';
import { createEventSink } from '../observability/events.js';
import { createHttpEndpoint, type HttpEndpoint } from '../observability/http.js';
import { createLogger, openLogDestination } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { THIS_PROCESS } from '../quarantine/notice-claim.js';
import { startRetention, type Retention } from '../quarantine/retention.js';
import { createQuarantineStore, type QuarantineStore } from '../quarantine/store.js';
import { createFollowingResolver } from '../sender-auth/dns.js';
import { buildStateStore } from '../state/build.js';
import { createStorageHealth } from '../storage/health.js';
import { THIS_INSTANCE } from '../storage/instance-id.js';
import { storageDirs, storageFailureText, storageNeed, type StorageReason } from '../storage/preflight.js';
import { storageRefusesReload } from '../storage/reload-gate.js';
import { spoolDirOf, workerSpoolDir } from '../storage/spool-dir.js';
import { answerStateCalls } from './ipc-store.js';
import type { WorkerMessage } from './messages.js';
import { createClusterMetrics, createMetricsRequests } from './metrics.js';
import { createSupervisor, WorkerStartError } from './supervisor.js';

/** What the primary's outbox and retention read: the running configuration and its quarantine. */
interface PrimaryRuntime {
  readonly config: Config;
  readonly quarantine: QuarantineStore;
}

function primaryRuntime(config: Config): PrimaryRuntime {
  return {
    config,
    quarantine: createQuarantineStore(config.quarantine.path, undefined, {
      claimHolder: (host, token) => claimHolderIn(config.paths.dataDir, host, token),
    }),
  };
}

/** What a crash of this host left behind, removed before any worker takes a session. */
async function cleanUp(rt: PrimaryRuntime): Promise<void> {
  const delivery = buildDelivery(rt.config);
  await cleanCrashLeftovers({ quarantine: rt.quarantine, spoolDir: spoolDirOf(rt.config), delivery });
  await delivery.close();
}

export async function runPrimary(config: Config, configPath: string, count: number): Promise<ExitCode> {
  const destination = await openLogDestination(config.log);
  const log = createLogger(config.log.level, destination).child({ worker: 0 });
  const events = createEventSink(log);
  const metrics = createMetrics(events);
  let rt = primaryRuntime(config);
  const storage = createStorageHealth({
    target: () => ({ dirs: storageDirs(rt.config), needBytes: storageNeed(rt.config.server.maxMessageSize) }),
    events,
  });
  // state.type memory: the host's one store, here, that every worker asks (ipc-store.ts); redis: the
  // outbox's own connection (the notice throttle), the workers have theirs
  const state = buildStateStore(config.state, events);
  const store = state.store;
  const outbox = createOutbox({
    runtime: () => rt,
    events,
    state: store,
    resolver: createFollowingResolver(() => rt.config.dns),
  });
  const lease = createInstanceLease({
    dataDir: config.paths.dataDir,
    id: THIS_INSTANCE,
    token: THIS_PROCESS.token,
    events,
    onPeerGone: () => outbox.kick(),
  });
  const metricsRequests = createMetricsRequests();
  const runtimeFile = runtimeFilePath(config.paths.dataDir);

  let verdict: StorageReason | null = null;
  const onWorkerMessage = (worker: Worker, m: WorkerMessage): void => {
    switch (m.cg) {
      case 'log':
        destination.write(m.lines);
        break;
      case 'kick':
        outbox.kick(m.qid, m.lane);
        break;
      case 'storage-suspect':
        void storage.check();
        break;
      case 'metrics':
        metricsRequests.answer(m.id, m.metrics);
        break;
      case 'state':
        void answerStateCalls(store, m, (r) => supervisor.send(worker, r));
        break;
      default:
        break;
    }
  };
  const supervisor = createSupervisor({
    count,
    listen: config.server.listen,
    events,
    onMessage: onWorkerMessage,
    // a new worker hears the verdict at once, not at the next change
    onReady: (w) => supervisor.send(w, { cg: 'storage', failure: verdict }),
    // what a dead worker was receiving is gone with it (its clients were never told 250): its spool
    // files go before its replacement starts, so a crash loop cannot fill the disk
    onExited: async (id, pid) => {
      const spoolFiles = await cleanSpool(workerSpoolDir(spoolDirOf(config), id));
      if (spoolFiles > 0) events.emit({ event: 'worker', action: 'spool-cleared', id, pid, spoolFiles });
    },
  });
  // a change of the storage verdict reaches every worker (the event is emitted before the verdict is
  // stored: read it a turn later)
  events.subscribe((e) => {
    if (e.event !== 'storage') return;
    setImmediate(() => {
      const now = storage.failure();
      if (now === verdict) return;
      verdict = now;
      supervisor.broadcast({ cg: 'storage', failure: now });
    });
  });

  let shuttingDown = false;
  let stopRequested = false;
  let started = false;
  let draining = false;
  let retention: Retention | null = null;
  let http: HttpEndpoint | null = null;
  let resolveExit: (code: ExitCode) => void = () => undefined;
  const exit = new Promise<ExitCode>((resolve) => (resolveExit = resolve));
  const flushed = (): Promise<void> => new Promise((resolve) => log.flush(() => resolve()));

  async function shutdown(): Promise<void> {
    shuttingDown = true;
    events.emit({ event: 'shutdown', phase: 'draining' });
    const drained = await supervisor.stop(SHUTDOWN_GRACE_MS);
    await removeRuntimeFile(runtimeFile).catch(() => undefined);
    await outbox.stop();
    // after the outbox: a claim still held now is taken over by the others at once
    await lease.release().catch(() => undefined);
    await retention?.stop();
    storage.stop();
    await http?.close();
    metrics.stop();
    await state.close();
    events.emit({ event: 'shutdown', phase: drained === 'killed' ? 'forced' : 'done' });
  }

  const drainAndExit = (): void => {
    if (draining) return;
    draining = true;
    void shutdown().then(async () => {
      process.off('SIGHUP', reload);
      await flushed();
      resolveExit(EXIT_OK);
    });
  };
  const stop = (): void => {
    if (stopRequested) {
      events.emit({ event: 'shutdown', phase: 'forced' });
      supervisor.exitNow();
      log.flush();
      process.exit(EXIT_FAILURE);
    }
    stopRequested = true;
    if (started) drainAndExit();
  };
  const reload = (): void => {
    const next = configForReload(configPath, events);
    if (!next) return;
    try {
      // judged here once, so the workers are not told to load what each would refuse alike
      readTls(next);
    } catch (err) {
      events.emit({ event: 'reload', ok: false, what: 'config', error: errorText(err) });
      return;
    }
    void storageRefusesReload(next, rt.config).then((refused) => {
      if (stopRequested) return;
      if (refused) {
        events.emit({ event: 'reload', ok: false, what: 'config', error: refused });
        return;
      }
      log.level = next.log.level;
      rt = primaryRuntime(next);
      void storage.check();
      const pending = restartNeeded(config, next);
      events.emit({ event: 'reload', ok: true, what: 'config', ...(pending.length ? { restartNeeded: pending } : {}) });
      supervisor.broadcast({ cg: 'reload' });
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);

  const fail = async (text: string): Promise<ExitCode> => {
    storage.stop();
    await lease.release().catch(() => undefined);
    await state.close();
    await flushed();
    process.stderr.write(text);
    return EXIT_FAILURE;
  };

  // ── start order: as src/app.ts, with the SMTP listener replaced by the workers ──
  const problems = await storage.check({ writeTest: true });
  // the `storage` events (ok:false, the path, the errno, the fix) are logged already
  if (problems.length > 0) return fail(storageFailureText(problems));
  storage.start();
  try {
    await lease.acquire();
  } catch (err) {
    if (!(err instanceof InstanceIdInUseError)) throw err;
    events.emit({ event: 'error', where: 'instance', error: `${err.message}; ${err.hint}`, reason: err.reason });
    return fail(`catchall-guard: ${err.message}\n  ${err.hint}\n`);
  }
  await lease.sweep();
  lease.start();
  await cleanUp(rt);
  await state.start();
  let smtp: { host: string; port: number };
  try {
    smtp = await supervisor.start();
  } catch (err) {
    const f =
      err instanceof WorkerStartError && err.failure
        ? err.failure
        : describeListenFailure(err, [{ key: 'server.listen', ...config.server.listen }]);
    events.emit({ event: 'error', where: 'listen', error: f.error, reason: f.reason, hint: f.hint });
    return fail(listenFailureText(f));
  }
  events.emit({ event: 'listening', host: smtp.host, port: smtp.port, proto: 'smtp', workers: count });
  await outbox.start();
  retention = startRetention({ store: () => rt.quarantine, events });
  let httpAddress: AddressInfo | null = null;
  const httpListen = config.http?.listen;
  if (httpListen) {
    http = createHttpEndpoint({
      registry: createClusterMetrics(metrics.registry, () =>
        Promise.all(
          supervisor.live().map((w) => metricsRequests.ask((id) => supervisor.send(w, { cg: 'metrics-request', id }))),
        ),
      ),
      isReady: () => !shuttingDown && supervisor.allReady() && storage.failure() === null,
    });
    try {
      httpAddress = await http.listen(httpListen.host, httpListen.port);
    } catch (err) {
      const f = describeListenFailure(err, [{ key: 'http.listen', ...httpListen }]);
      events.emit({ event: 'error', where: 'listen', error: f.error, reason: f.reason, hint: f.hint });
      await supervisor.stop(0);
      await outbox.stop();
      await retention.stop();
      return fail(listenFailureText(f));
    }
    events.emit({ event: 'listening', host: httpAddress.address, port: httpAddress.port, proto: 'http' });
  }
  await writeRuntimeFile(runtimeFile, {
    pid: process.pid,
    started: new Date().toISOString(),
    smtp,
    http: httpAddress && { host: httpAddress.address, port: httpAddress.port },
  }).catch((err: unknown) => events.emit({ event: 'error', where: 'runtime-file', error: errorText(err) }));
  started = true;
  if (stopRequested) drainAndExit();
  return exit;
}
