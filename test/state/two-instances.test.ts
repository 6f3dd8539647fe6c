// Two MX instances (two processes of the built server, two ports, one data volume) and one real
// redis-server (SPEC §4, §11): one harvest budget, one maxConnectionsPerIp, one notice per sender and
// address across both; Redis stopped → mail still answered and a `state` event, restarted → shared
// again; Redis paused → each operation falls back within state.timeout.
import { rmSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../helpers/build-dist.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { RawSmtp, sendVerbatim, type Reply } from '../helpers/smtp-client.js';
import { baseConfig, writeConfig } from '../helpers/start-app.js';
import { startSink, type UpstreamSink } from '../helpers/upstream-sink.js';

beforeAll(() => buildDist(), 240_000);

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const HARVEST = '421 4.7.0 too many unknown recipients from your address, try again later';
const TOO_MANY_IP = '421 4.7.0 too many connections from your address, try again later';

interface Pair {
  readonly a: ChildServer;
  readonly b: ChildServer;
  readonly redis: RedisServer;
}

/** redis-server, then instances A and B on one config and one data directory, each with its own instance id. */
async function twoInstances(
  server: Record<string, unknown>,
  extra: { notices?: Record<string, unknown>; timeout?: string } = {},
): Promise<Pair> {
  const redis = await startRedis();
  cleanup.push(() => redis.stop());
  const raw = {
    ...baseConfig({
      server: { maxUnknownRecipients: 100, ...server },
      domains: [
        { name: 'example.test', unknownRecipients: 'reject', recipients: ['alice'] },
        { name: 'q.example.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
      ],
      ...(extra.notices ? { notices: extra.notices } : {}),
    }),
    state: { type: 'redis', url: redis.url, prefix: 'cg-test:', timeout: extra.timeout ?? '500ms' },
  };
  const { dir, configPath, dataDir } = writeConfig(raw);
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const start = async (id: string): Promise<ChildServer> => {
    const s = await spawnServer(configPath, { CATCHALL_GUARD_DATA_DIR: dataDir, CATCHALL_GUARD_INSTANCE_ID: id });
    cleanup.push(async () => {
      s.proc.kill('SIGTERM');
      await s.exited;
    });
    return s;
  };
  const [a, b] = await Promise.all([start('mx-a'), start('mx-b')]);
  return { a, b, redis };
}

/** One session: EHLO, MAIL, then each RCPT; the replies' last lines. */
async function rcpts(port: number, addresses: readonly string[]): Promise<string[]> {
  const { client, greeting } = await RawSmtp.connect(port);
  try {
    if (greeting?.code !== 220) return [greeting?.line ?? 'no greeting'];
    await client.begin('harvester@client.test');
    const out: string[] = [];
    for (const a of addresses) {
      const r: Reply = await client.cmd(`RCPT TO:<${a}>`);
      out.push(r.line);
      if (r.code === 421) break;
    }
    return out;
  } finally {
    client.close();
  }
}

const unknown = (n: number, from = 0): string[] =>
  Array.from({ length: n }, (_v, i) => `nobody${from + i}@example.test`);
const stateEvent = (ok: boolean) => (l: Record<string, unknown>) => l['event'] === 'state' && l['ok'] === ok;

describe('two MX instances sharing one Redis', () => {
  it('the per-IP harvest budget is one budget: 3 unknown on A, then on B the 6th is refused, and A refuses at the greeting', async () => {
    const { a, b } = await twoInstances({ maxUnknownRecipientsPerIp: 5 });
    const onA = await rcpts(a.port, unknown(3));
    expect(onA).toEqual(
      [0, 1, 2].map((i) => `550 5.1.1 <nobody${i}@example.test>: recipient address rejected: user unknown`),
    );
    const onB = await rcpts(b.port, unknown(3, 3));
    expect(onB).toEqual([
      '550 5.1.1 <nobody3@example.test>: recipient address rejected: user unknown',
      '550 5.1.1 <nobody4@example.test>: recipient address rejected: user unknown',
      HARVEST,
    ]);
    const { client, greeting } = await RawSmtp.connect(a.port);
    client.close();
    expect(greeting?.line).toBe(HARVEST);
  });

  it('maxConnectionsPerIp holds across both; a session closed on B frees a slot for A', async () => {
    const { a, b } = await twoInstances({ maxConnectionsPerIp: 2 });
    const first = await RawSmtp.connect(a.port);
    const second = await RawSmtp.connect(b.port);
    expect([first.greeting?.code, second.greeting?.code]).toEqual([220, 220]);
    const third = await RawSmtp.connect(a.port);
    third.client.close();
    expect(third.greeting?.line).toBe(TOO_MANY_IP);
    const fourth = await RawSmtp.connect(b.port);
    fourth.client.close();
    expect(fourth.greeting?.line).toBe(TOO_MANY_IP);
    second.client.close();
    await b.waitForLine((l) => l['event'] === 'close');
    // the close is written to Redis right after the close event: allow it that moment
    let line = '';
    for (let i = 0; i < 20 && line.slice(0, 3) !== '220'; i++) {
      const again = await RawSmtp.connect(a.port);
      line = again.greeting?.line ?? '';
      if (line.startsWith('220')) cleanup.push(() => again.client.close());
      else {
        again.client.close();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(line).toMatch(/^220 /);
    first.client.close();
  });

  it('one notice per sender and address across both instances', async () => {
    const sink: UpstreamSink = await startSink('accept');
    cleanup.push(() => sink.close());
    const { a, b } = await twoInstances(
      {},
      {
        notices: {
          enabled: true,
          requireSenderAuth: 'none',
          perSenderInterval: '24h',
          transport: { type: 'smtp', host: '127.0.0.1', port: sink.port },
        },
      },
    );
    const raw = 'From: Jane <jane@client.test>\r\nSubject: hello\r\nMessage-ID: <m@client.test>\r\n\r\nbody\r\n';
    for (const s of [a, b]) {
      const r = await sendVerbatim(s.port, { from: 'jane@client.test', to: ['typo@q.example.test'], raw });
      expect(r.code).toBe(250);
    }
    const isNotice = (l: Record<string, unknown>): boolean =>
      l['event'] === 'notice' && (l['status'] === 'sent' || l['status'] === 'suppressed');
    // two entries, each decided once by one of the two instances (the file claim), whichever it was
    const deadline = Date.now() + 20_000;
    while ([...a.lines, ...b.lines].filter(isNotice).length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const decided = [...a.lines, ...b.lines].filter(isNotice);
    expect(decided.map((l) => l['status']).sort()).toEqual(['sent', 'suppressed']);
    expect(decided.find((l) => l['status'] === 'suppressed')?.['reason']).toBe('per-sender-interval');
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.messages).toHaveLength(1);
  });

  it('Redis stopped: mail is answered as usual on both and a state event says so; restarted: shared again', async () => {
    const { a, b, redis } = await twoInstances({ maxUnknownRecipientsPerIp: 5 });
    await redis.stop();
    for (const s of [a, b]) {
      expect(await rcpts(s.port, ['alice@example.test', 'ghost@example.test'])).toEqual([
        '250 2.1.5 Accepted',
        '550 5.1.1 <ghost@example.test>: recipient address rejected: user unknown',
      ]);
      const down = await s.waitForLine(stateEvent(false));
      expect(down).toMatchObject({ event: 'state', ok: false, type: 'redis', reason: 'state-unreachable' });
    }
    await redis.restart();
    // a PING every 5 s notices it
    for (const s of [a, b]) expect(await s.waitForLine(stateEvent(true), 12_000)).toMatchObject({ ok: true });
    // one budget again (Redis came back empty): 3 on A, then the 6th on B is refused
    expect(await rcpts(a.port, unknown(3, 10))).toHaveLength(3);
    expect((await rcpts(b.port, unknown(3, 20))).at(-1)).toBe(HARVEST);
  }, 40_000);

  it('Redis paused (slower than state.timeout 500ms): the greeting and the RCPT reply come within it', async () => {
    const { a, redis } = await twoInstances({}, { timeout: '500ms' });
    redis.pause();
    cleanup.push(() => redis.resume());
    const t0 = Date.now();
    const replies = await rcpts(a.port, ['ghost@example.test']);
    const took = Date.now() - t0;
    expect(replies).toEqual(['550 5.1.1 <ghost@example.test>: recipient address rejected: user unknown']);
    // one operation waits state.timeout, every one after it is local
    expect(took).toBeLessThan(1_500);
    expect(await a.waitForLine(stateEvent(false))).toMatchObject({ reason: 'state-timeout' });
    redis.resume();
    expect(await a.waitForLine(stateEvent(true), 12_000)).toMatchObject({ ok: true });
  }, 30_000);
});
