// DKIM for notices (RFC 6376, SPEC §6): mailauth's signer, d= the notice's From: domain, s= the configured
// selector, relaxed/relaxed. Wrapped around the notice transport, so every format and every transport
// signs the same way, and a key that fails at run time defers the notice instead of sending it unsigned.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import addressparser from 'nodemailer/lib/addressparser';
import { toAsciiDomain } from '../address/parse.js';
import { scanHeaderBlock } from '../message/header-block.js';
import { errorCodeOrText, errorText } from '../observability/error-text.js';
import type { ComposedNotice } from './compose.js';
import type { NoticeSendResult, NoticeTransport } from './transport.js';

export interface DkimSettings {
  readonly selector: string;
  /** An absolute path: the config loader resolved it beside the config file. */
  readonly privateKey: string;
}

/**
 * The fields a notice's signature covers, where present. Auto-Submitted and X-Auto-Response-Suppress are
 * what keep a receiver from answering the notice: an intermediary must not be able to strip them unseen.
 */
export const DKIM_SIGNED_FIELDS: readonly string[] = [
  'From',
  'To',
  'Subject',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'Auto-Submitted',
  'X-Auto-Response-Suppress',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
];

/** RFC 8301 §3.2: signers use at least 1024-bit RSA keys; verifiers reject smaller ones. */
const MIN_RSA_BITS = 1024;
/** A key file is a few kilobytes: anything much larger is the wrong file, and not worth reading whole. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

/** Why `pem` cannot sign notices, or null when it can: an unencrypted RSA (≥ 1024 bits) or Ed25519 key. */
export function dkimKeyProblem(pem: Buffer): string | null {
  if (pem.length > MAX_KEY_FILE_BYTES) return `larger than ${MAX_KEY_FILE_BYTES} bytes, not a key file`;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // OpenSSL's own messages ("DECODER routines::unsupported") do not tell an operator which file they have
    const text = pem.toString('latin1');
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:[ \t]*4,ENCRYPTED/.test(text))
      return 'the key is encrypted: DKIM signing needs an unencrypted key';
    if (/-----BEGIN (?:RSA )?PUBLIC KEY-----/.test(text)) return 'a public key: privateKey must name the private key';
    return 'not a PEM private key';
  }
  const type = key.asymmetricKeyType ?? 'unknown';
  if (type === 'ed25519') return null;
  if (type !== 'rsa') return `a key of type ${type}: DKIM signs with RSA or Ed25519 keys`;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  return bits < MIN_RSA_BITS ? `an RSA key of ${bits} bits: DKIM needs at least ${MIN_RSA_BITS}` : null;
}

/** For the config check: null when the file holds a usable key (it is known to be readable). */
export function dkimKeyFileProblem(file: string): string | null {
  try {
    // a FIFO would hang the load, a huge file would be read whole: judge the file before reading it
    const st = statSync(file);
    if (!st.isFile()) return 'not a regular file';
    if (st.size > MAX_KEY_FILE_BYTES) return `larger than ${MAX_KEY_FILE_BYTES} bytes, not a key file`;
    return dkimKeyProblem(readFileSync(file));
  } catch (err) {
    return `cannot read: ${errorCodeOrText(err)}`;
  }
}

/** The domain of the first address in the header block's From: field, as an A-label; null when there is none. */
export function fromDomainOf(raw: Buffer): string | null {
  const block = raw.subarray(0, scanHeaderBlock(raw).end).toString('latin1');
  const m = /^from[ \t]*:((?:.*)(?:\r?\n[ \t].*)*)/im.exec(block);
  if (!m?.[1]) return null;
  const [first] = addressparser(m[1].replace(/\r?\n[ \t]+/g, ' '), { flatten: true });
  const at = first?.address.lastIndexOf('@') ?? -1;
  if (!first || at < 1) return null;
  const domain = toAsciiDomain(first.address.slice(at + 1));
  return domain || null;
}

/**
 * The mailauth signer as it behaves: its typings put the key, domain and selector at the top level and
 * declare headerList a string[], but the signer reads the key only from `signatureData` (at the top level
 * it signs nothing and reports no error) and the field list only as a colon-separated string (an array
 * falls back to its default list, which lacks Auto-Submitted); its errors are records holding the Error.
 */
interface SignerOptions {
  readonly signatureData: ReadonlyArray<{
    readonly signingDomain: string;
    readonly selector: string;
    readonly privateKey: Buffer;
    readonly canonicalization: 'relaxed/relaxed';
  }>;
  readonly headerList: string;
  readonly signTime: Date;
}
type Signer = (
  input: Buffer,
  options: SignerOptions,
) => Promise<{ readonly signatures: string; readonly errors: ReadonlyArray<{ readonly err?: unknown }> }>;

let signerLoaded: Promise<Signer> | null = null;
function loadSigner(): Promise<Signer> {
  // loaded on first use: the config loader imports this module, and `probe` must stay quick
  signerLoaded ??= import('mailauth/lib/dkim/sign.js').then((m) => m.dkimSign as unknown as Signer);
  return signerLoaded;
}

export type DkimSignResult =
  | { readonly ok: true; readonly raw: Buffer; readonly domain: string }
  | { readonly ok: false; readonly reason: 'dkim-key-unusable' | 'dkim-sign-failed'; readonly detail: string };

/**
 * The notice with a DKIM-Signature field in front. The key file is read on every call: it is small, and a
 * key replaced on disk (rotation) is used from the next notice on, without a reload.
 */
export async function signNotice(raw: Buffer, dkim: DkimSettings, now: Date = new Date()): Promise<DkimSignResult> {
  let pem: Buffer;
  try {
    pem = await readFile(dkim.privateKey);
  } catch (err) {
    return {
      ok: false,
      reason: 'dkim-key-unusable',
      detail: `${dkim.privateKey}: cannot read: ${errorCodeOrText(err)}`,
    };
  }
  const problem = dkimKeyProblem(pem);
  if (problem) return { ok: false, reason: 'dkim-key-unusable', detail: `${dkim.privateKey}: ${problem}` };
  const domain = fromDomainOf(raw);
  if (!domain) return { ok: false, reason: 'dkim-sign-failed', detail: 'the notice has no From: address to sign for' };
  try {
    const sign = await loadSigner();
    const result = await sign(raw, {
      signatureData: [
        { signingDomain: domain, selector: dkim.selector, privateKey: pem, canonicalization: 'relaxed/relaxed' },
      ],
      headerList: DKIM_SIGNED_FIELDS.join(':'),
      signTime: now,
    });
    const failure = result.errors[0];
    if (failure) return { ok: false, reason: 'dkim-sign-failed', detail: errorText(failure.err ?? failure) };
    if (!/^DKIM-Signature:/i.test(result.signatures))
      return { ok: false, reason: 'dkim-sign-failed', detail: 'the signer returned no signature' };
    return { ok: true, raw: Buffer.concat([Buffer.from(result.signatures, 'latin1'), raw]), domain };
  } catch (err) {
    return { ok: false, reason: 'dkim-sign-failed', detail: errorText(err) };
  }
}

/** `send(notice)` signs first; a notice that cannot be signed is deferred, never sent unsigned. */
export function withDkimSigning(transport: NoticeTransport, dkim: DkimSettings): NoticeTransport {
  return {
    async send(notice: ComposedNotice): Promise<NoticeSendResult> {
      const signed = await signNotice(notice.raw, dkim);
      if (!signed.ok) return { kind: 'deferred', reason: signed.reason, detail: signed.detail };
      return transport.send({ ...notice, raw: signed.raw });
    },
  };
}
