// The state store of a cluster worker with `state.type: memory`: the same interface as
// src/state/store.ts, every call forwarded to the primary, which holds the one memory store of the
// host (SPEC §4: with several workers every limit counts once for the host). A call the primary does
// not answer within IPC_STATE_TIMEOUT_MS, or any call once the primary is gone, is answered by the
// worker's own memory store instead, as the Redis fallback does: mail keeps flowing, and the limits
// are per worker meanwhile. `state.type: redis` needs none of this: each worker talks to Redis itself.
// The calls of one turn of the event loop (every session's) travel as one message and are answered
// as one: an IPC message costs both processes a system call each way, which under a burst of sessions
// (seven calls per rejected session) was most of what the cluster added.
import { createMemoryStore } from '../state/memory.js';
import type { StateFailure, StateStore } from '../state/store.js';
import type { PrimaryMessage, StateCall, StateReply, WorkerMessage } from './messages.js';

/** The primary answers from memory in microseconds; a second means its event loop is held up. */
export const IPC_STATE_TIMEOUT_MS = 1_000;

/** The operations that cross the channel: all of the interface but close(). */
export const STATE_OPS = [
  'incr',
  'count',
  'get',
  'set',
  'claim',
  'release',
  'setShare',
  'sumShares',
  'windowAdd',
  'windowView',
] as const satisfies ReadonlyArray<keyof StateStore>;
export type StateOp = (typeof STATE_OPS)[number];

type Reply = Extract<PrimaryMessage, { cg: 'state-reply' }>;

export interface IpcStoreDeps {
  /** False when the message could not be handed to the channel (no primary). */
  readonly send: (m: WorkerMessage) => boolean;
  /** Subscribes to the primary's replies; returns the unsubscribe. */
  readonly onReply: (listener: (m: Reply) => void) => () => void;
  readonly timeoutMs?: number;
  /** Where calls go while the primary does not answer; a memory store of this worker by default. */
  readonly fallback?: StateStore;
  /** The primary stopped answering (`ok: false`) or answers again (`ok: true`): the `state` event. */
  readonly onChange?: (ok: boolean, failure: StateFailure | null) => void;
}

export function createIpcStore(deps: IpcStoreDeps): StateStore {
  const timeoutMs = deps.timeoutMs ?? IPC_STATE_TIMEOUT_MS;
  const fallback = deps.fallback ?? createMemoryStore();
  const waiting = new Map<number, { resolve: (r: StateReply | StateFailure) => void; timer: NodeJS.Timeout }>();
  let batch: StateCall[] = [];
  let scheduled = false;
  let nextId = 1;
  let ok = true;

  function settle(id: number, r: StateReply | StateFailure): void {
    const w = waiting.get(id);
    if (!w) return; // answered after its timeout: the fallback has answered already
    waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(r);
  }

  const unsubscribe = deps.onReply((m) => {
    for (const r of m.replies) settle(r.id, r);
  });

  function flush(): void {
    scheduled = false;
    const calls = batch;
    batch = [];
    if (calls.length > 0 && !deps.send({ cg: 'state', calls }))
      for (const c of calls) settle(c.id, 'state-unreachable');
  }

  function health(now: boolean, failure: StateFailure | null): void {
    if (now === ok) return;
    ok = now;
    deps.onChange?.(now, failure);
  }

  function ask(op: StateOp, args: readonly unknown[]): Promise<StateReply | StateFailure> {
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(id, 'state-timeout'), timeoutMs);
      timer.unref();
      waiting.set(id, { resolve, timer });
      batch.push({ id, op, args });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  }

  async function call<K extends StateOp>(
    op: K,
    ...args: Parameters<StateStore[K]>
  ): Promise<Awaited<ReturnType<StateStore[K]>>> {
    const local = (): Promise<Awaited<ReturnType<StateStore[K]>>> =>
      (fallback[op] as (...a: Parameters<StateStore[K]>) => Promise<Awaited<ReturnType<StateStore[K]>>>)(...args);
    const r = await ask(op, args);
    if (typeof r === 'string') {
      health(false, r);
      return local();
    }
    if (!r.ok) {
      // the primary's store failed this call (a bug there, not a lost primary): answer locally, say why
      health(false, 'state-unreachable');
      return local();
    }
    health(true, null);
    return r.value as Awaited<ReturnType<StateStore[K]>>;
  }

  return {
    incr: (...a) => call('incr', ...a),
    count: (...a) => call('count', ...a),
    get: (...a) => call('get', ...a),
    set: (...a) => call('set', ...a),
    claim: (...a) => call('claim', ...a),
    release: (...a) => call('release', ...a),
    setShare: (...a) => call('setShare', ...a),
    sumShares: (...a) => call('sumShares', ...a),
    windowAdd: (...a) => call('windowAdd', ...a),
    windowView: (...a) => call('windowView', ...a),
    async close() {
      unsubscribe();
      for (const w of waiting.values()) clearTimeout(w.timer);
      waiting.clear();
      await fallback.close();
    },
  };
}

const isOp = (op: string): op is StateOp => (STATE_OPS as readonly string[]).includes(op);

/** The primary's side: one worker's calls, run on the host's store in order, answered in one message. */
export async function answerStateCalls(
  store: StateStore,
  m: Extract<WorkerMessage, { cg: 'state' }>,
  reply: (r: Reply) => void,
): Promise<void> {
  const replies = await Promise.all(m.calls.map((c) => answerOne(store, c)));
  reply({ cg: 'state-reply', replies });
}

async function answerOne(store: StateStore, c: StateCall): Promise<StateReply> {
  if (!isOp(c.op)) return { id: c.id, ok: false, error: `unknown operation ${c.op}` };
  try {
    const value = await (store[c.op].bind(store) as (...args: unknown[]) => Promise<unknown>)(...c.args);
    return { id: c.id, ok: true, value: value ?? null };
  } catch (err) {
    return { id: c.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
