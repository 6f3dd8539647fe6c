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
import { sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { startApp } from '../helpers/start-app.js';
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
  // 16 lines, one of them empty: 15 read, 2 of them not JSON; 7 of the 10 rcpt events are unknown recipients
  expect(s).toEqual({
    unknownRecipients: 3,
    lines: 15,
    skipped: 2,
    events: 7,
    recipients: [
      {
        rcpt: 'jane.doe@example.test',
        count: 4,
        firstSeen: '2026-11-20T10:00:00.000Z',
        lastSeen: '2026-11-23T18:00:00.000Z',
        decisions: { reject: 3, observe: 1 },
        lastDecision: 'reject',
        senderDomains: [
          { domain: 'shop.example', count: 3 },
          { domain: 'bank.example', count: 1 },
        ],
      },
      {
        rcpt: 'info@example.test',
        count: 2,
        firstSeen: '2026-11-21T09:00:00.000Z',
        lastSeen: '2026-11-22T10:00:02.000Z',
        decisions: { quarantine: 2 },
        lastDecision: 'quarantine',
        senderDomains: [
          { domain: '<>', count: 1 },
          { domain: 'repair.example', count: 1 },
        ],
      },
      {
        rcpt: 'old.account@example.test',
        count: 1,
        firstSeen: '2026-11-23T19:00:00.000Z',
        lastSeen: '2026-11-23T19:00:00.000Z',
        decisions: { reject: 1 },
        lastDecision: 'reject',
        senderDomains: [{ domain: 'list.example', count: 1 }],
      },
    ],
    senderDomains: [
      { domain: 'shop.example', count: 3 },
      { domain: '<>', count: 1 },
      { domain: 'bank.example', count: 1 },
      { domain: 'list.example', count: 1 },
      { domain: 'repair.example', count: 1 },
    ],
    approximate: false,
    addresses: [],
  });
}

/** The sender-domain table of the fixture log, as every human report of it ends. */
const FIXTURE_DOMAINS = [
  'top sender domains:',
  'SENDER DOMAIN   RCPT',
  'shop.example       3',
  '<>                 1',
  'bank.example       1',
  'list.example       1',
  'repair.example     1',
];

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
    // d took over a counter of 1 (b's or c's): 1 + 1, an overestimate, never below the truth
    expect(k.top(10)).toEqual([
      { key: 'a', count: 3 },
      { key: 'd', count: 2 },
      { key: 'c', count: 1 },
    ]);
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
    expect(formatReport(a.summary(), 2)).toBe(
      [
        '3 unknown recipients in 7 RCPT events (15 log lines read, 2 not JSON and skipped; dates UTC)',
        '',
        'RECIPIENT              COUNT  FIRST SEEN  LAST SEEN   MODE        TOP SENDER DOMAINS',
        'jane.doe@example.test      4  2026-11-20  2026-11-23  reject      shop.example 3, bank.example 1',
        'info@example.test          2  2026-11-21  2026-11-22  quarantine  <> 1, repair.example 1',
        '… and 1 more (--json lists them all)',
        '',
        ...FIXTURE_DOMAINS,
      ].join('\n'),
    );
    expect(formatReport(top)).toBe(
      [
        '3 unknown recipients in 7 RCPT events (15 log lines read, 2 not JSON and skipped; dates UTC)',
        '',
        'RECIPIENT              COUNT  FIRST SEEN  LAST SEEN   MODE    TOP SENDER DOMAINS',
        'jane.doe@example.test      4  2026-11-20  2026-11-23  reject  shop.example 3, bank.example 1',
        '… and 2 more (--json lists them all)',
        '',
        ...FIXTURE_DOMAINS,
      ].join('\n'),
    );
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
    // the table is as narrow as it can be without cutting an address: 100 columns, the sender domains give way
    const row = (i: number): string =>
      `${address(i)}      1  2026-11-2${i}  2026-11-2${i}  observe  sender-domain-wit…`;
    expect(text).toBe(
      [
        '5 unknown recipients in 5 RCPT events (5 log lines read; dates UTC)',
        '',
        `RECIPIENT${' '.repeat(address(0).length - 'RECIPIENT'.length)}  COUNT  FIRST SEEN  LAST SEEN   MODE     TOP SENDER DOMAINS`,
        row(4),
        row(3),
        row(2),
        row(1),
        row(0),
        '',
        'top sender domains:',
        'SENDER DOMAIN                             RCPT',
        ...[0, 1, 2, 3, 4].map((i) => `sender-domain-with-a-long-name-${i}.example     1`),
      ].join('\n'),
    );
    expect([...row(0)].length).toBe(address(0).length + 2 + 5 + 2 + 10 + 2 + 10 + 2 + 7 + 2 + 18);
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
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        '3 unknown recipients in 7 RCPT events (15 log lines read, 2 not JSON and skipped; dates UTC)',
        '',
        'RECIPIENT                 COUNT  FIRST SEEN  LAST SEEN   MODE        TOP SENDER DOMAINS',
        'jane.doe@example.test         4  2026-11-20  2026-11-23  reject      shop.example 3, bank.example 1',
        'info@example.test             2  2026-11-21  2026-11-22  quarantine  <> 1, repair.example 1',
        'old.account@example.test      1  2026-11-23  2026-11-23  reject      list.example 1',
        '',
        ...FIXTURE_DOMAINS,
        '',
      ].join('\n'),
    );
    for (const l of r.stdout.split('\n')) expect([...l].length).toBeLessThanOrEqual(100);
  });

  it('a server in reject-after-data mode: its unknown recipients are counted, MODE reject-after-data (migration step 3)', async () => {
    const app = await startApp({
      domains: [{ name: 'example.test', unknownRecipients: 'reject-after-data', recipients: ['alice'] }],
    });
    try {
      const typo = await sendMessage(app.port, {
        from: 'orders@shop.example',
        to: ['jane.doe@example.test'],
        raw: simpleMessage(),
      });
      expect(typo).toMatchObject({ ok: false, code: 550 });
      const known = await sendMessage(app.port, {
        from: 'orders@shop.example',
        to: ['alice@example.test'],
        raw: simpleMessage(),
      });
      expect(known.code).toBe(250);
      await app.events.waitFor('message', (m) => m.outcome === 'rejected');
      const rcpt = app.events.of('rcpt').find((e) => e.rcpt === 'jane.doe@example.test');
      // the RCPT itself was answered 250: only its decision says the address is unknown
      expect(rcpt).toMatchObject({ decision: 'reject-after-data', code: 250 });
      const log = Buffer.from(`${app.events.lines.join('\n')}\n`);
      const json = await cli(['report', '--json'], log);
      const s = JSON.parse(json.stdout) as ReportSummary;
      expect(s).toMatchObject({ unknownRecipients: 1, events: 1 });
      expect(s.recipients).toMatchObject([
        {
          rcpt: 'jane.doe@example.test',
          count: 1,
          decisions: { 'reject-after-data': 1 },
          lastDecision: 'reject-after-data',
          senderDomains: [{ domain: 'shop.example', count: 1 }],
        },
      ]);
      const human = await cli(['report'], log);
      expect(human.stdout.split('\n').slice(2, 4)).toEqual([
        'RECIPIENT              COUNT  FIRST SEEN  LAST SEEN   MODE               TOP SENDER DOMAINS',
        expect.stringMatching(
          /^jane\.doe@example\.test      1  \d{4}-\d\d-\d\d  \d{4}-\d\d-\d\d  reject-after-data  shop\.example 1$/,
        ),
      ]);
    } finally {
      await app.stop();
    }
  });

  it('an empty log says there is nothing', async () => {
    const r = await cli(['report'], Buffer.alloc(0));
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 0,
      stdout: '0 unknown recipients in 0 RCPT events (0 log lines read)\n',
      stderr: '',
    });
  });

  it('a log written by the real logger is understood', async () => {
    const file = path.join(dir, 'real.log');
    const log = createLogger('info', pino.destination({ dest: file, sync: true }));
    const events = createEventSink(log);
    const before = Date.now();
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
    const after = Date.now();
    log.flush();
    const r = await cli(['report', '--log', file, '--json']);
    const s = JSON.parse(r.stdout) as ReportSummary;
    const jane = s.recipients[0];
    // the logger's own times: between the clock readings around the emits
    const firstSeen = Date.parse(jane?.firstSeen ?? '');
    const lastSeen = Date.parse(jane?.lastSeen ?? '');
    expect(firstSeen).toBeGreaterThanOrEqual(before);
    expect(lastSeen).toBeGreaterThanOrEqual(firstSeen);
    expect(lastSeen).toBeLessThanOrEqual(after);
    expect(s.recipients).toEqual([
      {
        rcpt: 'jane.doe@example.test',
        count: 2,
        firstSeen: new Date(firstSeen).toISOString(),
        lastSeen: new Date(lastSeen).toISOString(),
        decisions: { reject: 1, observe: 1 },
        lastDecision: 'observe',
        // equal counts: the one seen last first
        senderDomains: [
          { domain: 'bank.example', count: 1 },
          { domain: 'shop.example', count: 1 },
        ],
      },
    ]);
    expect(s).toMatchObject({ unknownRecipients: 1, lines: 3, skipped: 0, events: 2, approximate: false });
  });

  it('a missing file or a broken gzip stream → exit 1 with one line, no stack trace', async () => {
    for (const [name, why] of [
      ['nope.log', 'no such file'],
      ['broken.gz', 'not a valid gzip stream (unexpected end of file)'],
    ] as const) {
      const r = await cli(['report', '--log', path.join(dir, name)]);
      expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }, name).toEqual({
        code: 1,
        stdout: '',
        stderr: `catchall-guard: cannot read ${path.join(dir, name)}: ${why}\n`,
      });
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
    expect(lines[3]).toBe('jane.doe@example.test         5  2026-11-01  2026-11-05  observe  shop.example 5');
    expect(lines[103]).toBe(`… and ${total - 100} more (--json lists them all)`);
    // header, blank, table header, 100 rows, "… and N more", blank, then the sender-domain table: its title,
    // header, 10 rows and the note that its counts are upper bounds
    expect(lines.length).toBe(104 + 1 + 2 + 10 + 1);
    expect(lines[117]).toBe('(sender-domain counts are upper bounds: more distinct domains than counters)');
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(100);

    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    expect(json.stdout.startsWith(`{\n  "unknownRecipients": ${total},\n`)).toBe(true);
    const s = JSON.parse(json.stdout) as ReportSummary;
    expect(s.unknownRecipients).toBe(total);
    expect(s.recipients).toHaveLength(total);
    expect(s.recipients[0]).toEqual({
      rcpt: 'jane.doe@example.test',
      count: 5,
      firstSeen: '2026-11-01T12:00:00.000Z',
      lastSeen: '2026-11-05T12:00:00.000Z',
      decisions: { observe: 5 },
      lastDecision: 'observe',
      senderDomains: [{ domain: 'shop.example', count: 5 }],
    });
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
    // report lowercases addresses
    expect(human.stdout).toBe(
      [
        '2 unknown recipients in 2 RCPT events (2 log lines read; dates UTC)',
        '',
        'RECIPIENT                         COUNT  FIRST SEEN  LAST SEEN   MODE     TOP SENDER DOMAINS',
        '<U+009B>2jx<U+2066>@example.test      1  2026-11-20  2026-11-20  observe  shop.example 1',
        '<U+202E>enaj@example.test             1  2026-11-20  2026-11-20  observe  moc.<U+202E>knab.example 1',
        '',
        'top sender domains:',
        'SENDER DOMAIN             RCPT',
        'moc.<U+202E>knab.example     1',
        'shop.example                 1',
        '',
      ].join('\n'),
    );
    const json = await cli(['report', '--log', file, '--json']);
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(raw);
    expect(json.stdout).toContain('"rcpt": "\\u202eenaj@example.test"');
    expect(json.stdout).toContain('"rcpt": "\\u009b2jx\\u2066@example.test"');
    const s = JSON.parse(json.stdout) as ReportSummary;
    // equal counts: the one seen last first
    expect(s.recipients.map((r) => r.rcpt)).toEqual(['\u009b2jx\u2066@example.test', rcpt]);
  });

  it('stray arguments → exit 2', async () => {
    const r = await cli(['report', 'extra']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe('catchall-guard: report takes no arguments');
    expect(r.stderr.split('\n')[1]).toBe('usage: catchall-guard [command] [--config PATH]');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
