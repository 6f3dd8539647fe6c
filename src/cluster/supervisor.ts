// The primary's workers: forks N SMTP worker processes on one port (node:cluster: one listening socket,
// shared by all), replaces one that exits while the server runs, and stops them all on shutdown. Each worker keeps its number (1…N) across
// replacements; log lines and `worker` events carry it.
import cluster, { type Worker } from 'node:cluster';
import type { ListenFailure } from '../cli/listen-failure.js';
import type { EventSink } from '../observability/events.js';
import { isOurs, type PrimaryMessage, type WorkerMessage } from './messages.js';
import { nextQuickExits, restartDelayMs } from './restart-delay.js';
import { WORKER_ID_ENV, WORKER_LISTEN_ENV } from './role.js';

/** After the drain bound, a worker still running is killed: the primary's exit must not wait on it. */
const STOP_MARGIN_MS = 5_000;

export class WorkerStartError extends Error {
  constructor(
    message: string,
    /** Set when the worker said its listener could not be bound. */
    readonly failure: ListenFailure | null,
  ) {
    super(message);
  }
}

interface Slot {
  readonly id: number;
  worker: Worker | null;
  startedAt: number;
  ready: boolean;
  quickExits: number;
  /** The pid the next process of this slot replaces. */
  replaces: number | null;
  restartTimer: NodeJS.Timeout | null;
}

export interface Supervisor {
  /** Forks every worker; resolves once all listen, rejects when one cannot (the others are stopped). */
  start(): Promise<{ readonly host: string; readonly port: number }>;
  /** Every worker's listener is up (none is being replaced). */
  allReady(): boolean;
  /** The live workers, for fan-out (reload, storage verdicts, metrics). */
  live(): readonly Worker[];
  send(worker: Worker, m: PrimaryMessage): void;
  broadcast(m: PrimaryMessage): void;
  /** Each worker drains (as one process does on SIGTERM); resolves when all have exited. */
  stop(graceMs: number): Promise<'drained' | 'killed'>;
  /** A second signal: every worker exits at once. */
  exitNow(): void;
}

export interface SupervisorDeps {
  readonly count: number;
  /**
   * `server.listen` as the primary started: every worker, a replacement too, listens with these very
   * arguments, so node:cluster hands them one shared socket (a `port: 0` included; the port actually
   * bound, asked for by a replacement, would be a second socket and EADDRINUSE).
   */
  readonly listen: { readonly host: string; readonly port: number };
  readonly events: EventSink;
  /** Messages a worker sends that are not about its own start (logs, kicks, state calls, metrics). */
  readonly onMessage: (worker: Worker, m: WorkerMessage) => void;
  /** A replacement just listens: what the primary tells it on arrival (the storage verdict). */
  readonly onReady?: (worker: Worker) => void;
  /** A worker died while the server runs: what it left behind is cleared before its replacement starts. */
  readonly onExited?: (id: number, pid: number) => Promise<void>;
}

export function createSupervisor(deps: SupervisorDeps): Supervisor {
  const { events } = deps;
  const slots: Slot[] = Array.from({ length: deps.count }, (_, i) => ({
    id: i + 1,
    worker: null,
    startedAt: 0,
    ready: false,
    quickExits: 0,
    replaces: null,
    restartTimer: null,
  }));
  let address: { host: string; port: number } | null = null;
  let stopping = false;
  let starting: { resolve: () => void; reject: (e: WorkerStartError) => void } | null = null;
  const exitWaiters = new Set<() => void>();

  const send = (worker: Worker, m: PrimaryMessage): void => {
    if (!worker.isConnected()) return;
    try {
      worker.send(m);
    } catch {
      // the channel closed between the check and the send: its exit is handled below
    }
  };

  function fork(slot: Slot): void {
    // a replacement binds the address the others serve, whatever the configuration file says by now
    const env = { [WORKER_ID_ENV]: String(slot.id), [WORKER_LISTEN_ENV]: JSON.stringify(deps.listen) };
    const worker = cluster.fork(env);
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.ready = false;
    const pid = worker.process.pid ?? 0;
    worker.on('message', (m: unknown) => {
      if (!isOurs<WorkerMessage>(m)) return;
      if (m.cg === 'ready') {
        slot.ready = true;
        address ??= { host: m.host, port: m.port };
        events.emit({
          event: 'worker',
          action: 'started',
          id: slot.id,
          pid,
          ...(slot.replaces !== null ? { replaces: slot.replaces } : {}),
        });
        slot.replaces = null;
        deps.onReady?.(worker);
        if (starting && slots.every((s) => s.ready)) starting.resolve();
        return;
      }
      if (m.cg === 'listen-failed') {
        const f = m.failure;
        if (starting) starting.reject(new WorkerStartError(f.error, f));
        // the others of a failed start say the same: the first one is logged, by start()'s caller
        else if (!stopping)
          events.emit({ event: 'error', where: 'listen', error: f.error, reason: f.reason, hint: f.hint });
        return;
      }
      deps.onMessage(worker, m);
    });
    worker.on('exit', (code: number | null, signal: string | null) => {
      slot.worker = null;
      slot.ready = false;
      if (stopping) {
        events.emit({ event: 'worker', action: 'stopped', id: slot.id, pid, code, signal });
      } else if (starting) {
        starting.reject(
          new WorkerStartError(`worker ${slot.id} exited during start (code ${code}, signal ${signal})`, null),
        );
      } else {
        slot.quickExits = nextQuickExits(slot.quickExits, Date.now() - slot.startedAt);
        const restartInMs = restartDelayMs(slot.quickExits);
        events.emit({ event: 'worker', action: 'exited', id: slot.id, pid, code, signal, restartInMs });
        slot.replaces = pid;
        const cleared = deps.onExited ? deps.onExited(slot.id, pid).catch(() => undefined) : Promise.resolve();
        void cleared.then(() => {
          if (stopping) return;
          slot.restartTimer = setTimeout(() => {
            slot.restartTimer = null;
            if (!stopping) fork(slot);
          }, restartInMs);
        });
      }
      if (slots.every((s) => s.worker === null)) for (const w of [...exitWaiters]) w();
    });
  }

  const live = (): Worker[] => slots.flatMap((s) => (s.worker ? [s.worker] : []));

  function allExited(): Promise<void> {
    if (live().length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        exitWaiters.delete(done);
        resolve();
      };
      exitWaiters.add(done);
    });
  }

  return {
    async start() {
      // the workers accept on the one socket the primary shares out and the kernel picks which (Node's
      // SCHED_NONE, the nearest to SO_REUSEPORT that Node 20 offers): measured on 2 cores, 1.1–1.2 ms of
      // CPU per rejected session in all against 1.5–2.0 ms when the primary accepts every connection
      // and hands it to the next worker (SCHED_RR). The spread is less even (57/43 under load, and an
      // idle server may give a few sessions in a row to one worker); NODE_CLUSTER_SCHED_POLICY=rr
      // chooses round-robin.
      if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
      const ready = new Promise<void>((resolve, reject) => (starting = { resolve, reject }));
      for (const slot of slots) fork(slot);
      try {
        await ready;
      } catch (err) {
        starting = null;
        await this.stop(0);
        throw err;
      }
      starting = null;
      return address ?? { host: '', port: 0 };
    },
    allReady: () => slots.every((s) => s.ready),
    live,
    send,
    broadcast(m) {
      for (const w of live()) send(w, m);
    },
    async stop(graceMs) {
      stopping = true;
      for (const s of slots) {
        if (s.restartTimer) clearTimeout(s.restartTimer);
        s.restartTimer = null;
      }
      for (const w of live()) send(w, { cg: 'stop' });
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'killed'>((resolve) => {
        timer = setTimeout(() => resolve('killed'), graceMs + STOP_MARGIN_MS);
      });
      const r = await Promise.race([allExited().then(() => 'drained' as const), bound]);
      clearTimeout(timer);
      if (r === 'killed') {
        for (const w of live()) w.process.kill('SIGKILL');
        await allExited();
      }
      return r;
    },
    exitNow() {
      stopping = true;
      // as a second signal ends one process at once: whatever a worker is doing, it is not waited for
      for (const w of live()) w.process.kill('SIGKILL');
    },
  };
}
