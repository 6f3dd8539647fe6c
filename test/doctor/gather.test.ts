// What doctor gathers, in this process, from a real DNS server (dnsmasq) through the configured resolver:
// the whole facts object, answers and failures alike.
import { generateKeyPairSync } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dkimPublicKey, gatherFacts, noticeFromDomains } from '../../src/doctor/gather.js';
import { createConfiguredResolver } from '../../src/sender-auth/dns.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dnsmasq.js';
import { baseConfig, loadTestConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';
import type { Config } from '../../src/config/load.js';

const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'der' },
});
const ed = generateKeyPairSync('ed25519', {
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'der' },
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function load(notices: RawConfig, servers: string[], files: Record<string, string> = {}): Config {
  const raw = {
    ...baseConfig({
      server: { hostname: 'MX.Owner.test' },
      domains: [
        { name: 'owner.test', unknownRecipients: 'quarantine', recipients: ['alice'] },
        { name: 'second.test', recipients: ['bob'] },
      ],
      notices: { enabled: true, ...notices },
    }),
    dns: { servers, timeout: '2s' },
  };
  const { dir, configPath, dataDir } = writeConfig(raw, files);
  dirs.push(dir);
  return loadTestConfig(configPath, dataDir);
}

describe('gatherFacts', () => {
  let dns: Dnsmasq;
  beforeAll(async () => {
    dns = await startDnsmasq({
      mx: { 'owner.test': [{ exchange: 'mx.owner.test', priority: 10 }] },
      a: { 'mx.owner.test': ['192.0.2.10'], 'other.provider.test': ['198.51.100.1'] },
      ptr: { '192.0.2.10': ['other.provider.test'] },
      txt: {
        'mx.owner.test': ['v=spf1 a -all'],
        'owner.test': ['v=spf1 mx -all', 'site-verification=abc'],
        '_dmarc.owner.test': ['v=DMARC1; p=reject'],
        'cg._domainkey.owner.test': [`v=DKIM1; k=rsa; p=${rsa.publicKey.toString('base64')}`],
      },
    });
  });
  afterAll(() => dns.stop());

  it('asks the configured server for everything and keeps each failure as its code', async () => {
    const config = load(
      { from: 'Notices <postmaster@owner.test>', dkim: { selector: 'cg', privateKey: 'k.pem' } },
      [dns.server],
      {
        'k.pem': rsa.privateKey,
      },
    );
    const facts = await gatherFacts(config, createConfiguredResolver(config.dns));
    const key = { ok: true, k: 'rsa', p: rsa.publicKey.toString('base64') };
    const DKIM = `v=DKIM1; k=rsa; p=${key.p}`;
    expect(facts).toEqual({
      hostname: 'mx.owner.test',
      ip: null,
      publicIps: ['192.0.2.10'],
      domains: [
        { name: 'owner.test', mx: { ok: true, value: [{ exchange: 'mx.owner.test', priority: 10 }] } },
        { name: 'second.test', mx: { ok: false, code: 'ENOTFOUND' } },
      ],
      hostA: { ok: true, value: ['192.0.2.10'] },
      hostAAAA: { ok: false, code: 'ENODATA' },
      reverse: [
        {
          ip: '192.0.2.10',
          ptr: { ok: true, value: ['other.provider.test'] },
          forward: [{ name: 'other.provider.test', addresses: { ok: true, value: ['198.51.100.1'] } }],
        },
      ],
      heloSpf: {
        domain: 'mx.owner.test',
        txt: { ok: true, value: [['v=spf1 a -all']] },
        results: [{ ip: '192.0.2.10', result: 'pass' }],
      },
      // a full notices.from: its domain only
      fromDomains: [
        {
          domain: 'owner.test',
          spf: {
            domain: 'owner.test',
            txt: {
              ok: true,
              // DNS keeps no order among a name's records
              value: expect.arrayContaining([['v=spf1 mx -all'], ['site-verification=abc']]) as unknown,
            },
            results: [{ ip: '192.0.2.10', result: 'pass' }],
          },
          dmarc: { ok: true, value: [['v=DMARC1; p=reject']] },
          // published in 255-octet strings, read back as they are
          dkim: { selector: 'cg', key, txt: { ok: true, value: [[DKIM.slice(0, 255), DKIM.slice(255)]] } },
        },
      ],
      requireSenderAuth: 'spf',
      // no domain has verify.upstream: nothing asked of a mailbox server
      verify: [],
    });
    const fromTxt = facts.fromDomains[0]?.spf.txt;
    expect(fromTxt?.ok ? fromTxt.value.length : fromTxt).toBe(2);
  });

  it('--ip replaces the A/AAAA as the address checked; SPF is judged for it', async () => {
    const config = load({}, [dns.server]);
    const facts = await gatherFacts(config, createConfiguredResolver(config.dns), { ip: '203.0.113.5' });
    expect(facts.publicIps).toEqual(['203.0.113.5']);
    expect(facts.reverse).toEqual([{ ip: '203.0.113.5', ptr: { ok: false, code: 'ENOTFOUND' }, forward: [] }]);
    expect(facts.heloSpf.results).toEqual([{ ip: '203.0.113.5', result: 'fail' }]);
    // a bare local-part: every served domain is a From: domain; no notices.dkim, no DKIM facts
    expect(facts.fromDomains.map((d) => [d.domain, d.dkim, d.spf.results])).toEqual([
      ['owner.test', null, [{ ip: '203.0.113.5', result: 'fail' }]],
      ['second.test', null, [{ ip: '203.0.113.5', result: 'none' }]],
    ]);
  });
});

describe('noticeFromDomains', () => {
  it.each([
    ['postmaster', ['owner.test', 'second.test']],
    ['noreply@Notices.Owner.test', ['notices.owner.test']],
    ['Guard <guard@bücher.test>', ['xn--bcher-kva.test']],
  ])('notices.from %s → %j', (from, domains) => {
    expect(noticeFromDomains(load({ from }, ['127.0.0.1:9']))).toEqual(domains);
  });
});

describe('dkimPublicKey', () => {
  it('RSA: the SubjectPublicKeyInfo, as dkim keygen publishes it', () => {
    const { dir } = writeConfig({}, { 'k.pem': rsa.privateKey });
    dirs.push(dir);
    expect(dkimPublicKey(`${dir}/k.pem`)).toEqual({ ok: true, k: 'rsa', p: rsa.publicKey.toString('base64') });
  });

  it('Ed25519: the raw 32-octet key (RFC 8463)', () => {
    const { dir } = writeConfig({}, { 'k.pem': ed.privateKey });
    dirs.push(dir);
    expect(dkimPublicKey(`${dir}/k.pem`)).toEqual({
      ok: true,
      k: 'ed25519',
      p: ed.publicKey.subarray(-32).toString('base64'),
    });
  });

  it('a file that is no key: the reason, not a throw', () => {
    const { dir } = writeConfig({}, { 'k.pem': 'not a key\n' });
    dirs.push(dir);
    const r = dkimPublicKey(`${dir}/k.pem`);
    expect(r.ok).toBe(false);
  });
});
