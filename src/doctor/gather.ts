// What `doctor` looks up, through the resolver `dns.servers` describes, and reads from the configuration:
// the facts checks.ts judges. No judgement here; every look-up that fails is kept as its error code.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { DNSResolver } from 'mailauth';
import { toAsciiDomain } from '../address/parse.js';
import type { Config } from '../config/load.js';
import { errorText } from '../observability/error-text.js';
import { domainOf } from '../sender-auth/align.js';
import { dnsErrorCode, type DnsResolver } from '../sender-auth/dns.js';
import type { DkimKey, DoctorFacts, FromDomainFacts, Lookup, MxRecord, ReverseFacts, SpfFacts } from './facts.js';
import { gatherVerifyFacts } from './gather-verify.js';
import { bareName, dkimName, isIPv6, reverseName } from './records.js';

/** A hostile or broken reverse zone could name hundreds of hosts; receivers look at a few. */
const MAX_PTR_NAMES = 5;

async function lookup<T>(p: Promise<unknown>, read: (v: unknown) => T): Promise<Lookup<T>> {
  try {
    return { ok: true, value: read(await p) };
  } catch (err) {
    return { ok: false, code: dnsErrorCode(err) };
  }
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

const txt = (v: unknown): string[][] => (Array.isArray(v) ? v.map(strings) : []);

function mx(v: unknown): MxRecord[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((r: unknown) => {
    const { exchange, priority } = (r ?? {}) as { exchange?: unknown; priority?: unknown };
    return typeof exchange === 'string' && typeof priority === 'number' ? [{ exchange, priority }] : [];
  });
}

/** The public key DNS must publish for the private key: SPKI for RSA (as `dkim keygen`), the raw key for Ed25519 (RFC 8463). */
export function dkimPublicKey(privateKeyFile: string): DkimKey {
  try {
    const key = createPrivateKey(readFileSync(privateKeyFile));
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    if (key.asymmetricKeyType === 'rsa') return { ok: true, k: 'rsa', p: spki.toString('base64') };
    // an Ed25519 SPKI is a fixed 12-octet prefix and the 32-octet key
    if (key.asymmetricKeyType === 'ed25519')
      return { ok: true, k: 'ed25519', p: spki.subarray(-32).toString('base64') };
    return { ok: false, error: `a ${key.asymmetricKeyType ?? 'unknown'} key: DKIM signs with RSA or Ed25519` };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/** The domains notices are sent From:: the one of a full `notices.from`, else every served domain. */
export function noticeFromDomains(config: Config): string[] {
  const from = config.notices.from;
  if (from.includes('@')) return [bareName(toAsciiDomain(domainOf(from)) || domainOf(from))];
  return config.domains.map((d) => d.name);
}

export interface GatherOptions {
  /** `--ip`: the public address to check, instead of the host name's A/AAAA. */
  readonly ip?: string | undefined;
}

export async function gatherFacts(
  config: Config,
  resolve: DnsResolver,
  opts: GatherOptions = {},
): Promise<DoctorFacts> {
  const hostname = bareName(config.server.hostname);
  const ask = <T>(name: string, rrtype: string, read: (v: unknown) => T): Promise<Lookup<T>> =>
    lookup(resolve(name, rrtype), read);
  // mailauth's resolver type promises string records; ours is the wider dns.resolve shape it really calls
  const spfResolver = resolve as DNSResolver;
  const { spf } = await import('mailauth/lib/spf/index.js');

  const [domains, hostA, hostAAAA] = await Promise.all([
    Promise.all(config.domains.map(async (d) => ({ name: d.name, mx: await ask(d.name, 'MX', mx) }))),
    ask(hostname, 'A', strings),
    ask(hostname, 'AAAA', strings),
  ]);
  const publicIps = opts.ip ? [opts.ip] : [...(hostA.ok ? hostA.value : []), ...(hostAAAA.ok ? hostAAAA.value : [])];

  async function reverse(ip: string): Promise<ReverseFacts> {
    const ptr = await ask(reverseName(ip), 'PTR', strings);
    const names = ptr.ok ? ptr.value.slice(0, MAX_PTR_NAMES) : [];
    const forward = await Promise.all(
      names.map(async (name) => ({ name, addresses: await ask(name, isIPv6(ip) ? 'AAAA' : 'A', strings) })),
    );
    return { ip, ptr, forward };
  }

  /** The domain's TXT records and mailauth's verdict for each address, as a receiver computes it. */
  async function spfOf(domain: string): Promise<SpfFacts> {
    const [records, results] = await Promise.all([
      ask(domain, 'TXT', txt),
      Promise.all(
        publicIps.map(async (ip) => {
          const r = await spf({
            sender: `postmaster@${domain}`,
            ip,
            helo: hostname,
            mta: hostname,
            resolver: spfResolver,
          });
          return { ip, result: r.status.result };
        }),
      ),
    ]);
    return { domain, txt: records, results };
  }

  const dkim = config.notices.dkim;
  const key = dkim ? dkimPublicKey(dkim.privateKey) : null;
  async function fromDomain(domain: string): Promise<FromDomainFacts> {
    const [spfFacts, dmarc, dkimTxt] = await Promise.all([
      spfOf(domain),
      ask(`_dmarc.${domain}`, 'TXT', txt),
      dkim ? ask(dkimName(dkim.selector, domain), 'TXT', txt) : null,
    ]);
    return {
      domain,
      spf: spfFacts,
      dmarc,
      dkim: dkim && key && dkimTxt ? { selector: dkim.selector, key, txt: dkimTxt } : null,
    };
  }

  const [reverseFacts, heloSpf, fromDomains, verify] = await Promise.all([
    Promise.all(publicIps.map(reverse)),
    spfOf(hostname),
    Promise.all(noticeFromDomains(config).map(fromDomain)),
    gatherVerifyFacts(config),
  ]);
  return {
    hostname,
    ip: opts.ip ?? null,
    publicIps,
    domains,
    hostA,
    hostAAAA,
    reverse: reverseFacts,
    heloSpf,
    fromDomains,
    requireSenderAuth: config.notices.requireSenderAuth,
    verify,
  };
}
