// Address rules written in the recipients file (#12) and the file's line validation (#15), over real
// sockets: each rule's reply, a `moved` line added while running, a broken version that keeps the last
// good one whole, `check` naming FILE:LINE, and `config validate` naming every bad line.
import { appendFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAddress } from '../../src/cli/check.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import type { LogEvent } from '../../src/observability/events.js';
import { buildDist } from '../helpers/build-dist.js';
import { spawnServer } from '../helpers/child-server.js';
import { runCli } from '../helpers/cli.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';

const FILE = 'example.test.recipients';
const WAIT_MS = 10_000;
const ACCEPTED = '250 2.1.5 Accepted';
const unknown = (address: string): string => `550 5.1.1 <${address}>: recipient address rejected: user unknown`;
const movedTo = (address: string, to: string): string => `551 5.1.6 <${address}>: user has moved; please try <${to}>`;

const INITIAL = [
  '# example.test: people and the rules for old addresses',
  'alice',
  'bob',
  'shop-*',
  'old-shop   reject            # retired',
  'press      defer 2099-01-15',
  'leak-*     quarantine',
  'hp-repair  from=hp.example,*.hp.example',
  '',
].join('\n');

let t: TestApp;
let file: string;

beforeAll(async () => {
  t = await startApp(
    {
      domains: [{ name: 'example.test', unknownRecipients: 'reject', recipientsFile: FILE }],
      // polling asks about unknown addresses many times: keep the harvest limits out of the way
      server: { maxUnknownRecipients: 100_000, maxUnknownRecipientsPerIp: 100_000, maxConnectionsPerIp: 1000 },
    },
    { files: { [FILE]: INITIAL } },
  );
  file = path.join(t.dir, FILE);
});
afterAll(async () => {
  await t.stop();
  for (const dir of siteDirs) rmSync(dir, { recursive: true, force: true });
});

const siteDirs: string[] = [];
/** A config directory of its own (for the CLI and child-process cases), removed after the suite. */
function siteOf(...args: Parameters<typeof writeConfig>): ReturnType<typeof writeConfig> {
  const site = writeConfig(...args);
  siteDirs.push(site.dir);
  return site;
}

/** The reply line to one RCPT in a session of its own. */
async function rcptReply(address: string, from = 'someone@sender.test'): Promise<string> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin(from);
    return (await client.cmd(`RCPT TO:<${address}>`)).line;
  } finally {
    client.close();
  }
}

/** Polls RCPT until it gets `line`, up to WAIT_MS; returns the last line seen. */
async function waitForRcpt(address: string, line: string): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  let last = await rcptReply(address);
  while (last !== line && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    last = await rcptReply(address);
  }
  return last;
}

/** The first `reload` event after `since` events with this `ok`. */
async function nextReload(since: number, ok: boolean): Promise<Extract<LogEvent, { event: 'reload' }>> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const e = t.events
      .of('reload')
      .slice(since)
      .find((x) => x.ok === ok);
    if (e) return e;
    if (Date.now() > deadline)
      throw new Error(`no reload ok:${String(ok)} within ${WAIT_MS} ms; saw ${JSON.stringify(t.events.of('reload'))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('rules from the recipients file on the wire', () => {
  it.each<[string, string, string, string, Record<string, unknown>]>([
    [
      'reject: 550 5.1.1 even where the file glob shop-* matches',
      's1@shop.test',
      'old-shop@example.test',
      unknown('old-shop@example.test'),
      { decision: 'reject', code: 550, reason: 'address-retired' },
    ],
    [
      'defer before its date: 450 4.2.1',
      's2@shop.test',
      'press@example.test',
      '450 4.2.1 <press@example.test>: mailbox temporarily unavailable',
      { decision: 'deferred', code: 450, reason: 'address-paused' },
    ],
    [
      'quarantine: caught in a reject domain',
      's3@shop.test',
      'leak-9@example.test',
      ACCEPTED,
      { decision: 'quarantine', code: 250 },
    ],
    [
      'from: the bound sender domain is accepted',
      'crm@mail.hp.example',
      'hp-repair@example.test',
      ACCEPTED,
      { decision: 'accept', code: 250 },
    ],
    [
      'from: another sender gets the unknown treatment, logged as sender-not-allowed',
      'x@leak.test',
      'hp-repair@example.test',
      unknown('hp-repair@example.test'),
      { decision: 'reject', code: 550, reason: 'sender-not-allowed' },
    ],
    ['a plain line is a known recipient', 's4@shop.test', 'alice@example.test', ACCEPTED, { decision: 'accept' }],
  ])('%s', async (_name, from, to, line, event) => {
    expect(await rcptReply(to, from)).toBe(line);
    expect(await t.events.waitFor('rcpt', (e) => e.rcpt === to && e.from === from)).toMatchObject(event);
  });
});

describe('hot reload of rule lines', () => {
  it('a moved line added to the file: the next RCPT gets 551 5.1.6, no restart', async () => {
    expect(await rcptReply('bob@example.test')).toBe(ACCEPTED);
    const since = t.events.of('reload').length;
    appendFileSync(file, 'bob        moved bob@new.example\n');
    const expected = movedTo('bob@example.test', 'bob@new.example');
    expect(await waitForRcpt('bob@example.test', expected)).toBe(expected);
    // 3 recipients and 5 rules
    expect(await nextReload(since, true)).toEqual({
      event: 'reload',
      ok: true,
      what: 'recipientsFile',
      domain: 'example.test',
      entries: 8,
    });
    expect(checkAddress(t.config, 'bob@example.test')).toEqual({
      rule: `bob (moved) at ${file}:9`,
      decision: 'moved',
      reply: expected,
    });
  });

  it('a version with a broken line is refused whole: reload ok:false naming FILE:LINE, the last good list stays', async () => {
    const since = t.events.of('reload').length;
    // a good new line (carol) and a bad one: neither takes effect until the file is right
    writeFileSync(file, `${INITIAL}bob moved bob@new.example\ncarol\ndave@other.example\n`);
    const e = await nextReload(since, false);
    expect(e).toEqual({
      event: 'reload',
      ok: false,
      what: 'recipientsFile',
      domain: 'example.test',
      error: `${file}:11: "dave@other.example": not an address at example.test, the domain this file belongs to`,
    });
    expect(await rcptReply('carol@example.test')).toBe(unknown('carol@example.test'));
    expect(await rcptReply('bob@example.test')).toBe(movedTo('bob@example.test', 'bob@new.example'));
    expect(await rcptReply('old-shop@example.test')).toBe(unknown('old-shop@example.test'));
    expect(await rcptReply('alice@example.test')).toBe(ACCEPTED);
    // the same bad version is not reported again on every poll
    await new Promise((r) => setTimeout(r, 300));
    expect(t.events.of('reload').slice(since)).toHaveLength(1);
  });

  it('every bad line of a version is named, joined in one event', async () => {
    const since = t.events.of('reload').length;
    writeFileSync(file, `${INITIAL}alice smith\njane moved\n`);
    expect((await nextReload(since, false)).error).toBe(
      [
        `${file}:9: "smith": expected an action (accept, reject, moved, defer, quarantine) or an option (from=, ownerSince=); a local-part has no spaces`,
        `${file}:10: moved: expected the new address after it (jane moved jane@new.example)`,
      ].join('; '),
    );
  });

  it('the corrected file is taken: the moved rule removed, carol added', async () => {
    const since = t.events.of('reload').length;
    writeFileSync(file, `${INITIAL}carol\n`);
    expect(await waitForRcpt('carol@example.test', ACCEPTED)).toBe(ACCEPTED);
    expect(await nextReload(since, true)).toMatchObject({ ok: true, entries: 8 });
    expect(await rcptReply('bob@example.test')).toBe(ACCEPTED);
  });
});

describe('a bad recipients file at start: config validate, check and loadConfig', () => {
  const site = siteOf(
    baseConfig({ domains: [{ name: 'example.test', unknownRecipients: 'reject', recipientsFile: FILE }] }),
    {
      [FILE]: [
        'alice',
        'bob@other.example',
        'alice smith',
        'Carol@Example.TEST',
        'jane moved jane',
        'press defer 2027-01-15',
        'press reject',
      ].join('\n'),
    },
  );
  const listPath = path.join(site.dir, FILE);
  const PROBLEMS = [
    `${listPath}:2: "bob@other.example": not an address at example.test, the domain this file belongs to`,
    `${listPath}:3: "smith": expected an action (accept, reject, moved, defer, quarantine) or an option (from=, ownerSince=); a local-part has no spaces`,
    `${listPath}:5: moved jane: expected an address such as jane@new.example`,
    `${listPath}:7: press: line 6 already has a rule for press; one rule an address`,
  ];

  it('loadConfig refuses it, one issue a bad line, under domains[0].recipientsFile', () => {
    const r = loadConfig({ configPath: site.configPath, env: { CATCHALL_GUARD_DATA_DIR: site.dataDir } });
    expect(r).toEqual({
      ok: false,
      issues: PROBLEMS.map((message) => ({ path: 'domains[0].recipientsFile', message })),
    });
  });

  it('config validate: exit 2, every bad line by FILE:LINE, nothing on stdout', async () => {
    await buildDist();
    const r = await runCli(['config', 'validate', '--config', site.configPath], {
      env: { CATCHALL_GUARD_DATA_DIR: site.dataDir },
    });
    expect(r).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `catchall-guard: invalid configuration (${site.configPath}):\n${PROBLEMS.map((p) => `domains[0].recipientsFile: ${p}\n`).join('')}`,
    });
  });

  it('check with the file fixed names the deciding file rule by FILE:LINE', async () => {
    writeFileSync(listPath, 'alice\n\njane   moved jane@new.example\nleak-* quarantine\n');
    await buildDist();
    const r = await runCli(['check', 'Jane+x@example.test', '--config', site.configPath], {
      env: { CATCHALL_GUARD_DATA_DIR: site.dataDir },
    });
    expect(r).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `rule: jane (moved) at ${listPath}:3\ndecision: moved\nreply: ${movedTo('jane+x@example.test', 'jane@new.example')}\n`,
    });
    const config = ((): Config => {
      const c = loadConfig({ configPath: site.configPath, env: { CATCHALL_GUARD_DATA_DIR: site.dataDir } });
      if (!c.ok) throw new Error(JSON.stringify(c.issues));
      return c.config;
    })();
    expect(checkAddress(config, 'leak-1@example.test').rule).toBe(`leak-* (quarantine) at ${listPath}:4`);
    expect(checkAddress(config, 'alice@example.test')).toEqual({ rule: null, decision: 'accept', reply: ACCEPTED });
  });
});

describe('the served process: a bad recipients file stops the start and is refused on SIGHUP', () => {
  it('serve exits 2 naming FILE:LINE, before listening', async () => {
    const site = siteOf(
      baseConfig({ domains: [{ name: 'example.test', unknownRecipients: 'reject', recipientsFile: FILE }] }),
      { [FILE]: 'alice\njane movd jane@new.example\n' },
    );
    await buildDist();
    const r = await runCli(['serve', '--config', site.configPath], { env: { CATCHALL_GUARD_DATA_DIR: site.dataDir } });
    expect(r).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `catchall-guard: invalid configuration (${site.configPath}):\ndomains[0].recipientsFile: ${path.join(site.dir, FILE)}:2: "movd": expected an action (accept, reject, moved, defer, quarantine) or an option (from=, ownerSince=); a local-part has no spaces\n`,
    });
  });

  it('SIGHUP to a config whose recipients file has a bad line: reload ok:false naming it, the running list stays', async () => {
    const raw = baseConfig({ domains: [{ name: 'example.test', unknownRecipients: 'reject', recipientsFile: FILE }] });
    const site = siteOf(raw, {
      [FILE]: 'alice\njane moved jane@new.example\n',
      'next.recipients': 'carol\nbob@other.example\n',
    });
    await buildDist();
    const s = await spawnServer(site.configPath, { CATCHALL_GUARD_DATA_DIR: site.dataDir });
    const rcpt = async (address: string): Promise<string> => {
      const { client } = await RawSmtp.connect(s.port);
      try {
        await client.begin();
        return (await client.cmd(`RCPT TO:<${address}>`)).line;
      } finally {
        client.close();
      }
    };
    try {
      expect(await rcpt('jane@example.test')).toBe(movedTo('jane@example.test', 'jane@new.example'));
      writeFileSync(
        site.configPath,
        stringify({
          ...raw,
          domains: [{ name: 'example.test', unknownRecipients: 'reject', recipientsFile: 'next.recipients' }],
        }),
      );
      s.proc.kill('SIGHUP');
      const bad = await s.waitForLine((l) => l['event'] === 'reload' && l['ok'] === false);
      expect(bad['error']).toBe(
        `domains[0].recipientsFile: ${path.join(site.dir, 'next.recipients')}:2: "bob@other.example": not an address at example.test, the domain this file belongs to`,
      );
      expect(await rcpt('jane@example.test')).toBe(movedTo('jane@example.test', 'jane@new.example'));
      expect(await rcpt('carol@example.test')).toBe(unknown('carol@example.test'));
      s.proc.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
    } finally {
      s.proc.kill('SIGKILL');
    }
  });
});
