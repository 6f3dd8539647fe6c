// A `moved` rule to an internationalised domain (#15): the 551 names the new address in ASCII (the
// domain's A-label) to a client that did not say SMTPUTF8, and as written to one that did. A moved
// address with a non-ASCII local-part has no ASCII form, so the config refuses it.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { addressForClient } from '../../src/smtp/replies.js';
import { RawSmtp } from '../helpers/smtp-client.js';
import { baseConfig, startApp, writeConfig, type TestApp } from '../helpers/start-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startApp(
    {
      domains: [
        {
          name: 'example.test',
          unknownRecipients: 'reject',
          recipientsFile: 'recipients.txt',
          addresses: [{ address: 'k', action: 'moved', to: 'k@münchen.example' }],
        },
      ],
    },
    { files: { 'recipients.txt': 'alice\nm moved m@Zürich.example\n' } },
  );
});
afterAll(() => t.stop());

/** RCPT for `rcpt` after `mail`; the reply's raw bytes as the client read them. */
async function rcptReply(mail: string, rcpt: string): Promise<string> {
  const { client } = await RawSmtp.connect(t.port);
  try {
    await client.cmd('EHLO client.test');
    expect((await client.cmd(mail)).code).toBe(250);
    return (await client.cmd(`RCPT TO:<${rcpt}>`)).line;
  } finally {
    client.close();
  }
}

describe('551 for a move to an internationalised domain', () => {
  it.each([
    [
      'a YAML rule, client without SMTPUTF8',
      'MAIL FROM:<s@client.test>',
      'k@example.test',
      '551 5.1.6 <k@example.test>: user has moved; please try <k@xn--mnchen-3ya.example>',
    ],
    [
      'a recipients-file rule, client without SMTPUTF8',
      'MAIL FROM:<s@client.test>',
      'm@example.test',
      '551 5.1.6 <m@example.test>: user has moved; please try <m@xn--zrich-kva.example>',
    ],
    [
      'a YAML rule, client with SMTPUTF8',
      'MAIL FROM:<s@client.test> SMTPUTF8',
      'k@example.test',
      '551 5.1.6 <k@example.test>: user has moved; please try <k@münchen.example>',
    ],
  ])('%s', async (_what, mail, rcpt, expected) => {
    // the client reads bytes as latin1: decode them as the UTF-8 they are
    const raw = await rcptReply(mail, rcpt);
    expect(Buffer.from(raw, 'latin1').toString('utf8')).toBe(expected);
    if (!mail.includes('SMTPUTF8')) expect([...raw].every((c) => c.charCodeAt(0) < 0x80)).toBe(true);
  });

  it.each([
    ['ascii as is', 'jane@new.example', false, 'jane@new.example'],
    ['IDN domain, no SMTPUTF8', 'k@münchen.example', false, 'k@xn--mnchen-3ya.example'],
    ['IDN domain in capitals', 'k@MÜNCHEN.example', false, 'k@xn--mnchen-3ya.example'],
    ['IDN domain, SMTPUTF8', 'k@münchen.example', true, 'k@münchen.example'],
    ['A-label already', 'k@xn--mnchen-3ya.example', false, 'k@xn--mnchen-3ya.example'],
  ])('addressForClient: %s', (_what, address, smtputf8, expected) => {
    expect(addressForClient(address, smtputf8)).toBe(expected);
  });
});

describe('a moved address that could not be told to most clients is refused', () => {
  const issuesOf = (domain: Record<string, unknown>, files: Record<string, string> = {}): unknown => {
    const site = writeConfig(baseConfig({ domains: [{ name: 'example.test', ...domain }] }), files);
    try {
      const r = loadConfig({ configPath: site.configPath, env: {} });
      return r.ok ? [] : r.issues;
    } finally {
      rmSync(site.dir, { recursive: true, force: true });
    }
  };

  it('a non-ASCII local-part in the YAML, by key path', () => {
    expect(issuesOf({ addresses: [{ address: 'j', action: 'moved', to: 'jörg@new.example' }] })).toEqual([
      {
        path: 'domains[0].addresses[0].to',
        message: 'the local-part must be ASCII: a client without SMTPUTF8 could not be told the address',
      },
    ]);
  });

  it('a non-ASCII local-part in the recipients file, by line', () => {
    const issues = issuesOf(
      { recipientsFile: 'recipients.txt' },
      { 'recipients.txt': 'alice\nk moved kären@new.example\n' },
    ) as { path: string; message: string }[];
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toMatch(
      /recipients\.txt:2: moved kären@new\.example: the local-part must be ASCII: a client without SMTPUTF8 could not be told the address$/,
    );
  });

  it('a domain that is no domain name, in the YAML', () => {
    expect(issuesOf({ addresses: [{ address: 'j', action: 'moved', to: 'j@exa mple..' }] })).toEqual([
      { path: 'domains[0].addresses[0].to', message: 'expected an address such as jane@new.example' },
    ]);
    expect(issuesOf({ addresses: [{ address: 'j', action: 'moved', to: 'j@xn--a' }] })).toEqual([
      { path: 'domains[0].addresses[0].to', message: 'the domain is not a valid domain name' },
    ]);
  });
});
