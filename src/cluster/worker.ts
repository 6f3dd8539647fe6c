// A cluster worker process: one SMTP listener on the port the primary shares out. Its log lines go to
// the primary (ipc-log.ts) with `worker: <id>` on each; signals are the primary's to fan out (a SIGTERM
// or SIGINT that reaches the whole process group — Ctrl-C, `kill -- -PGID` — drains here as well, once).
import { describeListenFailure, type ListenTarget } from '../cli/listen-failure.js';
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from '../cli/exit-codes.js';
import { SHUTDOWN_GRACE_MS } from '../cli/serve.js';
import { loadConfig, type Config } from '../config/load.js';
import { formatIssues } from '../config/issues.js';
import { createEventSink, type EventSink } from '../observability/events.js';
import { buildStateStore } from '../state/build.js';
import type { StateStore } from '../state/store.js';
import { THIS_INSTANCE } from '../storage/instance-id.js';
import { createIpcStore } from './ipc-store.js';
import { createLogger } from '../observability/logger.js';
import { createIpcLogDestination, sendToPrimary } from './ipc-log.js';
import { isOurs, type PrimaryMessage } from './messages.js';
import { replacementListen } from './role.js';
import { createWorkerApp } from './worker-app.js';

const stateReplies = new Set<(m: Extract<PrimaryMessage, { cg: 'state-reply' }>) => void>();

/** `state.type: memory`: the primary's store, over IPC; `redis`: Redis itself, as a single process would. */
function workerState(
  config: Config,
  events: EventSink,
): { readonly store: StateStore; start(): Promise<void>; close(): Promise<void> } {
  if (config.state.type === 'redis') return buildStateStore(config.state, events);
  const store = createIpcStore({
    send: (m) => {
      if (!process.connected) return false;
      sendToPrimary(m);
      return true;
    },
    onReply: (l) => {
      stateReplies.add(l);
      return () => stateReplies.delete(l);
    },
    onChange: (ok, failure) =>
      events.emit(
        ok
          ? { event: 'state', ok: true, type: 'primary' }
          : { event: 'state', ok: false, type: 'primary', reason: failure ?? 'state-unreachable' },
      ),
  });
  return { store, start: async () => undefined, close: () => store.close() };
}

export async function runWorker(config: Config, configPath: string, id: number): Promise<ExitCode> {
  const destination = createIpcLogDestination();
  const log = createLogger(config.log.level, destination).child({ worker: id });
  const events = createEventSink(log);
  const state = workerState(config, events);
  const app = createWorkerApp(config, {
    events,
    state: state.store,
    stateHolder: { holder: `${THIS_INSTANCE}/${id}`, host: THIS_INSTANCE },
    workerId: id,
    onQuarantined: (qid, lane) => sendToPrimary({ cg: 'kick', qid, lane }),
  });
  // a write that failed on the disk is the storage check's earliest sign; the check is the primary's
  events.subscribe((e) => {
    if (e.event === 'message' && e.outcome === 'temporary' && e.reason?.startsWith('storage-'))
      sendToPrimary({ cg: 'storage-suspect' });
  });

  let stopping = false;
  let started = false;
  let draining = false;
  let resolveExit: (code: ExitCode) => void = () => undefined;
  const exit = new Promise<ExitCode>((resolve) => (resolveExit = resolve));
  const flushed = (): Promise<void> => new Promise((resolve) => log.flush(() => resolve()));

  const stop = (): void => {
    stopping = true;
    // a stop during start-up is honoured once the listener is up
    if (!started || draining) return;
    draining = true;
    void app.stop(SHUTDOWN_GRACE_MS).then(async () => {
      await state.close();
      await flushed();
      resolveExit(EXIT_OK);
    });
  };
  const reload = (): void => {
    if (stopping) return;
    const r = loadConfig({ configPath });
    if (!r.ok) {
      events.emit({ event: 'reload', ok: false, what: 'config', error: formatIssues(r.issues).replace(/\n/g, '; ') });
      return;
    }
    log.level = r.config.log.level;
    app.reload(r.config);
  };

  process.on('message', (m: unknown) => {
    if (!isOurs<PrimaryMessage>(m)) return;
    switch (m.cg) {
      case 'storage':
        app.setStorageFailure(m.failure);
        break;
      case 'reload':
        reload();
        break;
      case 'stop':
        stop();
        break;
      case 'state-reply':
        for (const l of stateReplies) l(m);
        break;
      case 'metrics-request':
        void app.registry.getMetricsAsJSON().then(
          (metrics) => sendToPrimary({ cg: 'metrics', id: m.id, metrics }),
          () => undefined,
        );
        break;
      default:
        break;
    }
  });
  // the primary is gone (killed): no new sessions will come; finish the ones open and leave
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // SIGHUP is the primary's to fan out; without a handler a hang-up of the whole group would kill us
  process.on('SIGHUP', () => undefined);

  const listen = replacementListen() ?? config.server.listen;
  // Redis: waits at most state.timeout, never fails (an outage is a `state` event)
  await state.start();
  try {
    const addr = await app.start(listen);
    sendToPrimary({ cg: 'ready', host: addr.address, port: addr.port });
  } catch (err) {
    const targets: ListenTarget[] = [{ key: 'server.listen', ...listen }];
    const failure = describeListenFailure(err, targets);
    // the primary logs it once and says it on stderr, for every worker that failed alike
    await new Promise<unknown>((resolve) => sendToPrimary({ cg: 'listen-failed', failure }, resolve));
    await app.stop(0).catch(() => undefined);
    await flushed();
    return EXIT_FAILURE;
  }
  started = true;
  if (stopping) stop();
  return exit;
}
