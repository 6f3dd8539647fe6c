// SPF / DMARC for the envelope sender of a quarantined message, via mailauth. Never throws: any failure,
// a DNS outage included, is a `temperror`, which the notice gate counts as "not authenticated".
// The dmarc check reads DKIM signatures the sender chose: it sees a bounded copy of the message
// (dkim-input.ts) and runs in a worker thread that is terminated at the deadline.
import { errorText } from '../observability/error-text.js';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { DNSResolver } from 'mailauth';
import { domainOf, isAligned } from './align.js';
import { readDkimInput } from './dkim-input.js';
import { withDnsTimeout, dnsErrorCode, type DnsResolver } from './dns.js';
import { DMARC_WORKER_ROLE, type DmarcJob, type DmarcMainMessage, type DmarcWorkerMessage } from './dmarc-worker.js';

export type AuthMode = 'spf' | 'dmarc';

// a type, not an interface: it is stored as the entry's open-ended `auth` record
export type SenderAuth = {
  /** mailauth's SPF result: pass | fail | softfail | neutral | none | temperror | permerror. */
  readonly spf: string;
  /** DMARC result, or `skipped` when only SPF was asked for. */
  readonly dmarc: string;
  /** dmarc mode: envelope-sender domain aligned (relaxed) with the From: domain. */
  readonly aligned?: boolean;
};

export interface SenderAuthInput {
  readonly mode: AuthMode;
  readonly sender: string;
  readonly ip: string;
  readonly helo: string;
  /** Our own name, written into mailauth's result comments. */
  readonly hostname: string;
  /** The stored message; only the dmarc mode reads it (DKIM and the From: header). */
  readonly openMessage: () => Readable | null;
  /** Bound of one look-up (`dns.timeout`); 5 s when not given. */
  readonly dnsTimeoutMs?: number | undefined;
}

export const AUTH_TIMEOUT_MS = 20_000;

export const TEMPERROR: SenderAuth = { spf: 'temperror', dmarc: 'temperror' };

function withDeadline<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

// mailauth is loaded on first use: it pulls in joi, tldts and undici, which a server with
// `requireSenderAuth: none` never needs
async function checkSpf(input: SenderAuthInput, resolver: DNSResolver): Promise<SenderAuth> {
  const { spf } = await import('mailauth/lib/spf/index.js');
  const r = await spf({ sender: input.sender, ip: input.ip, helo: input.helo, mta: input.hostname, resolver });
  return { spf: r.status.result, dmarc: 'skipped' };
}

// Under the test runner this module is loaded from its TypeScript source, which a worker thread cannot
// run; it then uses the compiled worker that `npm run build` (and so `npm test`) puts in dist/.
const DMARC_WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? '../../dist/sender-auth/dmarc-worker.js' : './dmarc-worker.js',
  import.meta.url,
);

export interface VerifyHooks {
  /** Sees the worker of a dmarc check as it starts (tests watch it end). */
  readonly onWorker?: (worker: Worker) => void;
}

function isWorkerMessage(m: unknown): m is DmarcWorkerMessage {
  const kind = (m as { kind?: unknown } | null)?.kind;
  return kind === 'dns' || kind === 'result' || kind === 'failed';
}

interface Job {
  readonly sender: string;
  readonly resolver: DnsResolver;
  finish(auth: SenderAuth): void;
}

/**
 * One worker thread serves every check, so mailauth is loaded once (a worker per message cost 0.28 s
 * of CPU and 36 MB each, and a quarantine flood would pay that per entry). A check that outlives its
 * deadline terminates the worker, and with it every check it was running (they answer temperror);
 * the next check starts a new one. Shared by the process, like a loaded module: nothing to wire.
 */
let shared: { readonly worker: Worker; readonly jobs: Map<number, Job> } | null = null;
let nextJobId = 0;

function sharedWorker(): { readonly worker: Worker; readonly jobs: Map<number, Job> } {
  if (shared) return shared;
  // mailauth prints diagnostics (e.g. a body shorter than a signature's l=) with console.log; in our
  // stdout they would break the one-JSON-object-per-line log, with text the sender chose
  const worker = new Worker(DMARC_WORKER_URL, {
    workerData: DMARC_WORKER_ROLE,
    stdout: true,
    stderr: true,
    // bounded like the main process (--max-semi-space-size=4): a burst must not leave a large young
    // generation behind, and a message that needs more than this is a temperror, not a bigger server
    resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 },
  });
  worker.stdout.resume();
  worker.stderr.resume();
  // an idle worker never keeps the process alive
  worker.unref();
  const jobs = new Map<number, Job>();
  const current = { worker, jobs };
  shared = current;
  const post = (m: DmarcMainMessage): void => {
    try {
      worker.postMessage(m);
    } catch (err) {
      // an answer that cannot cross to the worker (not cloneable) is a failed look-up
      if (m.kind === 'answer') {
        worker.postMessage({
          kind: 'answer',
          jobId: m.jobId,
          answer: { id: m.answer.id, ok: false, code: undefined, message: dnsErrorCode(err) },
        } satisfies DmarcMainMessage);
      }
    }
  };
  worker.on('message', (m: unknown) => {
    if (!isWorkerMessage(m)) return;
    const job = jobs.get(m.jobId);
    if (!job) return;
    if (m.kind === 'failed') return job.finish(TEMPERROR);
    if (m.kind === 'dns') {
      job.resolver(m.name, m.rrtype).then(
        (value) => post({ kind: 'answer', jobId: m.jobId, answer: { id: m.id, ok: true, value } }),
        (err: unknown) => {
          const code = (err as { code?: unknown } | null)?.code;
          post({
            kind: 'answer',
            jobId: m.jobId,
            answer: { id: m.id, ok: false, code: typeof code === 'string' ? code : undefined, message: errorText(err) },
          });
        },
      );
      return;
    }
    const from = m.headerFrom.length === 1 ? (m.headerFrom[0] ?? '') : '';
    job.finish({ spf: m.spf, dmarc: m.dmarc, aligned: from !== '' && isAligned(domainOf(job.sender), domainOf(from)) });
  });
  const gone = (): void => {
    if (shared === current) shared = null;
    for (const job of [...jobs.values()]) job.finish(TEMPERROR);
  };
  worker.on('error', gone);
  worker.on('exit', gone);
  return current;
}

/** Runs the job on the shared worker; past `timeoutMs` the worker is terminated and the result is temperror. */
function verifyInWorker(
  job: DmarcJob,
  sender: string,
  resolver: DnsResolver,
  timeoutMs: number,
  hooks: VerifyHooks,
): Promise<SenderAuth> {
  return new Promise((resolve) => {
    const { worker, jobs } = sharedWorker();
    const jobId = nextJobId++;
    let settled = false;
    const finish = (auth: SenderAuth): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      jobs.delete(jobId);
      resolve(auth);
    };
    const timer = setTimeout(() => {
      finish(TEMPERROR);
      // a worker stuck in hashing or a hung look-up cannot be told to stop, only ended
      if (shared?.worker === worker) shared = null;
      void worker.terminate();
    }, timeoutMs);
    // like the deadline timer of the SPF check, a check in progress does not keep the process alive
    timer.unref();
    jobs.set(jobId, { sender, resolver, finish });
    worker.postMessage({ kind: 'job', jobId, job } satisfies DmarcMainMessage);
    hooks.onWorker?.(worker);
  });
}

async function checkDmarc(
  input: SenderAuthInput,
  resolver: DnsResolver,
  deadlineMs: number,
  hooks: VerifyHooks,
): Promise<SenderAuth> {
  const stream = input.openMessage();
  if (!stream) return TEMPERROR;
  const message = await readDkimInput(stream);
  const left = deadlineMs - Date.now();
  if (left <= 0) return TEMPERROR;
  const job: DmarcJob = { message, sender: input.sender, ip: input.ip, helo: input.helo, mta: input.hostname };
  return verifyInWorker(job, input.sender, resolver, left, hooks);
}

export async function verifySenderAuth(
  input: SenderAuthInput,
  resolve: DnsResolver,
  timeoutMs = AUTH_TIMEOUT_MS,
  hooks: VerifyHooks = {},
): Promise<SenderAuth> {
  const resolver = withDnsTimeout(resolve, input.dnsTimeoutMs);
  const check =
    input.mode === 'spf'
      ? // mailauth's resolver type promises string records; ours is the wider dns.resolve shape it really calls
        checkSpf(input, resolver as DNSResolver)
      : checkDmarc(input, resolver, Date.now() + timeoutMs, hooks);
  return withDeadline(check, timeoutMs, TEMPERROR);
}
