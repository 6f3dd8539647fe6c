// Issue #9 item 3: with `requireSenderAuth: dmarc` the sender chooses how many DKIM signatures are
// verified, which names are looked up and how much is hashed. The check must be bounded in all three,
// and stoppable at its deadline. Runs the real worker (dist/, built by `npm run build`).
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { dkimSign } from 'mailauth';
import { describe, expect, it } from 'vitest';
import {
  boundDkimInput,
  keepFirstDkimSignatures,
  MAX_DKIM_BODY_BYTES,
  MAX_DKIM_HEADER_BYTES,
  MAX_DKIM_SIGNATURES,
} from '../../src/sender-auth/dkim-input.js';
import type { DnsResolver } from '../../src/sender-auth/dns.js';
import { verifySenderAuth, TEMPERROR, type SenderAuthInput } from '../../src/sender-auth/verify.js';

const dnsError = (code: string): Error => Object.assign(new Error(code), { code });

const SPF_FAILS = { 'shop.test': 'v=spf1 -all', '_dmarc.shop.test': 'v=DMARC1; p=reject' };

interface CountingDns {
  readonly resolve: DnsResolver;
  /** DKIM key look-ups (`<selector>._domainkey.<domain>`) asked so far. */
  readonly keyLookups: string[];
}

function countingDns(txt: Record<string, string>, opts: { hangKeys?: boolean; delayMs?: number } = {}): CountingDns {
  const keyLookups: string[] = [];
  const resolve: DnsResolver = async (name, rrtype) => {
    if (name.includes('._domainkey.')) {
      keyLookups.push(name);
      if (opts.hangKeys) return new Promise(() => undefined);
    }
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    const v = rrtype === 'TXT' ? txt[name] : undefined;
    if (v === undefined) throw dnsError('ENOTFOUND');
    return [[v]];
  };
  return { resolve, keyLookups };
}

function input(message: string | Buffer, over: Partial<SenderAuthInput> = {}): SenderAuthInput {
  return {
    mode: 'dmarc',
    sender: 'jane@shop.test',
    ip: '192.0.2.7',
    helo: 'mail.shop.test',
    hostname: 'mx.test',
    openMessage: () => Readable.from([Buffer.from(message)]),
    ...over,
  };
}

const BODY = 'hello\r\n';
// relaxed body canonicalization leaves this body as it is, so its hash is the plain SHA-256
const BODY_HASH = createHash('sha256').update(BODY).digest('base64');

/** `n` signatures whose body hash matches, each naming its own domain and selector: each one costs a key look-up. */
function manySignatures(n: number, tags: (i: number) => string = () => `bh=${BODY_HASH}`): string {
  let head = '';
  for (let i = 0; i < n; i++)
    head += `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=d${i}.attacker.test; s=s${i}; h=from; ${tags(i)}; b=AAAA\r\n`;
  return head;
}

const HEADERS = 'From: <jane@shop.test>\r\nTo: typo@example.test\r\nSubject: hi\r\nMessage-ID: <m@x>\r\n';

function cpuMs(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

describe('DKIM verification is bounded (issue #9, item 3)', () => {
  it('200 DKIM-Signature fields naming distinct domains cause at most MAX_DKIM_SIGNATURES key look-ups', async () => {
    const dns = countingDns(SPF_FAILS, { delayMs: 5 });
    const started = Date.now();
    const r = await verifySenderAuth(input(manySignatures(200) + HEADERS + '\r\n' + BODY), dns.resolve);
    // the signatures were really looked at: the first MAX_DKIM_SIGNATURES from the top, the most recently added
    expect(dns.keyLookups).toEqual(
      Array.from({ length: MAX_DKIM_SIGNATURES }, (_, i) => `s${i}._domainkey.d${i}.attacker.test`),
    );
    expect(r).toEqual({ spf: 'fail', dmarc: 'fail', aligned: true });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('400 signatures with distinct l= over a 4 MB body cost bounded CPU (was ~6 s)', async () => {
    const line = `${'x'.repeat(76)}\r\n`;
    const body = line.repeat(Math.ceil(4_000_000 / line.length));
    const message = manySignatures(400, (i) => `l=${body.length - i}; bh=AAAA`) + HEADERS + '\r\n' + body;
    const dns = countingDns(SPF_FAILS);
    const cpu = process.cpuUsage();
    const started = Date.now();
    const r = await verifySenderAuth(input(message), dns.resolve);
    const spent = cpuMs(cpu);
    console.log(
      `400 signatures, 4 MB body: ${Math.round(spent)} ms CPU (all threads), ${Date.now() - started} ms wall`,
    );
    expect(r).toEqual({ spf: 'fail', dmarc: 'fail', aligned: true });
    // process.cpuUsage counts the worker thread too; worker start-up (loading mailauth) is most of it
    expect(spent).toBeLessThan(2_500);
  });

  it('a stuck verification is terminated at the deadline: worker gone, result temperror', async () => {
    const dns = countingDns(SPF_FAILS, { hangKeys: true });
    let worker: Worker | undefined;
    const started = Date.now();
    const r = await verifySenderAuth(input(manySignatures(1) + HEADERS + '\r\n' + BODY), dns.resolve, 1_500, {
      onWorker: (w) => {
        worker = w;
      },
    });
    const elapsed = Date.now() - started;
    expect(r).toEqual(TEMPERROR);
    expect(dns.keyLookups).toEqual(['s0._domainkey.d0.attacker.test']); // it was stuck in the key look-up
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(elapsed).toBeLessThan(4_000);
    // terminated, not left waiting: the worker's thread is gone (threadId -1 once it has exited)
    if (worker === undefined) throw new Error('verifySenderAuth started no worker');
    const w = worker;
    if (w.threadId !== -1) await new Promise((resolve) => w.once('exit', resolve));
    expect(w.threadId).toBe(-1);
  });

  it('a verification busy hashing returns at its deadline, not when the hashing ends', async () => {
    // before the fix the hashing ran on the caller's thread, so no timer could fire until it ended
    const line = `${'x'.repeat(76)}\r\n`;
    const body = line.repeat(Math.ceil(4_000_000 / line.length));
    const message = manySignatures(400, (i) => `l=${body.length - i}; bh=AAAA`) + HEADERS + '\r\n' + body;
    let exited: Promise<unknown> | undefined;
    const started = Date.now();
    const r = await verifySenderAuth(input(message), countingDns(SPF_FAILS).resolve, 300, {
      onWorker: (w) => {
        exited = new Promise((resolve) => w.once('exit', resolve));
      },
    });
    expect(r).toEqual(TEMPERROR);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(exited).toBeInstanceOf(Promise);
    await exited;
  });

  it('an honest signature above many junk ones still carries DMARC when SPF fails', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const message = HEADERS + '\r\n' + BODY;
    const key = {
      signingDomain: 'shop.test',
      selector: 'k1',
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    // mailauth's type wants the key fields at the top, its signer reads them only from signatureData
    const signed = await dkimSign(message, { ...key, signatureData: [key] });
    expect(signed.errors).toEqual([]);
    const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const dns = countingDns({ ...SPF_FAILS, 'k1._domainkey.shop.test': `v=DKIM1; k=rsa; p=${p}` });
    const r = await verifySenderAuth(input(signed.signatures + manySignatures(20) + message), dns.resolve);
    expect(r).toEqual({ spf: 'fail', dmarc: 'pass', aligned: true });
    expect(dns.keyLookups.length).toBe(MAX_DKIM_SIGNATURES);
  });
});

describe('boundDkimInput', () => {
  it('drops the DKIM-Signature fields past the fifth, folded lines and all, and nothing else', () => {
    const sig = (i: number): string => `dkim-signature : v=1; d=d${i}.test;\r\n\tb=AAAA${i}\r\n`;
    const fields = Array.from({ length: 8 }, (_, i) => sig(i) + `X-After-${i}: kept\r\n`).join('');
    const out = keepFirstDkimSignatures(Buffer.from(fields + HEADERS + '\r\n')).toString('latin1');
    const expected = Array.from(
      { length: 8 },
      (_, i) => (i < MAX_DKIM_SIGNATURES ? sig(i) : '') + `X-After-${i}: kept\r\n`,
    ).join('');
    expect(out).toBe(expected + HEADERS + '\r\n');
  });

  it('cuts the body at MAX_DKIM_BODY_BYTES and keeps the header whole', () => {
    const head = `${HEADERS}\r\n`;
    const out = boundDkimInput(
      Buffer.concat([Buffer.from(head), Buffer.alloc(MAX_DKIM_BODY_BYTES + 1000, 0x61)]),
      false,
    );
    expect(out.length).toBe(head.length + MAX_DKIM_BODY_BYTES);
    expect(out.subarray(0, head.length).toString()).toBe(head);
  });

  it('cuts a header block longer than MAX_DKIM_HEADER_BYTES at a field boundary and ends it with a blank line', () => {
    const field = `X-Pad: ${'p'.repeat(90)}\r\n\t${'q'.repeat(90)}\r\n`;
    const head = HEADERS + field.repeat(Math.ceil((MAX_DKIM_HEADER_BYTES * 2) / field.length)) + '\r\n';
    const out = boundDkimInput(Buffer.from(head + BODY), true).toString('latin1');
    // as many whole X-Pad fields as start within the limit, then the blank line; no body
    const kept = Math.floor((MAX_DKIM_HEADER_BYTES - HEADERS.length) / field.length);
    expect(out).toBe(HEADERS + field.repeat(kept) + '\r\n');
    expect(out.length).toBeLessThanOrEqual(MAX_DKIM_HEADER_BYTES + 2);
  });
});
