// `doctor`'s judgement (SPEC §8): the facts gathered from DNS and the configuration → one result per
// check, each failed one with the exact record to publish (or setting to change), → the lines printed.
// Pure: the table tests in test/doctor/checks.test.ts drive it without a DNS server.
import { isAligned } from '../sender-auth/align.js';
import type { DkimFacts, DoctorFacts, FromDomainFacts, Lookup, SpfFacts, VerifyFacts } from './facts.js';
import {
  addressRecord,
  bareName,
  dkimName,
  dkimValue,
  dmarcRecords,
  joinTxt,
  mergeSpf,
  mxRecord,
  ptrRecord,
  sameIp,
  spfRecords,
  spfTermFor,
  tags,
  txtRecord,
} from './records.js';

export type CheckStatus = 'pass' | 'fail' | 'not-applicable';

export interface CheckFix {
  /** What to do with the lines: "publish", "replace the SPF record with", "set". */
  readonly action: string;
  readonly lines: readonly string[];
}

export interface CheckResult {
  readonly status: CheckStatus;
  readonly text: string;
  /** Only on a failed check; absent when there is nothing exact to publish (no address known). */
  readonly fix?: CheckFix;
}

const pass = (text: string): CheckResult => ({ status: 'pass', text });
const notApplicable = (text: string): CheckResult => ({ status: 'not-applicable', text });
const fail = (text: string, fix?: CheckFix): CheckResult =>
  fix ? { status: 'fail', text, fix } : { status: 'fail', text };
const publish = (...lines: string[]): CheckFix => ({ action: 'publish', lines });

const isMissing = (l: Lookup<unknown>): boolean => !l.ok && (l.code === 'ENOTFOUND' || l.code === 'ENODATA');

/** Why a look-up gave nothing: no record, or a failure (both fail the check). */
function why(l: Lookup<unknown>, what: string): string {
  if (l.ok) return `no ${what}`;
  return isMissing(l) ? `no ${what}` : `look-up failed (${l.code})`;
}

const values = <T>(l: Lookup<readonly T[]>): readonly T[] => (l.ok ? l.value : []);

/** The hostname's own addresses, A and AAAA together. */
const hostAddresses = (f: DoctorFacts): string[] => [...values(f.hostA), ...values(f.hostAAAA)];

function checkMx(domain: string, mx: DoctorFacts['domains'][number]['mx'], hostname: string): CheckResult {
  const fix = publish(mxRecord(domain, hostname));
  if (!mx.ok || mx.value.length === 0) return fail(`MX of ${domain}: ${why(mx, 'MX record')}`, fix);
  const targets = mx.value.map((r) => ({ name: bareName(r.exchange), priority: r.priority }));
  if (targets.every((t) => t.name === ''))
    return fail(`MX of ${domain}: a null MX (RFC 7505): the domain says it receives no mail`, fix);
  const others = targets.filter((t) => t.name !== hostname).map((t) => `${t.name || '.'} (${t.priority})`);
  const ours = targets.find((t) => t.name === hostname);
  if (ours) {
    return pass(
      `MX of ${domain} → ${hostname} (${ours.priority})${others.length ? `; also ${others.join(', ')}` : ''}`,
    );
  }
  return fail(`MX of ${domain} points at ${others.join(', ')}, not at ${hostname}`, fix);
}

function checkAddress(f: DoctorFacts): CheckResult {
  const addresses = hostAddresses(f);
  // with --ip the operator says where the server is: a name that leads elsewhere sends its mail there
  if (f.ip !== null && addresses.length > 0 && !addresses.some((a) => sameIp(a, f.ip ?? ''))) {
    return fail(
      `A/AAAA of ${f.hostname}: ${addresses.join(', ')}, not ${f.ip} (--ip)`,
      publish(addressRecord(f.hostname, f.ip)),
    );
  }
  if (addresses.length > 0) return pass(`A/AAAA of ${f.hostname}: ${addresses.join(', ')}`);
  const detail =
    isMissing(f.hostA) && isMissing(f.hostAAAA)
      ? 'no A or AAAA record'
      : `A: ${why(f.hostA, 'record')}, AAAA: ${why(f.hostAAAA, 'record')}`;
  return fail(`A/AAAA of ${f.hostname}: ${detail}`, publish(addressRecord(f.hostname, f.ip)));
}

const NO_ADDRESS = 'no address to check (publish the A/AAAA record of the host name, or give --ip ADDRESS)';

function checkReverse(f: DoctorFacts): CheckResult[] {
  if (f.publicIps.length === 0) return [fail(`reverse DNS: ${NO_ADDRESS}`)];
  const own = hostAddresses(f);
  return f.reverse.map((r) => {
    // the PTR record lives in the address owner's zone: usually set in the hosting provider's panel
    const ptrFix = (): CheckFix =>
      publish(
        ptrRecord(r.ip, f.hostname),
        ...(own.some((a) => sameIp(a, r.ip)) ? [] : [addressRecord(f.hostname, r.ip)]),
      );
    if (!r.ptr.ok || r.ptr.value.length === 0)
      return fail(`reverse DNS of ${r.ip}: ${why(r.ptr, 'PTR record')} (set by the address's owner)`, ptrFix());
    const names = r.ptr.value.map(bareName);
    const confirmed = r.forward
      .filter((x) => x.addresses.ok && x.addresses.value.some((a) => sameIp(a, r.ip)))
      .map((x) => bareName(x.name));
    if (confirmed.includes(f.hostname)) return pass(`reverse DNS of ${r.ip}: ${f.hostname}, forward-confirmed`);
    if (confirmed.length > 0) {
      return pass(
        `reverse DNS of ${r.ip}: ${confirmed[0] ?? ''}, forward-confirmed (not ${f.hostname}, the name notices greet with)`,
      );
    }
    const detail = `PTR ${names.join(', ')} does not resolve back to ${r.ip}`;
    return fail(
      `reverse DNS of ${r.ip}: ${detail}`,
      names.includes(f.hostname) ? publish(addressRecord(f.hostname, r.ip)) : ptrFix(),
    );
  });
}

/** One SPF line for a domain: pass when every public address passes; the fix merges into what is there. */
function checkSpf(f: DoctorFacts, spf: SpfFacts, label: string, hostTerm: string): CheckResult {
  const records = spf.txt.ok ? spfRecords(spf.txt.value) : [];
  const own = hostAddresses(f);
  const terms = f.publicIps.length ? f.publicIps.map((ip) => spfTermFor(ip, own, hostTerm)) : [hostTerm];
  const wanted = mergeSpf(records, terms);
  const fix: CheckFix =
    records.length > 0
      ? {
          // RFC 7208 §3.2: two v=spf1 records make every check of the name a permerror
          action: `replace the SPF record${records.length > 1 ? 's' : ''} with (merge: one v=spf1 record only)`,
          lines: [txtRecord(spf.domain, wanted)],
        }
      : publish(txtRecord(spf.domain, wanted));
  const shown =
    records.length === 1 ? `: ${records[0] ?? ''}` : records.length > 1 ? `: ${records.length} SPF records` : '';
  if (f.publicIps.length === 0)
    return fail(`SPF of ${spf.domain} ${label}: ${NO_ADDRESS}`, records.length ? undefined : fix);
  const failed = spf.results.filter((r) => r.result !== 'pass');
  if (failed.length === 0 && spf.results.length > 0)
    return pass(`SPF of ${spf.domain} ${label} allows ${f.publicIps.join(', ')}${shown}`);
  const lookup = !spf.txt.ok && !isMissing(spf.txt) ? `; TXT look-up failed (${spf.txt.code})` : '';
  const none = records.length === 0 && (spf.txt.ok || isMissing(spf.txt)) ? ' (no SPF record)' : shown;
  return fail(
    `SPF of ${spf.domain} ${label} does not allow ${failed.map((r) => `${r.ip} (${r.result})`).join(', ')}${none}${lookup}`,
    fix,
  );
}

function checkDkim(d: FromDomainFacts, dkim: DkimFacts): CheckResult {
  const name = dkimName(dkim.selector, d.domain);
  if (!dkim.key.ok) return fail(`DKIM ${name}: the configured key cannot be read: ${dkim.key.error}`);
  const { k, p } = dkim.key;
  const fix = publish(txtRecord(name, dkimValue(k, p)));
  if (!dkim.txt.ok) return fail(`DKIM ${name}: ${why(dkim.txt, 'record')}`, fix);
  const records = joinTxt(dkim.txt.value)
    .map(tags)
    .filter((t) => t.has('p'));
  if (records.length === 0) return fail(`DKIM ${name}: no DKIM record`, fix);
  if (records.length > 1)
    return fail(`DKIM ${name}: ${records.length} DKIM records, receivers pick one at random`, fix);
  const t = records[0] ?? new Map<string, string>();
  const published = (t.get('p') ?? '').replace(/\s+/g, '');
  if (published === '') return fail(`DKIM ${name}: the record is revoked (empty p=)`, fix);
  if ((t.get('k') ?? 'rsa').toLowerCase() !== k || published !== p)
    return fail(`DKIM ${name}: the published key is not the configured one`, fix);
  return pass(`DKIM ${name}: publishes the configured ${k === 'rsa' ? 'RSA' : 'Ed25519'} key`);
}

const ENFORCING = new Set(['quarantine', 'reject']);

function checkDmarc(f: DoctorFacts, d: FromDomainFacts, heloSpfPasses: boolean, dkimPasses: boolean): CheckResult {
  const name = `_dmarc.${d.domain}`;
  const fix = publish(txtRecord(name, 'v=DMARC1; p=none'));
  if (!d.dmarc.ok) return fail(`DMARC of ${d.domain}: ${why(d.dmarc, 'DMARC record')}`, fix);
  const records = dmarcRecords(d.dmarc.value);
  if (records.length === 0) return fail(`DMARC of ${d.domain}: no DMARC record`, fix);
  if (records.length > 1) {
    return fail(`DMARC of ${d.domain}: ${records.length} DMARC records, receivers ignore them all`, {
      action: 'replace the DMARC records with',
      lines: [txtRecord(name, records[0] ?? '')],
    });
  }
  const record = records[0] ?? '';
  const t = tags(record);
  const policy = (t.get('p') ?? '').toLowerCase() || '(none)';
  // a notice has MAIL FROM:<>, so DMARC's SPF identifier is its HELO name (RFC 7489 §3.1.2, §4.1)
  const strict = (t.get('aspf') ?? 'r').toLowerCase() === 's';
  const heloAligned = strict ? f.hostname === d.domain : isAligned(f.hostname, d.domain);
  const passesBy = [...(heloSpfPasses && heloAligned ? [`SPF of ${f.hostname}`] : []), ...(dkimPasses ? ['DKIM'] : [])];
  if (passesBy.length > 0) return pass(`DMARC of ${d.domain}: ${record} (notices pass by ${passesBy.join(' and ')})`);
  if (!ENFORCING.has(policy)) return pass(`DMARC of ${d.domain}: ${record} (p=${policy}: nothing is refused by it)`);
  const reasons = [
    heloAligned ? `SPF of ${f.hostname} does not pass` : `${f.hostname} is not aligned with ${d.domain}`,
    dkimPasses ? '' : d.dkim ? 'their DKIM signature would not verify' : 'notices are not DKIM-signed',
  ].filter(Boolean);
  const text = `DMARC of ${d.domain}: p=${policy}, and notices would fail it: ${reasons.join(', ')}`;
  // DKIM with d= the From: domain aligns whatever the HELO name: the one fix that is always in reach
  if (d.dkim?.key.ok)
    return fail(text, publish(txtRecord(dkimName(d.dkim.selector, d.domain), dkimValue(d.dkim.key.k, d.dkim.key.p))));
  return fail(text, {
    action: 'sign notices: run, publish the record it prints and set notices.dkim',
    lines: [`catchall-guard dkim keygen --domain ${d.domain} --selector notices`],
  });
}

function checkRequireSenderAuth(mode: DoctorFacts['requireSenderAuth']): CheckResult {
  if (mode !== 'none') return pass(`notices.requireSenderAuth: ${mode} (forged senders get no notice)`);
  return fail('notices.requireSenderAuth: none (every forged sender gets a notice: backscatter)', {
    action: 'set',
    lines: ['notices.requireSenderAuth: spf'],
  });
}

/** SPEC §3 `verify.upstream`: an upstream that accepts any address would confirm every guess of a harvester. */
function checkVerify(v: VerifyFacts): CheckResult {
  const label = `verify.upstream of ${v.domain} (${v.upstream})`;
  switch (v.answer) {
    case 'refused':
      return pass(`${label} refuses the made-up address ${v.probe}: ${v.detail}`);
    case 'accepted':
      return fail(
        `${label} accepts the made-up address ${v.probe} (${v.detail}): it is a catch-all, so the server turns verify.upstream off for ${v.domain}`,
        {
          action: `make the mailbox server refuse unknown recipients at RCPT, or set under the domain ${v.domain}`,
          lines: ['verify: { upstream: false }'],
        },
      );
    case 'unavailable':
      return fail(`${label} did not answer a probe (${v.detail}): unknown recipients of ${v.domain} get 451 4.4.3`);
  }
}

export function doctorChecks(f: DoctorFacts): CheckResult[] {
  const results: CheckResult[] = [];
  for (const d of f.domains) results.push(checkMx(d.name, d.mx, f.hostname));
  results.push(checkAddress(f));
  results.push(...checkReverse(f));
  const helo = checkSpf(f, f.heloSpf, '(HELO name of notices)', 'a');
  results.push(helo);
  for (const d of f.fromDomains) {
    results.push(checkSpf(f, d.spf, '(From: domain of notices)', `a:${f.hostname}`));
    const dkim = d.dkim ? checkDkim(d, d.dkim) : null;
    if (dkim) results.push(dkim);
    results.push(checkDmarc(f, d, helo.status === 'pass', dkim?.status === 'pass'));
  }
  if (f.fromDomains.every((d) => d.dkim === null))
    results.push(notApplicable('DKIM: notices.dkim is not set (notices go out unsigned)'));
  results.push(checkRequireSenderAuth(f.requireSenderAuth));
  for (const v of f.verify ?? []) results.push(checkVerify(v));
  return results;
}

const MARK: Record<CheckStatus, string> = { pass: '✔', fail: '✘', 'not-applicable': '–' };

/** One line per check; under a failed one, the records to publish, indented so they copy cleanly. */
export function formatChecks(results: readonly CheckResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${MARK[r.status]} ${r.text}${r.fix ? ` — ${r.fix.action}:` : ''}`);
    for (const l of r.fix?.lines ?? []) lines.push(`      ${l}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const counted = results.filter((r) => r.status !== 'not-applicable').length;
  lines.push(failed === 0 ? `all ${counted} checks passed` : `${failed} of ${counted} checks failed`);
  return lines;
}

export const doctorFailed = (results: readonly CheckResult[]): boolean => results.some((r) => r.status === 'fail');
