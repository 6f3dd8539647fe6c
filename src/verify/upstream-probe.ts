// RCPT probes to the upstream mailbox server (SPEC §3 `verify.upstream`): `MAIL FROM:<>`,
// `RCPT TO:<address>`, `RSET`, on a few pooled connections (EHLO once, reused, reopened when the
// server closed one), with a queue in front so a burst of RCPTs never becomes a burst of
// connections, and a deadline per probe covering its wait in the queue.
import {
  openProbeConnection,
  ProbeConnectionError,
  type ProbeConnection,
  type ProbeConnectionOptions,
  type ProbeReply,
} from './smtp-client.js';

/** What the upstream said of one address. `unavailable` is never a guess either way: the RCPT gets 451 4.4.3. */
export type ProbeAnswer =
  | { readonly kind: 'exists'; readonly reply: string }
  | { readonly kind: 'no-such-user'; readonly reply: string }
  | { readonly kind: 'unavailable'; readonly detail: string };

/**
 * The RCPT reply → an answer. 2xx: the mailbox exists. 550/551/553 with no enhanced code or a 5.1.x
 * one: no such user. Any other 5xx (5.7.1 relay denied, 552 …) says the server will not tell, not that
 * the mailbox is missing; 4xx is "not now": both unavailable. Pure.
 */
export function classifyRcptReply(r: ProbeReply): ProbeAnswer {
  const line = `${r.code} ${r.text}`;
  if (r.code >= 200 && r.code < 300) return { kind: 'exists', reply: line };
  const enhanced = /^([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(r.text);
  if ([550, 551, 553].includes(r.code) && (!enhanced || (enhanced[1] === '5' && enhanced[2] === '1')))
    return { kind: 'no-such-user', reply: line };
  return { kind: 'unavailable', detail: `RCPT answered ${line}` };
}

export interface UpstreamProberOptions extends Omit<ProbeConnectionOptions, 'timeoutMs'> {
  /** Whole probe, its wait for a connection included. */
  readonly timeoutMs: number;
  /** Connections open at once: the bound on concurrent probes. */
  readonly connections?: number;
  /** Probes waiting beyond this answer `unavailable` at once. */
  readonly maxQueue?: number;
  /** A connection idle this long is closed (QUIT). */
  readonly idleMs?: number;
}

export interface UpstreamProber {
  probe(address: string): Promise<ProbeAnswer>;
  close(): Promise<void>;
}

export const PROBE_CONNECTIONS = 3;
const MAX_QUEUE = 1000;
const IDLE_MS = 30_000;

interface Job {
  readonly address: string;
  settled: boolean;
  readonly settle: (a: ProbeAnswer) => void;
  readonly timer: NodeJS.Timeout;
}

interface Slot {
  conn: ProbeConnection | null;
  job: Job | null;
  idle: NodeJS.Timeout | null;
}

/** CR, LF or angle brackets would end the command early: such an address is never sent. */
const UNSAFE = /[\r\n<>\0]/;

const unavailable = (detail: string): ProbeAnswer => ({ kind: 'unavailable', detail });

function failureDetail(err: unknown): string {
  if (err instanceof ProbeConnectionError) {
    if (err.code === 'ETIMEDOUT') return `timeout: ${err.message}`;
    if (err.code === 'ECONNECT') return `cannot connect: ${err.message}`;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export function createUpstreamProber(opts: UpstreamProberOptions): UpstreamProber {
  const size = Math.max(1, opts.connections ?? PROBE_CONNECTIONS);
  const maxQueue = opts.maxQueue ?? MAX_QUEUE;
  const idleMs = opts.idleMs ?? IDLE_MS;
  const slots: Slot[] = Array.from({ length: size }, () => ({ conn: null, job: null, idle: null }));
  const queue: Job[] = [];
  let closed = false;

  const connect = (): Promise<ProbeConnection> => openProbeConnection({ ...opts, timeoutMs: opts.timeoutMs });

  function release(slot: Slot): void {
    slot.job = null;
    if (slot.conn && !slot.conn.isClosed()) {
      const conn = slot.conn;
      slot.idle = setTimeout(() => {
        if (slot.conn === conn && slot.job === null) {
          slot.conn = null;
          conn.quit();
        }
      }, idleMs);
      slot.idle.unref();
    }
    pump();
  }

  /** One probe on one connection; a reused connection that turns out closed is reopened once. */
  async function run(slot: Slot, job: Job): Promise<void> {
    for (let attempt = 0; attempt < 2 && !job.settled; attempt++) {
      const reused = slot.conn !== null && !slot.conn.isClosed();
      try {
        if (!reused) slot.conn = await connect();
        const conn = slot.conn;
        if (conn === null) return;
        // the deadline fired while connecting: the connection stays for the next job
        if (job.settled) return;
        const utf8 = /[^\x00-\x7f]/.test(job.address);
        if (utf8 && !conn.extensions.has('SMTPUTF8'))
          return job.settle(unavailable('the address needs SMTPUTF8, which the upstream does not offer'));
        const mail = await conn.command(utf8 ? 'MAIL FROM:<> SMTPUTF8' : 'MAIL FROM:<>');
        if (mail.code < 200 || mail.code > 299) {
          job.settle(unavailable(`MAIL FROM:<> answered ${mail.code} ${mail.text}`));
          await conn.command('RSET').catch(() => undefined);
          return;
        }
        const rcpt = await conn.command(`RCPT TO:<${job.address}>`);
        job.settle(classifyRcptReply(rcpt));
        const rset = await conn.command('RSET');
        if (rset.code < 200 || rset.code > 299) conn.quit();
        return;
      } catch (err) {
        slot.conn?.destroy();
        slot.conn = null;
        // the server may close an idle connection just as we write to it: try once on a fresh one
        const retry = reused && err instanceof ProbeConnectionError && err.code === 'ECLOSED';
        if (!retry) return job.settle(unavailable(failureDetail(err)));
      }
    }
  }

  function pump(): void {
    for (const slot of slots) {
      if (slot.job !== null) continue;
      let job = queue.shift();
      while (job?.settled) job = queue.shift();
      if (!job) return;
      if (slot.idle) clearTimeout(slot.idle);
      slot.idle = null;
      slot.job = job;
      const running = job;
      void run(slot, running).finally(() => {
        if (!running.settled) running.settle(unavailable('probe ended without an answer'));
        release(slot);
      });
    }
  }

  return {
    probe(address) {
      if (closed) return Promise.resolve(unavailable('shutting down'));
      if (UNSAFE.test(address)) return Promise.resolve(unavailable('address unsafe to send'));
      if (queue.length >= maxQueue) return Promise.resolve(unavailable(`${maxQueue} probes already waiting`));
      return new Promise<ProbeAnswer>((resolve) => {
        const job: Job = {
          address,
          settled: false,
          settle(a) {
            if (job.settled) return;
            job.settled = true;
            clearTimeout(job.timer);
            resolve(a);
          },
          timer: setTimeout(() => {
            job.settle(unavailable(`timeout: no answer within ${opts.timeoutMs} ms`));
            // a connection stuck in the middle of a command is in an unknown state: dropped
            const slot = slots.find((s) => s.job === job);
            slot?.conn?.destroy();
          }, opts.timeoutMs),
        };
        queue.push(job);
        pump();
      });
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.settle(unavailable('shutting down'));
      for (const slot of slots) {
        if (slot.idle) clearTimeout(slot.idle);
        slot.job?.settle(unavailable('shutting down'));
        slot.conn?.quit();
        slot.conn = null;
      }
    },
  };
}
