// doctor's judgement and record suggestions, by table: facts in, check lines and records out. No DNS.
import { describe, expect, it } from 'vitest';
import { doctorChecks, doctorFailed, formatChecks, type CheckResult } from '../../src/doctor/checks.js';
import type { DoctorFacts, FromDomainFacts, Lookup } from '../../src/doctor/facts.js';
import {
  addressRecord,
  mergeSpf,
  reverseName,
  spfTermFor,
  tags,
  txtRecord,
  txtValue,
} from '../../src/doctor/records.js';

const ok = <T>(value: T): Lookup<T> => ({ ok: true, value });
const err = (code: string): Lookup<never> => ({ ok: false, code });
const NX = err('ENOTFOUND');
const NODATA = err('ENODATA');

const P = 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA' + 'A'.repeat(300) + 'IDAQAB';
const DKIM_VALUE = `v=DKIM1; k=rsa; p=${P}`;

function fromDomain(domain: string, over: Partial<FromDomainFacts> = {}): FromDomainFacts {
  return {
    domain,
    spf: {
      domain,
      txt: ok([['v=spf1 mx -all']]),
      results: [{ ip: '192.0.2.10', result: 'pass' }],
    },
    dmarc: ok([['v=DMARC1; p=reject']]),
    dkim: {
      selector: 'cg2026',
      key: { ok: true, k: 'rsa', p: P },
      txt: ok([[DKIM_VALUE.slice(0, 255), DKIM_VALUE.slice(255)]]),
    },
    ...over,
  };
}

/** Everything in order for mx.owner.test at 192.0.2.10, serving owner.test. */
function good(over: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    hostname: 'mx.owner.test',
    ip: null,
    publicIps: ['192.0.2.10'],
    domains: [{ name: 'owner.test', mx: ok([{ exchange: 'mx.owner.test', priority: 10 }]) }],
    hostA: ok(['192.0.2.10']),
    hostAAAA: NODATA,
    reverse: [
      {
        ip: '192.0.2.10',
        ptr: ok(['mx.owner.test']),
        forward: [{ name: 'mx.owner.test', addresses: ok(['192.0.2.10']) }],
      },
    ],
    heloSpf: { domain: 'mx.owner.test', txt: ok([['v=spf1 a -all']]), results: [{ ip: '192.0.2.10', result: 'pass' }] },
    fromDomains: [fromDomain('owner.test')],
    requireSenderAuth: 'spf',
    ...over,
  };
}

const find = (results: readonly CheckResult[], prefix: string): CheckResult | undefined =>
  results.find((r) => r.text.startsWith(prefix));

describe('records', () => {
  it.each([
    ['192.0.2.10', '10.2.0.192.in-addr.arpa'],
    ['::ffff:192.0.2.10', '10.2.0.192.in-addr.arpa'],
    ['2001:db8::10', '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa'],
  ])('reverseName(%s) = %s', (ip, name) => {
    expect(reverseName(ip)).toBe(name);
  });

  it.each([
    ['v=spf1 a -all', '"v=spf1 a -all"'],
    ['say "hi" \\ there', '"say \\"hi\\" \\\\ there"'],
    ['', '""'],
    ['x'.repeat(300), `"${'x'.repeat(255)}" "${'x'.repeat(45)}"`],
  ])('txtValue(%j) = %s', (value, text) => {
    expect(txtValue(value)).toBe(text);
  });

  it.each([
    ['192.0.2.10', 'mx.owner.test. IN A 192.0.2.10'],
    ['2001:DB8:0::10', 'mx.owner.test. IN AAAA 2001:db8::10'],
    [null, 'mx.owner.test. IN A <the public IPv4 address of this server>'],
  ])('addressRecord(%s)', (ip, record) => {
    expect(addressRecord('mx.owner.test', ip)).toBe(record);
  });

  it.each([
    ['192.0.2.10', ['192.0.2.10'], 'a'],
    ['192.0.2.10', ['192.0.2.11'], 'ip4:192.0.2.10'],
    ['2001:db8::10', ['2001:0db8::0010'], 'a'],
    ['2001:db8::10', [], 'ip6:2001:db8::10'],
  ])('spfTermFor(%s, %j) = %s', (ip, own, term) => {
    expect(spfTermFor(ip, own, 'a')).toBe(term);
  });

  it.each([
    ['no record yet', [], ['a'], 'v=spf1 a -all'],
    [
      'a record without us: our term first, the rest kept',
      ['v=spf1 include:_spf.mail.test ~all'],
      ['a'],
      'v=spf1 a include:_spf.mail.test ~all',
    ],
    ['already there: unchanged', ['v=spf1 a mx -all'], ['a'], 'v=spf1 a mx -all'],
    [
      'two records become one, the first all wins',
      ['v=spf1 mx -all', 'v=spf1 ip4:198.51.100.1 ~all'],
      ['ip4:192.0.2.10'],
      'v=spf1 ip4:192.0.2.10 mx ip4:198.51.100.1 -all',
    ],
    [
      'redirect kept when there is no all',
      ['v=spf1 redirect=_spf.mail.test'],
      ['a'],
      'v=spf1 a redirect=_spf.mail.test',
    ],
    [
      'redirect dropped beside an all (RFC 7208 §6.1)',
      ['v=spf1 mx redirect=_spf.mail.test -all'],
      ['a'],
      'v=spf1 a mx -all',
    ],
    [
      'exp= kept before the all',
      ['v=spf1 exp=explain.test -all'],
      ['a', 'ip6:2001:db8::10'],
      'v=spf1 a ip6:2001:db8::10 exp=explain.test -all',
    ],
    ['no all and nothing to redirect: none added', ['v=spf1 mx'], ['a'], 'v=spf1 a mx'],
  ])('mergeSpf: %s', (_name, existing, terms, merged) => {
    expect(mergeSpf(existing, terms)).toBe(merged);
  });

  it('tags: lower-case names, first one wins, whitespace trimmed', () => {
    expect([...tags(' v=DKIM1 ; K=rsa; p= AB CD ;p=other; junk')]).toEqual([
      ['v', 'DKIM1'],
      ['k', 'rsa'],
      ['p', 'AB CD'],
    ]);
  });
});

describe('doctorChecks: a good setup', () => {
  it('every check passes, one line each', () => {
    const results = doctorChecks(good());
    expect(doctorFailed(results)).toBe(false);
    expect(formatChecks(results)).toEqual([
      '✔ MX of owner.test → mx.owner.test (10)',
      '✔ A/AAAA of mx.owner.test: 192.0.2.10',
      '✔ reverse DNS of 192.0.2.10: mx.owner.test, forward-confirmed',
      '✔ SPF of mx.owner.test (HELO name of notices) allows 192.0.2.10: v=spf1 a -all',
      '✔ SPF of owner.test (From: domain of notices) allows 192.0.2.10: v=spf1 mx -all',
      '✔ DKIM cg2026._domainkey.owner.test: publishes the configured RSA key',
      '✔ DMARC of owner.test: v=DMARC1; p=reject (notices pass by SPF of mx.owner.test and DKIM)',
      '✔ notices.requireSenderAuth: spf (forged senders get no notice)',
      'all 8 checks passed',
    ]);
  });

  it('without notices.dkim the DKIM check does not apply (–), and is not counted', () => {
    const results = doctorChecks(good({ fromDomains: [fromDomain('owner.test', { dkim: null })] }));
    expect(doctorFailed(results)).toBe(false);
    expect(formatChecks(results).slice(-4)).toEqual([
      '✔ DMARC of owner.test: v=DMARC1; p=reject (notices pass by SPF of mx.owner.test)',
      '– DKIM: notices.dkim is not set (notices go out unsigned)',
      '✔ notices.requireSenderAuth: spf (forged senders get no notice)',
      'all 7 checks passed',
    ]);
  });
});

const MX_FIX = { action: 'publish', lines: ['owner.test. IN MX 10 mx.owner.test.'] };

describe.each<[string, Partial<DoctorFacts>, string, CheckResult]>([
  // MX
  [
    'no MX',
    { domains: [{ name: 'owner.test', mx: NODATA }] },
    'MX of',
    { status: 'fail', text: 'MX of owner.test: no MX record', fix: MX_FIX },
  ],
  [
    'no such domain',
    { domains: [{ name: 'owner.test', mx: NX }] },
    'MX of',
    { status: 'fail', text: 'MX of owner.test: no MX record', fix: MX_FIX },
  ],
  [
    'the MX look-up fails',
    { domains: [{ name: 'owner.test', mx: err('ESERVFAIL') }] },
    'MX of',
    { status: 'fail', text: 'MX of owner.test: look-up failed (ESERVFAIL)', fix: MX_FIX },
  ],
  [
    'the MX points elsewhere',
    { domains: [{ name: 'owner.test', mx: ok([{ exchange: 'mail.old-host.test', priority: 10 }]) }] },
    'MX of',
    { status: 'fail', text: 'MX of owner.test points at mail.old-host.test (10), not at mx.owner.test', fix: MX_FIX },
  ],
  [
    'a null MX',
    { domains: [{ name: 'owner.test', mx: ok([{ exchange: '', priority: 0 }]) }] },
    'MX of',
    {
      status: 'fail',
      text: 'MX of owner.test: a null MX (RFC 7505): the domain says it receives no mail',
      fix: MX_FIX,
    },
  ],
  [
    'ours among others (a second instance, a backup)',
    {
      domains: [
        {
          name: 'owner.test',
          mx: ok([
            { exchange: 'mx2.owner.test', priority: 20 },
            { exchange: 'MX.owner.test.', priority: 10 },
          ]),
        },
      ],
    },
    'MX of',
    { status: 'pass', text: 'MX of owner.test → mx.owner.test (10); also mx2.owner.test (20)' },
  ],
  // A / AAAA
  [
    'no address record, no --ip',
    {
      hostA: NODATA,
      hostAAAA: NODATA,
      publicIps: [],
      reverse: [],
      heloSpf: { domain: 'mx.owner.test', txt: ok([['v=spf1 a -all']]), results: [] },
    },
    'A/AAAA',
    {
      status: 'fail',
      text: 'A/AAAA of mx.owner.test: no A or AAAA record',
      fix: { action: 'publish', lines: ['mx.owner.test. IN A <the public IPv4 address of this server>'] },
    },
  ],
  [
    'no address record, --ip given',
    { ip: '2001:db8::10', publicIps: ['2001:db8::10'], hostA: NX, hostAAAA: NX },
    'A/AAAA',
    {
      status: 'fail',
      text: 'A/AAAA of mx.owner.test: no A or AAAA record',
      fix: { action: 'publish', lines: ['mx.owner.test. IN AAAA 2001:db8::10'] },
    },
  ],
  [
    'A fails, AAAA answers: either suffices',
    { hostA: err('ETIMEOUT'), hostAAAA: ok(['2001:db8::10']) },
    'A/AAAA',
    { status: 'pass', text: 'A/AAAA of mx.owner.test: 2001:db8::10' },
  ],
  [
    'both fail',
    { hostA: err('ETIMEOUT'), hostAAAA: NODATA, publicIps: [] },
    'A/AAAA',
    {
      status: 'fail',
      text: 'A/AAAA of mx.owner.test: A: look-up failed (ETIMEOUT), AAAA: no record',
      fix: { action: 'publish', lines: ['mx.owner.test. IN A <the public IPv4 address of this server>'] },
    },
  ],
  [
    '--ip among the addresses',
    { ip: '::ffff:192.0.2.10', publicIps: ['192.0.2.10'] },
    'A/AAAA',
    { status: 'pass', text: 'A/AAAA of mx.owner.test: 192.0.2.10' },
  ],
  [
    '--ip not among the addresses: the name leads elsewhere',
    { ip: '192.0.2.99', publicIps: ['192.0.2.99'], reverse: [] },
    'A/AAAA',
    {
      status: 'fail',
      text: 'A/AAAA of mx.owner.test: 192.0.2.10, not 192.0.2.99 (--ip)',
      fix: { action: 'publish', lines: ['mx.owner.test. IN A 192.0.2.99'] },
    },
  ],
  // reverse DNS
  [
    'no address to check',
    { publicIps: [], reverse: [] },
    'reverse DNS',
    {
      status: 'fail',
      text: 'reverse DNS: no address to check (publish the A/AAAA record of the host name, or give --ip ADDRESS)',
    },
  ],
  [
    'no PTR',
    { reverse: [{ ip: '192.0.2.10', ptr: NX, forward: [] }] },
    'reverse DNS',
    {
      status: 'fail',
      text: "reverse DNS of 192.0.2.10: no PTR record (set by the address's owner)",
      fix: { action: 'publish', lines: ['10.2.0.192.in-addr.arpa. IN PTR mx.owner.test.'] },
    },
  ],
  [
    'the PTR look-up fails',
    { reverse: [{ ip: '192.0.2.10', ptr: err('EREFUSED'), forward: [] }] },
    'reverse DNS',
    {
      status: 'fail',
      text: "reverse DNS of 192.0.2.10: look-up failed (EREFUSED) (set by the address's owner)",
      fix: { action: 'publish', lines: ['10.2.0.192.in-addr.arpa. IN PTR mx.owner.test.'] },
    },
  ],
  [
    "the provider's generic name, forward-confirmed",
    {
      reverse: [
        {
          ip: '192.0.2.10',
          ptr: ok(['host-10.provider.test']),
          forward: [{ name: 'host-10.provider.test', addresses: ok(['192.0.2.10']) }],
        },
      ],
    },
    'reverse DNS',
    {
      status: 'pass',
      text: 'reverse DNS of 192.0.2.10: host-10.provider.test, forward-confirmed (not mx.owner.test, the name notices greet with)',
    },
  ],
  [
    'a PTR name that does not resolve back',
    {
      reverse: [
        { ip: '192.0.2.10', ptr: ok(['old.provider.test']), forward: [{ name: 'old.provider.test', addresses: NX }] },
      ],
    },
    'reverse DNS',
    {
      status: 'fail',
      text: 'reverse DNS of 192.0.2.10: PTR old.provider.test does not resolve back to 192.0.2.10',
      fix: { action: 'publish', lines: ['10.2.0.192.in-addr.arpa. IN PTR mx.owner.test.'] },
    },
  ],
  [
    '--ip whose PTR is the host name, but the host name has another address',
    {
      ip: '192.0.2.99',
      publicIps: ['192.0.2.99'],
      reverse: [
        {
          ip: '192.0.2.99',
          ptr: ok(['mx.owner.test']),
          forward: [{ name: 'mx.owner.test', addresses: ok(['192.0.2.10']) }],
        },
      ],
    },
    'reverse DNS',
    {
      status: 'fail',
      text: 'reverse DNS of 192.0.2.99: PTR mx.owner.test does not resolve back to 192.0.2.99',
      fix: { action: 'publish', lines: ['mx.owner.test. IN A 192.0.2.99'] },
    },
  ],
  // SPF of the HELO name
  [
    'no SPF record at the host name',
    { heloSpf: { domain: 'mx.owner.test', txt: NODATA, results: [{ ip: '192.0.2.10', result: 'none' }] } },
    'SPF of mx.owner.test',
    {
      status: 'fail',
      text: 'SPF of mx.owner.test (HELO name of notices) does not allow 192.0.2.10 (none) (no SPF record)',
      fix: { action: 'publish', lines: ['mx.owner.test. IN TXT "v=spf1 a -all"'] },
    },
  ],
  [
    'an SPF record without the address: merge',
    {
      heloSpf: {
        domain: 'mx.owner.test',
        txt: ok([['v=spf1 ip4:192.0.2.99 -all'], ['google-site-verification=x']]),
        results: [{ ip: '192.0.2.10', result: 'fail' }],
      },
    },
    'SPF of mx.owner.test',
    {
      status: 'fail',
      text: 'SPF of mx.owner.test (HELO name of notices) does not allow 192.0.2.10 (fail): v=spf1 ip4:192.0.2.99 -all',
      fix: {
        action: 'replace the SPF record with (merge: one v=spf1 record only)',
        lines: ['mx.owner.test. IN TXT "v=spf1 a ip4:192.0.2.99 -all"'],
      },
    },
  ],
  [
    'two SPF records (permerror): one merged record',
    {
      heloSpf: {
        domain: 'mx.owner.test',
        txt: ok([['v=spf1 a -all'], ['v=spf1 ip4:192.0.2.10 -all']]),
        results: [{ ip: '192.0.2.10', result: 'permerror' }],
      },
    },
    'SPF of mx.owner.test',
    {
      status: 'fail',
      text: 'SPF of mx.owner.test (HELO name of notices) does not allow 192.0.2.10 (permerror): 2 SPF records',
      fix: {
        action: 'replace the SPF records with (merge: one v=spf1 record only)',
        lines: ['mx.owner.test. IN TXT "v=spf1 a ip4:192.0.2.10 -all"'],
      },
    },
  ],
  [
    'the TXT look-up fails',
    {
      heloSpf: { domain: 'mx.owner.test', txt: err('ETIMEOUT'), results: [{ ip: '192.0.2.10', result: 'temperror' }] },
    },
    'SPF of mx.owner.test',
    {
      status: 'fail',
      text: 'SPF of mx.owner.test (HELO name of notices) does not allow 192.0.2.10 (temperror); TXT look-up failed (ETIMEOUT)',
      fix: { action: 'publish', lines: ['mx.owner.test. IN TXT "v=spf1 a -all"'] },
    },
  ],
  [
    '--ip not among the host name’s addresses: the address itself',
    {
      ip: '192.0.2.99',
      publicIps: ['192.0.2.99'],
      reverse: [],
      heloSpf: {
        domain: 'mx.owner.test',
        txt: ok([['v=spf1 a -all']]),
        results: [{ ip: '192.0.2.99', result: 'fail' }],
      },
    },
    'SPF of mx.owner.test',
    {
      status: 'fail',
      text: 'SPF of mx.owner.test (HELO name of notices) does not allow 192.0.2.99 (fail): v=spf1 a -all',
      fix: {
        action: 'replace the SPF record with (merge: one v=spf1 record only)',
        lines: ['mx.owner.test. IN TXT "v=spf1 ip4:192.0.2.99 a -all"'],
      },
    },
  ],
  // the From: domain
  [
    "the From: domain's SPF without us: merge, never a second record",
    {
      fromDomains: [
        fromDomain('owner.test', {
          spf: {
            domain: 'owner.test',
            txt: ok([['v=spf1 include:_spf.mail.test ~all']]),
            results: [{ ip: '192.0.2.10', result: 'softfail' }],
          },
        }),
      ],
    },
    'SPF of owner.test',
    {
      status: 'fail',
      text: 'SPF of owner.test (From: domain of notices) does not allow 192.0.2.10 (softfail): v=spf1 include:_spf.mail.test ~all',
      fix: {
        action: 'replace the SPF record with (merge: one v=spf1 record only)',
        lines: ['owner.test. IN TXT "v=spf1 a:mx.owner.test include:_spf.mail.test ~all"'],
      },
    },
  ],
  [
    'no DMARC record',
    { fromDomains: [fromDomain('owner.test', { dmarc: NX })] },
    'DMARC',
    {
      status: 'fail',
      text: 'DMARC of owner.test: no DMARC record',
      fix: { action: 'publish', lines: ['_dmarc.owner.test. IN TXT "v=DMARC1; p=none"'] },
    },
  ],
  [
    'the DMARC look-up fails',
    { fromDomains: [fromDomain('owner.test', { dmarc: err('ESERVFAIL') })] },
    'DMARC',
    {
      status: 'fail',
      text: 'DMARC of owner.test: look-up failed (ESERVFAIL)',
      fix: { action: 'publish', lines: ['_dmarc.owner.test. IN TXT "v=DMARC1; p=none"'] },
    },
  ],
  [
    'p=reject, HELO name of another organisation, no DKIM: notices would fail it',
    { hostname: 'mx.hoster.test', fromDomains: [fromDomain('owner.test', { dkim: null })] },
    'DMARC',
    {
      status: 'fail',
      text: 'DMARC of owner.test: p=reject, and notices would fail it: mx.hoster.test is not aligned with owner.test, notices are not DKIM-signed',
      fix: {
        action: 'sign notices: run, publish the record it prints and set notices.dkim',
        lines: ['catchall-guard dkim keygen --domain owner.test --selector notices'],
      },
    },
  ],
  [
    'p=none, not aligned: nothing is refused',
    {
      hostname: 'mx.hoster.test',
      fromDomains: [fromDomain('owner.test', { dkim: null, dmarc: ok([['v=DMARC1; p=none']]) })],
    },
    'DMARC',
    { status: 'pass', text: 'DMARC of owner.test: v=DMARC1; p=none (p=none: nothing is refused by it)' },
  ],
  [
    'aspf=s: the HELO name mx.owner.test is not the From: domain, DKIM carries it',
    { fromDomains: [fromDomain('owner.test', { dmarc: ok([['v=DMARC1; p=reject; aspf=s']]) })] },
    'DMARC',
    { status: 'pass', text: 'DMARC of owner.test: v=DMARC1; p=reject; aspf=s (notices pass by DKIM)' },
  ],
  // DKIM
  [
    'no DKIM record',
    {
      fromDomains: [
        fromDomain('owner.test', { dkim: { selector: 'cg2026', key: { ok: true, k: 'rsa', p: P }, txt: NX } }),
      ],
    },
    'DKIM',
    {
      status: 'fail',
      text: 'DKIM cg2026._domainkey.owner.test: no record',
      fix: { action: 'publish', lines: [txtRecord('cg2026._domainkey.owner.test', DKIM_VALUE)] },
    },
  ],
  [
    'another key published',
    {
      fromDomains: [
        fromDomain('owner.test', {
          dkim: { selector: 'cg2026', key: { ok: true, k: 'rsa', p: P }, txt: ok([['v=DKIM1; k=rsa; p=MIIBOLD']]) },
        }),
      ],
    },
    'DKIM',
    {
      status: 'fail',
      text: 'DKIM cg2026._domainkey.owner.test: the published key is not the configured one',
      fix: { action: 'publish', lines: [txtRecord('cg2026._domainkey.owner.test', DKIM_VALUE)] },
    },
  ],
  [
    'a revoked key',
    {
      fromDomains: [
        fromDomain('owner.test', {
          dkim: { selector: 'cg2026', key: { ok: true, k: 'rsa', p: P }, txt: ok([['v=DKIM1; p=']]) },
        }),
      ],
    },
    'DKIM',
    {
      status: 'fail',
      text: 'DKIM cg2026._domainkey.owner.test: the record is revoked (empty p=)',
      fix: { action: 'publish', lines: [txtRecord('cg2026._domainkey.owner.test', DKIM_VALUE)] },
    },
  ],
  [
    'the same key with k=ed25519',
    {
      fromDomains: [
        fromDomain('owner.test', {
          dkim: { selector: 'cg2026', key: { ok: true, k: 'rsa', p: P }, txt: ok([[`v=DKIM1; k=ed25519; p=${P}`]]) },
        }),
      ],
    },
    'DKIM',
    {
      status: 'fail',
      text: 'DKIM cg2026._domainkey.owner.test: the published key is not the configured one',
      fix: { action: 'publish', lines: [txtRecord('cg2026._domainkey.owner.test', DKIM_VALUE)] },
    },
  ],
  [
    'the key split with spaces (as some panels publish it)',
    {
      fromDomains: [
        fromDomain('owner.test', {
          dkim: {
            selector: 'cg2026',
            key: { ok: true, k: 'rsa', p: P },
            txt: ok([[`v=DKIM1; p=${P.slice(0, 100)} ${P.slice(100)}`]]),
          },
        }),
      ],
    },
    'DKIM',
    { status: 'pass', text: 'DKIM cg2026._domainkey.owner.test: publishes the configured RSA key' },
  ],
  [
    'a key that cannot be read',
    {
      fromDomains: [
        fromDomain('owner.test', {
          dkim: { selector: 'cg2026', key: { ok: false, error: 'not a PEM private key' }, txt: NX },
        }),
      ],
    },
    'DKIM',
    {
      status: 'fail',
      text: 'DKIM cg2026._domainkey.owner.test: the configured key cannot be read: not a PEM private key',
    },
  ],
  // the setting
  [
    'requireSenderAuth none',
    { requireSenderAuth: 'none' },
    'notices.requireSenderAuth',
    {
      status: 'fail',
      text: 'notices.requireSenderAuth: none (every forged sender gets a notice: backscatter)',
      fix: { action: 'set', lines: ['notices.requireSenderAuth: spf'] },
    },
  ],
  [
    'requireSenderAuth dmarc',
    { requireSenderAuth: 'dmarc' },
    'notices.requireSenderAuth',
    { status: 'pass', text: 'notices.requireSenderAuth: dmarc (forged senders get no notice)' },
  ],
])('doctorChecks: %s', (_name, over, prefix, expected) => {
  it(`${expected.status === 'fail' ? '✘' : '✔'} ${expected.text}`, () => {
    const results = doctorChecks(good(over));
    expect(find(results, prefix)).toEqual(expected);
    expect(doctorFailed(results)).toBe(results.some((r) => r.status === 'fail'));
  });
});

describe('formatChecks', () => {
  it('a failed check: its line, then each record indented on its own line; the count at the end', () => {
    expect(
      formatChecks([
        { status: 'pass', text: 'one' },
        { status: 'fail', text: 'two', fix: { action: 'publish', lines: ['a. IN TXT "x"', 'b. IN TXT "y"'] } },
        { status: 'not-applicable', text: 'three' },
        { status: 'fail', text: 'four' },
      ]),
    ).toEqual([
      '✔ one',
      '✘ two — publish:',
      '      a. IN TXT "x"',
      '      b. IN TXT "y"',
      '– three',
      '✘ four',
      '2 of 3 checks failed',
    ]);
  });
});
