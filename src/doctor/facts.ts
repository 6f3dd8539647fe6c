// What `doctor` learnt from DNS and the configuration: plain data, so the judgement (checks.ts) is a
// pure function of it and can be tested by table, and the gathering (gather.ts) holds no judgement.

/** An answer, or why there is none: ENOTFOUND/ENODATA (no such record) or the code of a failed look-up. */
export type Lookup<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string };

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** mailauth's SPF result for one client address (pass, fail, softfail, neutral, none, temperror, permerror). */
export interface SpfResult {
  readonly ip: string;
  readonly result: string;
}

export interface SpfFacts {
  readonly domain: string;
  /** The domain's TXT records, each as its character-strings. */
  readonly txt: Lookup<readonly (readonly string[])[]>;
  /** One evaluation per public address (none when no address is known). */
  readonly results: readonly SpfResult[];
}

export interface ReverseFacts {
  readonly ip: string;
  readonly ptr: Lookup<readonly string[]>;
  /** Each PTR name's A (IPv4) or AAAA (IPv6) records: the forward half of the confirmation. */
  readonly forward: readonly { readonly name: string; readonly addresses: Lookup<readonly string[]> }[];
}

/** The public key the DNS should publish for the configured private key, or why it cannot be derived. */
export type DkimKey =
  | { readonly ok: true; readonly k: 'rsa' | 'ed25519'; readonly p: string }
  | { readonly ok: false; readonly error: string };

export interface DkimFacts {
  readonly selector: string;
  readonly key: DkimKey;
  /** TXT records at `<selector>._domainkey.<domain>`. */
  readonly txt: Lookup<readonly (readonly string[])[]>;
}

/** A domain notices are sent From:, with what receivers look up for it. */
export interface FromDomainFacts {
  readonly domain: string;
  readonly spf: SpfFacts;
  /** TXT records at `_dmarc.<domain>`. */
  readonly dmarc: Lookup<readonly (readonly string[])[]>;
  /** Null without `notices.dkim`. */
  readonly dkim: DkimFacts | null;
}

export interface DoctorFacts {
  /** `server.hostname`: the MX target, the HELO name of notices, the name the PTR should give. */
  readonly hostname: string;
  /** `--ip`, when given. */
  readonly ip: string | null;
  /** The addresses checked for reverse DNS and SPF: `--ip`, else the A and AAAA of the hostname. */
  readonly publicIps: readonly string[];
  readonly domains: readonly { readonly name: string; readonly mx: Lookup<readonly MxRecord[]> }[];
  readonly hostA: Lookup<readonly string[]>;
  readonly hostAAAA: Lookup<readonly string[]>;
  readonly reverse: readonly ReverseFacts[];
  /** SPF of the hostname: the identity a notice (MAIL FROM:<>) is checked under, by its HELO. */
  readonly heloSpf: SpfFacts;
  readonly fromDomains: readonly FromDomainFacts[];
  readonly requireSenderAuth: 'spf' | 'dmarc' | 'none';
  /** One per domain with `verify.upstream` (none without it). */
  readonly verify?: readonly VerifyFacts[];
}

/** `verify.upstream` of one domain: what the upstream said to a made-up address of it. */
export interface VerifyFacts {
  readonly domain: string;
  /** `host:port` of delivery.smtp. */
  readonly upstream: string;
  /** The made-up address asked about. */
  readonly probe: string;
  /** `refused`: as it should; `accepted`: a catch-all, verification is useless; `unavailable`: no answer. */
  readonly answer: 'refused' | 'accepted' | 'unavailable';
  /** The upstream's reply, or why there was none. */
  readonly detail: string;
}
