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

/** Worker → main. */
export type DmarcWorkerMessage =
  | { readonly kind: 'dns'; readonly id: number; readonly name: string; readonly rrtype: string }
  | { readonly kind: 'result'; readonly spf: string; readonly dmarc: string; readonly headerFrom: readonly string[] };

/** Main → worker: the answer to one `dns` message. */
export type DnsAnswer =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly code: string | undefined; readonly message: string };

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
}

function remoteResolver(port: MessagePort): (name: string, rrtype: string) => Promise<unknown> {
  const pending = new Map<number, Pending>();
  let nextId = 0;
  port.on('message', (answer: DnsAnswer) => {
    const p = pending.get(answer.id);
    if (!p) return;
    pending.delete(answer.id);
    if (answer.ok) p.resolve(answer.value);
    // mailauth tells "no such record" from an outage by the error's code
    else p.reject(Object.assign(new Error(answer.message), answer.code === undefined ? {} : { code: answer.code }));
  });
  return (name, rrtype) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      const query: DmarcWorkerMessage = { kind: 'dns', id, name, rrtype };
      port.postMessage(query);
    });
}

async function run(port: MessagePort, job: DmarcJob): Promise<void> {
  const { authenticate } = await import('mailauth');
  const r = await authenticate(Buffer.from(job.message.buffer, job.message.byteOffset, job.message.byteLength), {
    sender: job.sender,
    ip: job.ip,
    helo: job.helo,
    mta: job.mta,
    // mailauth's resolver type promises string records; ours is the wider dns.resolve shape it really calls
    resolver: remoteResolver(port) as DNSResolver,
    disableArc: true,
    disableBimi: true,
  });
  const result: DmarcWorkerMessage = {
    kind: 'result',
    spf: r.spf ? r.spf.status.result : 'none',
    dmarc: r.dmarc ? r.dmarc.status.result : 'none',
    headerFrom: r.dkim.headerFrom,
  };
  port.postMessage(result);
}

function isDmarcJob(data: unknown): data is DmarcJob {
  return (data as { message?: unknown } | null)?.message instanceof Uint8Array;
}

// only as the worker verify.ts starts: imported anywhere else (a test runner's own thread) it does nothing.
// An uncaught failure ends the worker with an 'error' event, which the main thread counts as temperror
if (parentPort && isDmarcJob(workerData)) void run(parentPort, workerData);
