// `report`: the pure aggregation, and the built CLI on a recorded log file, its gzipped copy and stdin.
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventSink } from '../../src/observability/events.js';
import { createLogger } from '../../src/observability/logger.js';
import {
  createReportAggregator,
  parseLogLine,
  senderDomain,
  toUnknownRcpt,
  type ReportSummary,
} from '../../src/report/aggregate.js';
import { formatReport } from '../../src/report/format.js';
import { renderTable } from '../../src/cli/output/table.js';
import { createTopK } from '../../src/report/top-k.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';
const cli = (args: readonly string[], input?: Buffer) => runCli(args, input ? { input } : {});

// ---- a recorded log: what `serve` writes (pino, ISO time, level label), plus noise ----
let n = 0;
function rcptLine(
  time: string,
  rcpt: string,
  from: string,
  decision: string,
  code = decision === 'reject' ? 550 : 250,
): string {
  n++;
  return JSON.stringify({ level: 'info', time, event: 'rcpt', sid: `s${n}`, from, rcpt, decision, code });
}

const LOG_LINES = [
  JSON.stringify({
    level: 'info',
    time: '2026-11-20T08:00:00.000Z',
    event: 'listening',
    host: '0.0.0.0',
    port: 2525,
    proto: 'smtp',
  }),
  JSON.stringify({
    level: 'info',
    time: '2026-11-20T09:59:59.000Z',
    event: 'connect',
    sid: 's0',
    remoteAddress: '192.0.2.1',
  }),
  rcptLine('2026-11-20T10:00:00.000Z', 'jane.doe@example.test', 'orders@shop.example', 'reject'),
  rcptLine('2026-11-20T10:00:01.000Z', 'alice@example.test', 'orders@shop.example', 'accept'),
  rcptLine('2026-11-21T12:30:00.000Z', 'jane.doe@example.test', 'noreply@Shop.Example', 'reject'),
  'this is not json',
  '{"truncated": ',
  '',
  rcptLine('2026-11-22T07:15:00.000Z', 'jane.doe@example.test', 'billing@bank.example', 'observe'),
  rcptLine('2026-11-21T09:00:00.000Z', 'info@example.test', '', 'quarantine'),
  rcptLine('2026-11-23T18:00:00.000Z', 'jane.doe@example.test', 'orders@shop.example', 'reject'),
  rcptLine('2026-11-22T10:00:00.000Z', 'someone@elsewhere.test', 'spam@spam.example', 'relay-denied', 554),
  rcptLine('2026-11-22T10:00:01.000Z', 'x@example.test', 'spam@spam.example', 'limited', 421),
  rcptLine('2026-11-22T10:00:02.000Z', 'info@example.test', 'support@repair.example', 'quarantine'),
  JSON.stringify({
    level: 'info',
    time: '2026-11-23T18:00:01.000Z',
    event: 'message',
    sid: 's9',
    qid: 'q1',
    from: 'orders@shop.example',
    delivered: [],
    quarantined: ['info@example.test'],
    size: 120,
    messageId: null,
    durationMs: 3,
  }),
  `2026-11-23T19:00:00.000000000Z ${rcptLine('2026-11-23T19:00:00.000Z', 'old.account@example.test', 'news@list.example', 'reject')}`,
];
const LOG_TEXT = `${LOG_LINES.join('\n')}\n`;

function expectSummary(s: ReportSummary): void {
  expect(s.events).toBe(7);
  expect(s.skipped).toBe(2);
  expect(s.lines).toBe(LOG_LINES.filter((l) => l !== '').length);
  expect(s.recipients.map((r) => [r.rcpt, r.count])).toEqual([
    ['jane.doe@example.test', 4],
    ['info@example.test', 2],
    ['old.account@example.test', 1],
  ]);
  const jane = s.recipients[0];
  expect(jane).toMatchObject({
    firstSeen: '2026-11-20T10:00:00.000Z',
    lastSeen: '2026-11-23T18:00:00.000Z',
    decisions: { reject: 3, observe: 1 },
    lastDecision: 'reject',
    senderDomains: [
      { domain: 'shop.example', count: 3 },
      { domain: 'bank.example', count: 1 },
    ],
  });
  expect(s.recipients[1]).toMatchObject({
    firstSeen: '2026-11-21T09:00:00.000Z',
    lastSeen: '2026-11-22T10:00:02.000Z',
    decisions: { quarantine: 2 },
    lastDecision: 'quarantine',
  });
  expect(s.recipients[1]?.senderDomains).toEqual([
    { domain: '<>', count: 1 },
    { domain: 'repair.example', count: 1 },
  ]);
  expect(s.senderDomains[0]).toEqual({ domain: 'shop.example', count: 3 });
  expect(s.approximate).toBe(false);
}

function aggregate(text: string): ReportSummary {
  const a = createReportAggregator();
  for (const line of text.split('\n')) a.addLine(line);
  return a.summary();
}

describe('report aggregation (pure)', () => {
  it('counts unknown-recipient RCPTs only, with first/last seen and sender domains', () => {
    expectSummary(aggregate(LOG_TEXT));
  });

  it('reads pino epoch-millisecond times too, and lines prefixed by a timestamp', () => {
    expect(
      toUnknownRcpt({
        event: 'rcpt',
        rcpt: 'A@Example.test',
        from: 'x@y.test',
        decision: 'reject',
        time: 1_763_700_000_000,
      }),
    ).toEqual({ rcpt: 'a@example.test', from: 'x@y.test', decision: 'reject', time: 1_763_700_000_000 });
    expect(toUnknownRcpt({ event: 'rcpt', rcpt: 'a@example.test', decision: 'accept' })).toBeNull();
    expect(toUnknownRcpt({ event: 'message', rcpt: 'a@example.test', decision: 'reject' })).toBeNull();
    expect(parseLogLine('2026-11-23T19:00:00Z {"event":"rcpt"}')).toEqual({ event: 'rcpt' });
    expect(parseLogLine('[1,2]')).toBeNull();
    expect(senderDomain('')).toBe('<>');
    expect(senderDomain('MAILER-DAEMON')).toBe('(no domain)');
  });

  it('keeps sender-domain counts in bounded memory, exact until the counters run out', () => {
    const k = createTopK(3);
    for (const d of ['a', 'a', 'b', 'c', 'a']) k.add(d);
    expect(k.top(2)).toEqual([
      { key: 'a', count: 3 },
      { key: 'b', count: 1 },
    ]);
    expect(k.approximate).toBe(false);
    k.add('d');
    expect(k.approximate).toBe(true);
    expect(k.top(10)).toHaveLength(3);
    expect(k.top(1)).toEqual([{ key: 'a', count: 3 }]);
  });

  it('top-k keeps the Space-Saving guarantees without scanning its counters (counts sum to the stream length, never below the truth)', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const k = createTopK(50, { key: 'seeded', count: 40 });
    const truth = new Map<string, number>([['seeded', 40]]);
    for (let i = 0; i < 20_000; i++) {
      // a few heavy keys among many rare ones
      const key = random() < 0.3 ? `heavy${Math.floor(random() * 5)}` : `rare${Math.floor(random() * 5000)}`;
      k.add(key);
      truth.set(key, (truth.get(key) ?? 0) + 1);
    }
    const top = k.top(50);
    expect(k.approximate).toBe(true);
    expect(top.reduce((sum, e) => sum + e.count, 0)).toBe(20_040);
    for (const e of top) expect(e.count).toBeGreaterThanOrEqual(truth.get(e.key) ?? 0);
    expect(
      top
        .slice(0, 5)
        .map((e) => e.key)
        .sort(),
    ).toEqual(['heavy0', 'heavy1', 'heavy2', 'heavy3', 'heavy4']);
  });

  it('summary({ maxRecipients }) lists the most frequent only and still counts them all; the table says how many more', () => {
    const a = createReportAggregator();
    for (const line of LOG_TEXT.split('\n')) a.addLine(line);
    const top = a.summary({ maxRecipients: 1 });
    expect(top.unknownRecipients).toBe(3);
    expect(top.recipients.map((r) => r.rcpt)).toEqual(['jane.doe@example.test']);
    expect(a.summary().recipients.map((r) => r.rcpt)).toEqual([
      'jane.doe@example.test',
      'info@example.test',
      'old.account@example.test',
    ]);
    const text = formatReport(a.summary(), 2);
    expect(text.split('\n')[0]).toMatch(/^3 unknown recipients in 7 RCPT events/);
    expect(text).toMatch(/^info@example\.test .*\n… and 1 more \(--json lists them all\)$/m);
    expect(formatReport(top)).toContain('\n… and 2 more (--json lists them all)\n');
  });

  it('prints long addresses whole (SPEC §8): the other columns give way, cut with …', () => {
    const a = createReportAggregator();
    const address = (i: number): string =>
      `a.very.long.local.part.that.someone.made.up.${i}@a-rather-long-subdomain.example.test`;
    for (let i = 0; i < 5; i++)
      a.addLine(
        rcptLine(`2026-11-2${i}T10:00:00.000Z`, address(i), `x@sender-domain-with-a-long-name-${i}.example`, 'observe'),
      );
    const text = formatReport(a.summary());
    expect(text).toMatch(/^RECIPIENT\s+COUNT\s+FIRST SEEN\s+LAST SEEN\s+MODE\s+TOP SENDER DOMAINS$/m);
    for (let i = 0; i < 5; i++)
      expect(text).toMatch(
        new RegExp(
          `^${address(i).replace(/\./g, '\\.')}\\s+1\\s+2026-11-2${i}\\s+2026-11-2${i}\\s+observe\\s+sender-domain-\\S*…$`,
          'm',
        ),
      );
    // the table is as narrow as it can be without cutting an address
    const rows = text.split('\n').filter((l) => l.startsWith('a.very'));
    for (const row of rows) expect([...row].length).toBe(address(0).length + 2 + 5 + 2 + 10 + 2 + 10 + 2 + 7 + 2 + 18);
  });

  it('renderTable shows control characters as <U+XXXX>, a line break as a space, and right-aligns numbers', () => {
    const out = renderTable(
      [{ header: 'NAME' }, { header: 'N', alignRight: true }],
      [
        ['a\u001b[31mb\r\nc', '7'],
        ['bb', '12'],
      ],
    );
    expect(out).toBe(`NAME${' '.repeat(15)}N\na<U+001B>[31mb c   7\nbb${' '.repeat(16)}12`);
  });
});

describe('report (CLI)', () => {
  let dir: string;
  beforeAll(async () => {
    await buildDist();
    dir = mkdtempSync(path.join(tmpdir(), 'cg-report-'));
    writeFileSync(path.join(dir, 'guard.log'), LOG_TEXT);
    writeFileSync(path.join(dir, 'guard.log.1.gz'), gzipSync(LOG_TEXT));
    writeFileSync(path.join(dir, 'rotated-without-suffix'), gzipSync(LOG_TEXT));
    writeFileSync(path.join(dir, 'broken.gz'), gzipSync(LOG_TEXT).subarray(0, 60));
  }, 180_000);
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('--log FILE --json: the expected counts', async () => {
    const r = await cli(['report', '--log', path.join(dir, 'guard.log'), '--json']);
    expect(r.code).toBe(0);
    expectSummary(JSON.parse(r.stdout) as ReportSummary);
  });

  it('a gzipped file, by suffix or by its magic bytes alone, gives the same report', async () => {
    const plain = await cli(['report', '--log', path.join(dir, 'guard.log'), '--json']);
    for (const name of ['guard.log.1.gz', 'rotated-without-suffix']) {
      const r = await cli(['report', '--log', path.join(dir, name), '--json']);
      expect(r.code, name).toBe(0);
      expect(r.stdout).toBe(plain.stdout);
    }
  });

  it('reads stdin, plain or gzipped, when no --log is given', async () => {
    const plain = await cli(['report', '--json'], Buffer.from(LOG_TEXT));
    expect(plain.code).toBe(0);
    expectSummary(JSON.parse(plain.stdout) as ReportSummary);
    const gz = await cli(['report', '--json'], gzipSync(LOG_TEXT));
    expect(gz.stdout).toBe(plain.stdout);
  });

  it('human output: a header line and aligned tables within 100 columns', async () => {
    const r = await cli(['report', '--log', path.join(dir, 'guard.log')]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `3 unknown recipients in 7 RCPT events (${LOG_LINES.filter((l) => l !== '').length} log lines read, 2 not JSON and skipped; dates UTC)`,
    );
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(100);
    expect(r.stdout).toMatch(
      /^jane\.doe@example\.test\s+4\s+2026-11-20\s+2026-11-23\s+reject\s+shop\.example 3, bank\.example 1$/m,
    );
    expect(r.stdout).toMatch(
      /^info@example\.test\s+2\s+2026-11-21\s+2026-11-22\s+quarantine\s+<> 1, repair\.example 1$/m,
    );
    expect(r.stdout).toMatch(/^top sender domains:\nSENDER DOMAIN\s+RCPT\nshop\.example\s+3$/m);
  });

  it('an empty log says there is nothing', async () => {
    const r = await cli(['report'], Buffer.alloc(0));
    expect(r).toMatchObject({ code: 0, stdout: '0 unknown recipients in 0 RCPT events (0 log lines read)\n' });
  });

  it('a log written by the real logger is understood', async () => {
    const file = path.join(dir, 'real.log');
    const log = createLogger('info', pino.destination({ dest: file, sync: true }));
    const events = createEventSink(log);
    events.emit({
      event: 'rcpt',
      sid: 'a',
      from: 'orders@shop.example',
      rcpt: 'jane.doe@example.test',
      decision: 'reject',
      code: 550,
    });
    events.emit({
      event: 'rcpt',
      sid: 'a',
      from: 'orders@shop.example',
      rcpt: 'alice@example.test',
      decision: 'accept',
      code: 250,
    });
    events.emit({
      event: 'rcpt',
      sid: 'b',
      from: 'x@bank.example',
      rcpt: 'jane.doe@example.test',
      decision: 'observe',
      code: 250,
    });
    log.flush();
    const r = await cli(['report', '--log', file, '--json']);
    const s = JSON.parse(r.stdout) as ReportSummary;
    expect(s.recipients).toHaveLength(1);
    expect(s.recipients[0]).toMatchObject({ rcpt: 'jane.doe@example.test', count: 2 });
    expect(s.recipients[0]?.firstSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('a missing file or a broken gzip stream → exit 1 with one line, no stack trace', async () => {
    for (const name of ['nope.log', 'broken.gz']) {
      const r = await cli(['report', '--log', path.join(dir, name)]);
      expect(r.code, name).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^catchall-guard: cannot read /);
      expect(r.stdout).toBe('');
    }
  });

  it('a dictionary attack in observe mode (150,000 distinct unknown addresses) no longer fails with "Maximum call stack size exceeded": the total first, the table capped with "… and N more"', async () => {
    const file = path.join(dir, 'dictionary.log');
    const out = createWriteStream(file);
    const write = (text: string): Promise<void> =>
      new Promise((resolve, reject) => out.write(text, (err) => (err ? reject(err) : resolve())));
    const DISTINCT = 150_000;
    const start = Date.parse('2026-11-01T00:00:00.000Z');
    let batch: string[] = [];
    for (let i = 0; i < DISTINCT; i++) {
      batch.push(
        JSON.stringify({
          level: 'info',
          time: new Date(start + i * 1000).toISOString(),
          event: 'rcpt',
          sid: `d${i}`,
          from: `bot${i % 97}@spam${i % 3001}.example`,
          rcpt: `guess${i}@example.test`,
          decision: 'observe',
          code: 250,
        }),
      );
      if (batch.length === 10_000) {
        await write(`${batch.join('\n')}\n`);
        batch = [];
      }
    }
    // one address the owner really uses, seen more often than any guess: it tops the table
    for (let i = 0; i < 5; i++)
      batch.push(
        rcptLine(`2026-11-0${i + 1}T12:00:00.000Z`, 'jane.doe@example.test', 'orders@shop.example', 'observe'),
      );
    await write(`${batch.join('\n')}\n`);
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const total = DISTINCT + 1;

    const [human, json] = await Promise.all([cli(['report', '--log', file]), cli(['report', '--log', file, '--json'])]);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    const lines = human.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      `${total} unknown recipients in ${DISTINCT + 5} RCPT events (${DISTINCT + 5} log lines read; dates UTC)`,
    );
    expect(lines[3]).toMatch(/^jane\.doe@example\.test\s+5\s+2026-11-01\s+2026-11-05\s+observe\s+shop\.example 5$/);
    expect(human.stdout).toContain(`\n… and ${total - 100} more (--json lists them all)\n`);
    expect(lines.length).toBeLessThan(130);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(100);

    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    expect(json.stdout.startsWith(`{\n  "unknownRecipients": ${total},\n`)).toBe(true);
    const s = JSON.parse(json.stdout) as ReportSummary;
    expect(s.unknownRecipients).toBe(total);
    expect(s.recipients).toHaveLength(total);
    expect(s.recipients[0]).toMatchObject({ rcpt: 'jane.doe@example.test', count: 5 });
    expect(new Set(s.recipients.map((r) => r.rcpt)).size).toBe(total);
  }, 60_000);

  it('bidi and C1 control characters in addresses and sender domains are shown as <U+XXXX>, and as \\u escapes in --json', async () => {
    const file = path.join(dir, 'bidi.log');
    const rcpt = '\u202eenaj@example.test';
    writeFileSync(
      file,
      [
        rcptLine('2026-11-20T10:00:00.000Z', rcpt, 'x@moc.\u202eknab.example', 'observe'),
        rcptLine('2026-11-20T10:00:01.000Z', '\u009b2Jx\u2066@example.test', 'y@shop.example', 'observe'),
      ].join('\n'),
    );
    const raw = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f]/;
    const human = await cli(['report', '--log', file]);
    expect(human.code).toBe(0);
    expect(human.stdout).not.toMatch(raw);
    expect(human.stdout).toMatch(/^<U\+202E>enaj@example\.test\s+1\s.*\smoc\.<U\+202E>knab\.example 1$/m);
    expect(human.stdout).toMatch(/^<U\+009B>2jx<U\+2066>@example\.test\s+1\s/m); // report lowercases addresses
    expect(human.stdout).toMatch(/^moc\.<U\+202E>knab\.example\s+1$/m);
    const json = await cli(['report', '--log', file, '--json']);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(raw);
    expect(json.stdout).toContain('"rcpt": "\\u202eenaj@example.test"');
    expect(json.stdout).toContain('"rcpt": "\\u009b2jx\\u2066@example.test"');
    const s = JSON.parse(json.stdout) as ReportSummary;
    expect(s.recipients.map((r) => r.rcpt).sort()).toEqual([rcpt, '\u009b2jx\u2066@example.test'].sort());
  });

  it('stray arguments → exit 2', async () => {
    const r = await cli(['report', 'extra']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
