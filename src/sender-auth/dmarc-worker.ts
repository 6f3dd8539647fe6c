// mailauth's DKIM, SPF and DMARC checks for one message, in a worker thread: a timer in the main thread
// can stop waiting for a promise but not the hashing behind it, and a worker can be terminated. DNS is
// asked of the main thread, so the one resolver seam (and its tests' stand-ins) stays where it was.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { DNSResolver } from 'mailauth';

export interface DmarcJob {
  /** The message as `boundDkimInput` left it. */
  readonly message: Uint8Array;
  readonly sender: string;
  readonly ip: string;
  readonly helo: string;
  readonly mta: string;
}

/** Worker → main: a look-up for a job, or a job's result. */
export type DmarcWorkerMessage =
  | {
      readonly kind: 'dns';
      readonly jobId: number;
      readonly id: number;
      readonly name: string;
      readonly rrtype: string;
    }
  | {
      readonly kind: 'result';
      readonly jobId: number;
      readonly spf: string;
      readonly dmarc: string;
      readonly headerFrom: readonly string[];
    }
  | { readonly kind: 'failed'; readonly jobId: number };

/** The answer to one `dns` message. */
export type DnsAnswer =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly code: string | undefined; readonly message: string };

/** Main → worker: a job, or the answer to one of its look-ups. */
export type DmarcMainMessage =
  | { readonly kind: 'job'; readonly jobId: number; readonly job: DmarcJob }
  | { readonly kind: 'answer'; readonly jobId: number; readonly answer: DnsAnswer };

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

/** One resolver per job: its look-ups go to the main thread, tagged with the job. */
function remoteResolver(
  port: MessagePort,
  jobId: number,
  pending: Map<number, Pending>,
): (name: string, rrtype: string) => Promise<unknown> {
  let nextId = 0;
  return (name, rrtype) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      const query: DmarcWorkerMessage = { kind: 'dns', jobId, id, name, rrtype };
      port.postMessage(query);
    });
}

async function run(port: MessagePort, jobId: number, job: DmarcJob, pending: Map<number, Pending>): Promise<void> {
  const { authenticate } = await import('mailauth');
  const r = await authenticate(Buffer.from(job.message.buffer, job.message.byteOffset, job.message.byteLength), {
    sender: job.sender,
    ip: job.ip,
    helo: job.helo,
    mta: job.mta,
    // mailauth's resolver type promises string records; ours is the wider dns.resolve shape it really calls
    resolver: remoteResolver(port, jobId, pending) as DNSResolver,
    disableArc: true,
    disableBimi: true,
  });
  const result: DmarcWorkerMessage = {
    kind: 'result',
    jobId,
    spf: r.spf ? r.spf.status.result : 'none',
    dmarc: r.dmarc ? r.dmarc.status.result : 'none',
    headerFrom: r.dkim.headerFrom,
  };
  port.postMessage(result);
}

/** Serves jobs for as long as the main thread keeps the worker: mailauth is loaded once, not per message. */
function serve(port: MessagePort): void {
  const jobs = new Map<number, Map<number, Pending>>();
  port.on('message', (m: DmarcMainMessage) => {
    if (m.kind === 'job') {
      const pending = new Map<number, Pending>();
      jobs.set(m.jobId, pending);
      run(port, m.jobId, m.job, pending)
        .catch(() => port.postMessage({ kind: 'failed', jobId: m.jobId } satisfies DmarcWorkerMessage))
        .finally(() => jobs.delete(m.jobId));
      return;
    }
    const pending = jobs.get(m.jobId);
    const p = pending?.get(m.answer.id);
    if (!pending || !p) return;
    pending.delete(m.answer.id);
    const a = m.answer;
    if (a.ok) p.resolve(a.value);
    // mailauth tells "no such record" from an outage by the error's code
    else p.reject(Object.assign(new Error(a.message), a.code === undefined ? {} : { code: a.code }));
  });
}

export const DMARC_WORKER_ROLE = 'catchall-guard:dmarc';

// only as the worker verify.ts starts: imported anywhere else (a test runner's own thread) it does nothing
if (parentPort && workerData === DMARC_WORKER_ROLE) serve(parentPort);
