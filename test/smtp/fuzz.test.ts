// Seeded fuzzing of a CHILD-process server: thousands of valid-then-mutated SMTP sessions at
// concurrency 20. The server must answer only well-formed SMTP replies, never die, not grow without
// bound, leave no temp files, and still deliver a well-formed message afterwards.
// Reproduce a run with FUZZ_SEED=<seed>; one session alone: generateSession(mulberry32(sessionSeed(seed, i))).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { pollUntil, tempLeftovers } from '../helpers/files.js';
import { cpuSeconds, ensureBuilt, mib, rssKiB, runFuzzSession } from '../helpers/fuzz-child.js';
import { generateSession, mulberry32, sessionSeed } from '../helpers/fuzz-gen.js';
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';

const SEED = process.env['FUZZ_SEED'] ? Number(process.env['FUZZ_SEED']) >>> 0 : 0x5eed2026;
const SESSIONS = process.env['FUZZ_SESSIONS'] ? Number(process.env['FUZZ_SESSIONS']) : 5000;
const CONCURRENCY = 20;
/** Hard stop for the session loop; the assertion on the count tells when it was hit. */
const LOOP_DEADLINE_MS = Math.max(90_000, SESSIONS * 15);
/** Sessions run before the RSS baseline is taken (not counted in SESSIONS). */
const WARMUP = 1000;
const MARK = `FUZZBODY${SEED.toString(36)}`;

let server: ChildServer;
let dir: string;
let dataDir: string;

beforeAll(async () => {
  await ensureBuilt();
  const cfg = writeConfig(
    baseConfig({
      server: {
        greetDelay: 0,
        socketTimeout: '3s',
        maxConnections: 1000,
        maxConnectionsPerIp: 0, // 0 = no limit (policy/limits.ts)
        maxUnknownRecipientsPerIp: 0, // 0 = no limit (policy/decide.ts, gateway connect)
        maxMessageSize: '1MB',
      },
      domains: [
        { name: 'example.test', unknownRecipients: 'reject', recipients: ['alice', 'bob', 'shop-*', 'jörg'] },
        { name: 'q.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
        { name: 'o.test', unknownRecipients: 'observe', recipients: ['alice'], observeMailbox: 'alice' },
      ],
    }),
  );
  dir = cfg.dir;
  dataDir = cfg.dataDir;
  // FUZZ_CHILD_NODE_OPTIONS (e.g. --max-old-space-size=48) runs the child with a small heap: a leak then ends in an OOM crash
  // the server as shipped (npm start, the container) runs with --max-semi-space-size=4
  const nodeOptions = process.env['FUZZ_CHILD_NODE_OPTIONS'] ?? '--max-semi-space-size=4';
  // the child logs into a file: through a pipe, this busy process would drain its ~7 lines per session
  // late and the child's RSS would measure our backlog, not the server
  server = await spawnServer(
    cfg.configPath,
    { CATCHALL_GUARD_DATA_DIR: dataDir, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    { stdoutFile: path.join(dir, 'server.log') },
  );
}, 120_000);

afterAll(async () => {
  if (server) {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function pct(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0;
}

interface BatchStats {
  done: number;
  noReply: number;
  closedByServer: number;
  connectErrors: number;
  readonly byClass: Record<string, number>;
  readonly byCode: Map<string, number>;
  readonly badLines: string[];
  readonly durations: number[];
}

/** Sessions [from, from + count) of the seeded stream, CONCURRENCY at a time, until done or `deadline`. */
async function runBatch(port: number, from: number, count: number, deadline: number): Promise<BatchStats> {
  const stats: BatchStats = {
    done: 0,
    noReply: 0,
    closedByServer: 0,
    connectErrors: 0,
    byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 },
    byCode: new Map(),
    badLines: [],
    durations: [],
  };
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < from + count && Date.now() < deadline) {
      const i = next++;
      const s = generateSession(mulberry32(sessionSeed(SEED, i)), MARK);
      const t0 = Date.now();
      const out = await runFuzzSession(port, s.chunks, { waitGreeting: s.waitGreeting });
      stats.durations.push(Date.now() - t0);
      stats.done++;
      if (out.connectError) stats.connectErrors++;
      if (out.closedByServer) stats.closedByServer++;
      // the banner is the first reply; a session with nothing after it got no answer
      if (out.replies.length <= 1) stats.noReply++;
      for (const r of out.replies.slice(1)) {
        const cls = `${r[0]}xx`;
        stats.byClass[cls] = (stats.byClass[cls] ?? 0) + 1;
        const code = r.slice(0, 3);
        stats.byCode.set(code, (stats.byCode.get(code) ?? 0) + 1);
      }
      for (const l of out.badLines)
        if (stats.badLines.length < 20)
          stats.badLines.push(`session ${i} [${s.recipe.join(' ')}]: ${JSON.stringify(l.slice(0, 200))}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
  return stats;
}

describe('SMTP fuzzing (child process)', () => {
  it(
    `${SESSIONS} random and mutated sessions at concurrency ${CONCURRENCY}: no crash, bounded RSS, no temp files`,
    async () => {
      const pid = server.proc.pid;
      if (pid === undefined) throw new Error('child has no pid');
      await new Promise((r) => setTimeout(r, 500));
      const cold = rssKiB(pid) ?? 0;
      // Warm-up: on its first burst a fresh process grows its RSS by 40 to 100 MiB (V8 young/old space not
      // collected yet, malloc memory it keeps) and does not give it back. That is not a leak: run with
      // FUZZ_CHILD_NODE_OPTIONS="--expose-gc --import=<a module calling gc() every 2 s>", heapUsed after a
      // full GC stayed at 25 MiB over 20,000 sessions. A baseline taken after the warm-up measures what the
      // measured run adds, which is what a leak would show.
      const warm = await runBatch(server.port, SESSIONS, WARMUP, Date.now() + 30_000);
      await new Promise((r) => setTimeout(r, 1000));
      const before = rssKiB(pid) ?? 0;
      let peak = before;
      const sampler = setInterval(() => {
        const v = rssKiB(pid);
        if (v !== null && v > peak) peak = v;
      }, 200);
      const started = Date.now();
      let stats: BatchStats;
      try {
        stats = await runBatch(server.port, 0, SESSIONS, started + LOOP_DEADLINE_MS);
      } finally {
        clearInterval(sampler);
      }
      const { byClass, byCode, badLines, durations, done, noReply, closedByServer } = stats;
      const connectErrors = stats.connectErrors + warm.connectErrors;
      badLines.push(...warm.badLines);
      const loopMs = Date.now() - started;

      // let aborted transactions unwind and V8 give back the heap it grew for the burst (its memory
      // reducer acts after a few idle seconds): the lowest RSS within 10 s is what the server keeps
      await new Promise((r) => setTimeout(r, 2000));
      let after = rssKiB(pid) ?? Number.NaN;
      for (let waited = 0; waited < 8000 && after - before >= 32 * 1024; waited += 500) {
        await new Promise((r) => setTimeout(r, 500));
        after = Math.min(after, rssKiB(pid) ?? Number.NaN);
      }
      const leftovers = await pollUntil(
        () => (tempLeftovers(dataDir).length === 0 ? [] : undefined),
        'temp files to go',
        8000,
      ).catch(() => tempLeftovers(dataDir));

      const errorEvents = server.lines.filter((l) => l['event'] === 'error' || l['unparsed'] !== undefined);
      const stored = server.lines.filter((l) => l['event'] === 'message' && l['outcome'] === 'stored').length;
      console.log(
        [
          `fuzz seed=${SEED} (0x${SEED.toString(16)}) sessions=${done} in ${(loopMs / 1000).toFixed(1)}s, concurrency=${CONCURRENCY}`,
          `replies by class: ${JSON.stringify(byClass)}; by code: ${JSON.stringify(Object.fromEntries([...byCode].sort()))}`,
          `sessions without a reply after the banner: ${noReply}; closed by the server: ${closedByServer}; connect errors: ${connectErrors}`,
          `messages stored (warm-up included): ${stored}; error log events: ${errorEvents.length}; log lines: ${server.lines.length}`,
          `session ms: p50=${pct(durations, 0.5)} p90=${pct(durations, 0.9)} p99=${pct(durations, 0.99)} max=${pct(durations, 1)}; child CPU s: ${cpuSeconds(pid)}`,
          `child RSS MiB: at start=${mib(cold)}, before (after ${warm.done} warm-up sessions)=${mib(before)} peak=${mib(peak)} after=${mib(after)} (delta ${mib(after - before)}; since start ${mib(after - cold)})`,
        ].join('\n'),
      );

      expect(server.proc.exitCode).toBeNull();
      expect(server.proc.signalCode).toBeNull();
      expect(connectErrors).toBe(0);
      // every session of the seeded stream ran: the loop did not hit its deadline
      expect(done).toBe(SESSIONS);
      expect(warm.done).toBe(WARMUP);
      expect(badLines).toEqual([]);
      expect(errorEvents).toEqual([]);
      expect(server.stderr()).toBe('');
      expect(after - before).toBeLessThan(64 * 1024);
      // a coarse guard from a cold start as well: first-burst growth was 40–100 MiB in runs so far
      expect(after - cold).toBeLessThan(160 * 1024);
      expect(leftovers).toEqual([]);
      // message bodies never reach the log. A mutation can legitimately move body text into the header
      // block (a dropped blank line) or into an envelope command, so header-derived and envelope fields
      // are left out; anything else carrying the marker (detail, error, …) would be a body leak.
      const HEADER_OR_ENVELOPE = new Set(['messageId', 'subject', 'headerFrom', 'from', 'rcpt']);
      const leaks = server.lines.filter((l) =>
        Object.entries(l).some(([k, v]) => !HEADER_OR_ENVELOPE.has(k) && JSON.stringify(v).includes(MARK)),
      );
      expect(leaks).toEqual([]);

      // and the server still does its job
      const ok = await sendMessage(server.port, {
        from: 'after@client.test',
        to: ['alice@example.test'],
        raw: simpleMessage({ messageId: '<after-fuzz@client.test>' }),
      });
      expect(ok.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
      expect(tempLeftovers(dataDir)).toEqual([]);
    },
    LOOP_DEADLINE_MS + 90_000,
  );
});
