// The cluster's pure parts and its in-process plumbing: the restart back-off, which role `serve` plays,
// the `server.workers` key and its environment override, the IPC state store (forwarded to the
// primary's memory store, answered locally when the primary is slow or gone, one `state` event per
// change), and the workers' log destination (whole lines, one message per turn of the event loop).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createIpcLogDestination } from '../../src/cluster/ipc-log.js';
import { answerStateCalls, createIpcStore, STATE_OPS } from '../../src/cluster/ipc-store.js';
import type { PrimaryMessage, WorkerMessage } from '../../src/cluster/messages.js';
import { HEALTHY_RUN_MS, nextQuickExits, restartDelayMs } from '../../src/cluster/restart-delay.js';
import { replacementListen, serveRole, WORKER_ID_ENV, WORKER_LISTEN_ENV, workerCount } from '../../src/cluster/role.js';
import { createMemoryStore } from '../../src/state/memory.js';
import type { StateStore } from '../../src/state/store.js';
import { baseConfig, loadTestConfig, writeConfig } from '../helpers/start-app.js';

type Reply = Extract<PrimaryMessage, { cg: 'state-reply' }>;

describe('restartDelayMs', () => {
  it.each([
    [0, 0],
    [1, 0],
    [2, 1_000],
    [3, 2_000],
    [4, 4_000],
    [7, 32_000],
    [8, 60_000],
    [50, 60_000],
  ])('after %i quick exits in a row: %i ms', (quick, ms) => expect(restartDelayMs(quick)).toBe(ms));

  it.each([
    [0, 100, 1],
    [3, HEALTHY_RUN_MS - 1, 4],
    [3, HEALTHY_RUN_MS, 0],
    [0, 3_600_000, 0],
  ])('%i quick exits, then one that lived %i ms: %i', (prev, lived, next) =>
    expect(nextQuickExits(prev, lived)).toBe(next),
  );
});

describe('serveRole and workerCount', () => {
  const { configPath } = writeConfig(baseConfig({ server: { workers: 3 } }));
  const three = loadTestConfig(configPath, '/srv/data');
  const { configPath: autoPath } = writeConfig(baseConfig({ server: { workers: 'auto' } }));
  const auto = loadTestConfig(autoPath, '/srv/data');
  const { configPath: onePath } = writeConfig(baseConfig());
  const one = loadTestConfig(onePath, '/srv/data');

  it.each([
    ['the default (1): one process', one, false, {}, 4, { kind: 'single' }],
    ['3: a primary of three', three, false, {}, 1, { kind: 'primary', workers: 3 }],
    ['auto on 4 CPUs', auto, false, {}, 4, { kind: 'primary', workers: 4 }],
    ['auto on 1 CPU: one process', auto, false, {}, 1, { kind: 'single' }],
    ['a forked worker', three, true, { [WORKER_ID_ENV]: '2' }, 4, { kind: 'worker', id: 2 }],
    ['a forked worker without an id', three, true, {}, 4, { kind: 'worker', id: 1 }],
  ])('%s', (_name, config, isWorker, env, cpus, role) =>
    expect(serveRole(config, env, isWorker, () => cpus)).toEqual(role),
  );

  it('auto is never below one', () => expect(workerCount('auto', () => 0)).toBe(1));

  it('a worker binds what the primary says, not the file', () => {
    expect(replacementListen({ [WORKER_LISTEN_ENV]: '{"host":"0.0.0.0","port":25}' })).toEqual({
      host: '0.0.0.0',
      port: 25,
    });
    expect(replacementListen({})).toBeNull();
    expect(replacementListen({ [WORKER_LISTEN_ENV]: 'junk' })).toBeNull();
  });
});

describe('server.workers in the configuration', () => {
  it.each([
    [{ server: { workers: 'auto' } }, {}, 'auto'],
    [{ server: { workers: 4 } }, {}, 4],
    [{}, {}, 1],
    [{}, { CATCHALL_GUARD_WORKERS: 'auto' }, 'auto'],
    [{ server: { workers: 4 } }, { CATCHALL_GUARD_WORKERS: '2' }, 2],
  ])('%j with %j: %j', (raw, env, workers) => {
    const { configPath } = writeConfig(baseConfig(raw));
    const r = loadConfig({ configPath, env });
    expect(r.ok && r.config.server.workers).toBe(workers);
  });

  it.each([
    [{ server: { workers: 0 } }, {}, 'server.workers', 'expected a number of processes (1 to 256) or auto'],
    [{ server: { workers: 'many' } }, {}, 'server.workers', 'expected a number of processes (1 to 256) or auto'],
    [
      {},
      { CATCHALL_GUARD_WORKERS: 'two' },
      'CATCHALL_GUARD_WORKERS',
      'expected a number of processes or auto, got "two"',
    ],
  ])('%j with %j: %s %s', (raw, env, keyPath, message) => {
    const { configPath } = writeConfig(baseConfig(raw));
    const r = loadConfig({ configPath, env });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toContainEqual({ path: keyPath, message });
  });
});

/** A channel whose primary end runs `answerStateCall` on a real memory store, with a delay or not at all. */
function channel(
  primary: StateStore,
  opts: { delayMs?: number; connected?: () => boolean; answer?: () => boolean } = {},
) {
  const listeners = new Set<(m: Reply) => void>();
  const sent: WorkerMessage[] = [];
  return {
    sent,
    send(m: WorkerMessage): boolean {
      if (opts.connected && !opts.connected()) return false;
      sent.push(m);
      if (m.cg !== 'state' || (opts.answer && !opts.answer())) return true;
      setTimeout(() => void answerStateCalls(primary, m, (r) => listeners.forEach((l) => l(r))), opts.delayMs ?? 0);
      return true;
    },
    onReply(l: (m: Reply) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

describe('the IPC state store', () => {
  it('every operation reaches the one store of the primary: two workers count together', async () => {
    const host = createMemoryStore();
    const w1 = createIpcStore(channel(host));
    const w2 = createIpcStore(channel(host));
    expect(await w1.incr('unknown:192.0.2.1', 3_600_000)).toBe(1);
    expect(await w2.incr('unknown:192.0.2.1', 3_600_000)).toBe(2);
    expect(await w1.count('unknown:192.0.2.1')).toBe(2);
    expect(await w1.setShare('conn:192.0.2.1', 'h/1', 3, 60_000)).toBe(3);
    expect(await w2.setShare('conn:192.0.2.1', 'h/2', 2, 60_000)).toBe(5);
    expect(await w2.sumShares('conn:192.0.2.1')).toBe(5);
    expect(await w1.claim('notice-pair:a', 'x', 60_000)).toBe(true);
    expect(await w2.claim('notice-pair:a', 'y', 60_000)).toBe(false);
    await w2.release('notice-pair:a', 'y');
    expect(await w1.get('notice-pair:a')).toBe('x');
    await w1.set('verify:a@b', 'exists', 60_000);
    expect(await w2.get('verify:a@b')).toBe('exists');
    const opts = { nowMs: 10_000, windowMs: 3_600_000, limit: 2 };
    expect((await w1.windowAdd('notice-hour', 'q1', 10_000, opts)).added).toBe(true);
    expect((await w2.windowAdd('notice-hour', 'q2', 10_000, opts)).added).toBe(true);
    expect(await w1.windowAdd('notice-hour', 'q3', 10_000, opts)).toEqual({ added: false, count: 2, oldestMs: 10_000 });
    expect(await w2.windowView('notice-hour', 10_000, 3_600_000)).toEqual({ count: 2, oldestMs: 10_000 });
  });

  it('every operation of the interface but close crosses the channel', () => {
    const methods = Object.keys(createMemoryStore()).filter((k) => k !== 'close');
    expect([...STATE_OPS].sort()).toEqual(methods.sort());
  });

  it('a primary that does not answer in time: the worker answers from its own memory, says so once, and says when it is back', async () => {
    const host = createMemoryStore();
    let answering = false;
    const changes: Array<[boolean, string | null]> = [];
    const w = createIpcStore({
      ...channel(host, { answer: () => answering }),
      timeoutMs: 50,
      onChange: (ok, failure) => changes.push([ok, failure]),
    });
    expect(await w.incr('k', 60_000)).toBe(1);
    expect(await w.incr('k', 60_000)).toBe(2);
    expect(changes).toEqual([[false, 'state-timeout']]);
    expect(await host.count('k')).toBe(0);
    answering = true;
    expect(await w.incr('k', 60_000)).toBe(1);
    expect(changes).toEqual([
      [false, 'state-timeout'],
      [true, null],
    ]);
  });

  it('a primary that is gone: answered locally at once, without waiting for the bound', async () => {
    const w = createIpcStore({ ...channel(createMemoryStore(), { connected: () => false }), timeoutMs: 60_000 });
    const t0 = Date.now();
    expect(await w.claim('c', 'v', 1_000)).toBe(true);
    expect(await w.claim('c', 'v', 1_000)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('an operation the primary does not know is refused there, and answered locally', async () => {
    const replies: Reply[] = [];
    await answerStateCalls(
      createMemoryStore(),
      {
        cg: 'state',
        calls: [
          { id: 7, op: 'flushall', args: [] },
          { id: 8, op: 'incr', args: ['k', 1000] },
        ],
      },
      (r) => replies.push(r),
    );
    expect(replies).toEqual([
      {
        cg: 'state-reply',
        replies: [
          { id: 7, ok: false, error: 'unknown operation flushall' },
          { id: 8, ok: true, value: 1 },
        ],
      },
    ]);
  });

  it('the calls of one turn travel as one message, answered as one', async () => {
    const host = createMemoryStore();
    const ch = channel(host);
    const w = createIpcStore(ch);
    const results = await Promise.all([
      w.incr('a', 1000),
      w.incr('a', 1000),
      w.setShare('c', 'h/1', 2, 1000),
      w.count('a'),
    ]);
    expect(results).toEqual([1, 2, 2, 2]);
    expect(ch.sent).toHaveLength(1);
    expect(ch.sent[0]).toMatchObject({
      cg: 'state',
      calls: [{ op: 'incr' }, { op: 'incr' }, { op: 'setShare' }, { op: 'count' }],
    });
  });
});

describe('the workers’ log destination', () => {
  it('gathers lines into one message of whole lines, and flush sends them now and waits for the channel', async () => {
    const sent: WorkerMessage[] = [];
    const callbacks: Array<() => void> = [];
    const d = createIpcLogDestination((m, cb) => {
      sent.push(m);
      callbacks.push(() => cb(null));
    });
    d.write('{"a":1}\n');
    d.write('{"b":2}\n');
    let flushed = false;
    d.flush(() => (flushed = true));
    expect(sent).toEqual([{ cg: 'log', lines: '{"a":1}\n{"b":2}\n' }]);
    expect(flushed).toBe(false);
    callbacks.forEach((c) => c());
    expect(flushed).toBe(true);
    // alone, a line waits a little for company, then goes
    d.write('{"c":3}\n');
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 60));
    expect(sent).toEqual([
      { cg: 'log', lines: '{"a":1}\n{"b":2}\n' },
      { cg: 'log', lines: '{"c":3}\n' },
    ]);
  });

  it('drops lines past its backlog instead of growing without bound', async () => {
    const sent: WorkerMessage[] = [];
    const d = createIpcLogDestination((m) => sent.push(m)); // a channel that never confirms
    const line = `${'x'.repeat(1024 * 1024 - 1)}\n`;
    for (let i = 0; i < 40; i++) {
      d.write(line);
      await new Promise((r) => setImmediate(r));
    }
    const bytes = sent.reduce((n, m) => n + (m.cg === 'log' ? m.lines.length : 0), 0);
    expect(bytes).toBe(16 * line.length);
  });
});
