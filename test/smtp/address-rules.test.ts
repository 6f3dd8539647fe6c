// Address rules (SPEC §3 domains[].addresses, §4): retire, move, pause, catch or bind one address.
// Every new reply row over a real socket, with the rcpt event it writes.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAddress, type CheckResult } from '../../src/cli/check.js';
import { loadConfig, type Config } from '../../src/config/load.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli } from '../helpers/cli.js';
import { RawSmtp, sendMessage, simpleMessage } from '../helpers/smtp-client.js';
import { queuedId } from '../helpers/files.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startApp({
    domains: [
      {
        name: 'example.test',
        unknownRecipients: 'reject',
        recipients: ['alice', 'shop-*', 'jane'],
        addresses: [
          { address: 'shop-old', action: 'reject' },
          { address: 'jane', action: 'moved', to: 'jane@new.example' },
          { address: 'press', action: 'defer', until: '2099-01-15' },
          { address: 'oldpress', action: 'defer', until: '2001-01-15' },
          { address: 'leak-*', action: 'quarantine' },
          { address: 'hp-repair', from: ['hp.example', '*.hp.example'] },
        ],
      },
    ],
  });
});
afterAll(async () => {
  await t.stop();
});

/** One RCPT in its own session: the reply line and the rcpt event it wrote. */
async function rcpt(from: string, to: string): Promise<{ line: string; event: unknown }> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.begin(from);
    const line = (await client.cmd(`RCPT TO:<${to}>`)).line;
    const event = await t.events.waitFor('rcpt', (e) => e.rcpt === to.toLowerCase() && e.from === from);
    return { line, event };
  } finally {
    client.close();
  }
}

describe('address rules on the wire', () => {
  it.each<[string, string, string, string, Record<string, unknown>]>([
    [
      'reject: 550 5.1.1 even where the glob shop-* matches',
      's1@shop.test',
      'shop-old@example.test',
      '550 5.1.1 <shop-old@example.test>: recipient address rejected: user unknown',
      { decision: 'reject', code: 550, reason: 'address-retired' },
    ],
    [
      'moved: 551 5.1.6 naming the new address (over the listed recipient jane)',
      's2@shop.test',
      'jane@example.test',
      '551 5.1.6 <jane@example.test>: user has moved; please try <jane@new.example>',
      { decision: 'moved', code: 551, reason: 'address-moved' },
    ],
    [
      'defer before its date: 450 4.2.1',
      's3@shop.test',
      'press@example.test',
      '450 4.2.1 <press@example.test>: mailbox temporarily unavailable',
      { decision: 'deferred', code: 450, reason: 'address-paused' },
    ],
    [
      'defer past its date: the address is unknown',
      's4@shop.test',
      'oldpress@example.test',
      '550 5.1.1 <oldpress@example.test>: recipient address rejected: user unknown',
      { decision: 'reject', code: 550, reason: 'user-unknown' },
    ],
    [
      'from: the bound sender domain (a subdomain by its glob) is accepted',
      'crm@mail.hp.example',
      'hp-repair@example.test',
      '250 2.1.5 Accepted',
      { decision: 'accept', code: 250 },
    ],
    [
      "from: any other sender gets the domain's unknown treatment, logged as sender-not-allowed",
      'x@leak.test',
      'hp-repair@example.test',
      '550 5.1.1 <hp-repair@example.test>: recipient address rejected: user unknown',
      { decision: 'reject', code: 550, reason: 'sender-not-allowed' },
    ],
    [
      'from: the null sender passes the binding',
      '',
      'hp-repair@example.test',
      '250 2.1.5 Accepted',
      { decision: 'accept', code: 250 },
    ],
  ])('%s', async (_name, from, to, line, event) => {
    const r = await rcpt(from, to);
    expect(r.line).toBe(line);
    expect(r.event).toMatchObject({ rcpt: to, from, ...event });
    if (!('reason' in event)) expect(r.event).not.toHaveProperty('reason');
  });

  it('quarantine: caught even in a reject domain, stored as a quarantine entry', async () => {
    const r = await sendMessage(t.port, { from: 's5@shop.test', to: ['leak-7@example.test'], raw: simpleMessage() });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [A-Za-z0-9_-]+$/);
    const id = queuedId(r.response);
    expect(readdirSync(path.join(t.dataDir, 'quarantine')).filter((n) => n.startsWith(id))).toEqual([
      `${id}.eml`,
      `${id}.json`,
    ]);
  });
});

describe('address rule configuration', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'moved without to',
      { address: 'jane', action: 'moved' },
      'domains[0].addresses[0].to: required when action is moved',
    ],
    [
      'defer without until',
      { address: 'press', action: 'defer' },
      'domains[0].addresses[0].until: required when action is defer',
    ],
    [
      'a bad date',
      { address: 'press', action: 'defer', until: 'soon' },
      'domains[0].addresses[0].until: expected a date such as 2027-01-15',
    ],
    [
      'from on a reject rule',
      { address: 'x', action: 'reject', from: ['hp.example'] },
      'domains[0].addresses[0].from: only with action accept',
    ],
  ])('%s → the issue names its key path', (_name, rule, message) => {
    const { configPath, dataDir } = writeConfig(
      baseConfig({ domains: [{ name: 'example.test', recipients: ['alice'], addresses: [rule] }] }),
    );
    const r = loadConfig({ configPath, env: { CATCHALL_GUARD_DATA_DIR: dataDir } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([message]);
  });
});

describe('RRVS (RFC 7293)', () => {
  let r: TestApp;
  beforeAll(async () => {
    r = await startApp({
      domains: [
        {
          name: 'example.test',
          unknownRecipients: 'reject',
          recipients: ['alice', 'bob'],
          ownerSince: '1998-04-01',
          addresses: [{ address: 'alice', ownerSince: '2019-04-01' }],
        },
        { name: 'other.test', recipients: ['carol'] },
      ],
    });
  });
  afterAll(async () => {
    await r.stop();
  });

  async function rcptWith(line: string): Promise<string> {
    const { client } = await RawSmtp.connect(r.port);
    try {
      await client.begin('crm@shop.test');
      return (await client.cmd(line)).line;
    } finally {
      client.close();
    }
  }

  it('EHLO advertises RRVS', async () => {
    const { client } = await RawSmtp.connect(r.port);
    try {
      expect((await client.cmd('EHLO client.test')).text.split('\n')).toContain('RRVS');
    } finally {
      client.close();
    }
  });

  it.each<[string, string, string]>([
    [
      'before the mailbox ownerSince',
      'RCPT TO:<alice@example.test> RRVS=2015-06-01T12:00:00Z',
      '550 5.7.17 <alice@example.test>: mailbox owner has changed',
    ],
    ['after the mailbox ownerSince', 'RCPT TO:<alice@example.test> RRVS=2020-01-01T00:00:00Z', '250 2.1.5 Accepted'],
    [
      'a date alone is midnight UTC: on the day itself',
      'RCPT TO:<alice@example.test> RRVS=2019-04-01',
      '250 2.1.5 Accepted',
    ],
    [
      'with ;R, the check can be made: its answer',
      'RCPT TO:<alice@example.test> RRVS=2015-06-01T12:00:00Z;R',
      '550 5.7.17 <alice@example.test>: mailbox owner has changed',
    ],
    ['with ;C, likewise', 'RCPT TO:<alice@example.test> RRVS=2020-06-01T12:00:00Z;C', '250 2.1.5 Accepted'],
    [
      'no mailbox ownerSince: the domain one (5.7.18)',
      'RCPT TO:<bob@example.test> RRVS=1990-01-01T00:00:00Z',
      '550 5.7.18 <bob@example.test>: domain owner has changed',
    ],
    ['no ownerSince at all: passes', 'RCPT TO:<carol@other.test> RRVS=1990-01-01T00:00:00Z', '250 2.1.5 Accepted'],
    ['postmaster is exempt', 'RCPT TO:<postmaster@example.test> RRVS=1990-01-01T00:00:00Z', '250 2.1.5 Accepted'],
    [
      'a malformed value',
      'RCPT TO:<alice@example.test> RRVS=yesterday',
      '501 5.5.4 invalid RRVS parameter: expected a date-time such as 2026-01-15T00:00:00Z',
    ],
    [
      'an unknown modifier',
      'RCPT TO:<alice@example.test> RRVS=2020-01-01T00:00:00Z;X',
      '501 5.5.4 invalid RRVS parameter: expected a date-time such as 2026-01-15T00:00:00Z',
    ],
  ])('%s', async (_name, line, reply) => {
    expect(await rcptWith(line)).toBe(reply);
  });

  it('the refusal is logged with its reason', async () => {
    await rcptWith('RCPT TO:<bob@example.test> RRVS=1980-01-01T00:00:00Z');
    expect(await r.events.waitFor('rcpt', (e) => e.rcpt === 'bob@example.test' && e.code === 550)).toMatchObject({
      decision: 'owner-changed',
      reason: 'rrvs-domain-owner-changed',
    });
  });
});

describe('check ADDRESS [--from SENDER] [--rrvs DATE]: the rule that decided, the decision, the reply', () => {
  const domains = [
    {
      name: 'example.test',
      unknownRecipients: 'reject',
      recipients: ['alice', 'shop-*'],
      ownerSince: '1998-04-01',
      addresses: [
        { address: 'jane', action: 'moved', to: 'jane@new.example' },
        { address: 'shop-old', action: 'reject' },
        { address: 'hp-repair', from: ['hp.example'] },
        { address: 'bob', ownerSince: '2019-04-01' },
      ],
    },
  ];
  const site = writeConfig(baseConfig({ domains }));
  const config = (): Config => {
    const r = loadConfig({ configPath: site.configPath, env: { CATCHALL_GUARD_DATA_DIR: site.dataDir } });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.config;
  };

  it.each<[string, { from?: string; rrvs?: string }, CheckResult]>([
    [
      'jane@example.test',
      {},
      {
        rule: 'jane (moved)',
        decision: 'moved',
        reply: '551 5.1.6 <jane@example.test>: user has moved; please try <jane@new.example>',
      },
    ],
    [
      'shop-old@example.test',
      {},
      {
        rule: 'shop-old (reject)',
        decision: 'reject',
        reply: '550 5.1.1 <shop-old@example.test>: recipient address rejected: user unknown',
      },
    ],
    [
      'hp-repair@example.test',
      { from: 'crm@hp.example' },
      { rule: 'hp-repair (accept)', decision: 'accept', reply: '250 2.1.5 Accepted' },
    ],
    [
      'hp-repair@example.test',
      { from: 'x@leak.test' },
      {
        rule: 'hp-repair (accept)',
        decision: 'reject',
        reply: '550 5.1.1 <hp-repair@example.test>: recipient address rejected: user unknown',
      },
    ],
    [
      'hp-repair@example.test',
      { from: '<>' },
      { rule: 'hp-repair (accept)', decision: 'accept', reply: '250 2.1.5 Accepted' },
    ],
    [
      'alice@example.test',
      { rrvs: '1990-01-01' },
      { rule: null, decision: 'owner-changed', reply: '550 5.7.18 <alice@example.test>: domain owner has changed' },
    ],
    [
      'bob@example.test',
      { rrvs: '2018-01-01' },
      {
        rule: 'bob (accept)',
        decision: 'owner-changed',
        reply: '550 5.7.17 <bob@example.test>: mailbox owner has changed',
      },
    ],
    [
      'bob@example.test',
      { rrvs: '2020-01-01' },
      { rule: 'bob (accept)', decision: 'accept', reply: '250 2.1.5 Accepted' },
    ],
    [
      'alice@example.test',
      { rrvs: 'soon' },
      {
        rule: null,
        decision: 'invalid',
        reply: '501 5.5.4 invalid RRVS parameter: expected a date-time such as 2026-01-15T00:00:00Z',
      },
    ],
  ])('%s %j', (address, opts, expected) => {
    expect(checkAddress(config(), address, opts)).toEqual(expected);
  });

  it('the built CLI prints the rule line first', async () => {
    await buildDist();
    const r = await runCli(['check', 'hp-repair@example.test', '--from', 'x@leak.test', '--config', site.configPath], {
      env: { CATCHALL_GUARD_DATA_DIR: site.dataDir },
    });
    expect(r).toMatchObject({
      code: 0,
      stderr: '',
      stdout:
        'rule: hp-repair (accept)\ndecision: reject\nreply: 550 5.1.1 <hp-repair@example.test>: recipient address rejected: user unknown\n',
    });
  });
});
