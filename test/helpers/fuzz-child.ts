// Support for the suites that drive a CHILD-process server hard (fuzz, kill -9): a fresh dist/,
// the child's RSS, and one raw fuzz session with hard time bounds.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { buildDist } from './build-dist.js';

/** dist/ current for child processes (the one locked build of test/helpers/build-dist.ts). */
export const ensureBuilt = buildDist;

/** VmRSS of a process in KiB (Linux /proc), or null when it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** User + system CPU seconds a process has used so far (Linux /proc, clock ticks of 100 Hz), or null. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Math.round((Number(rest[11]) + Number(rest[12])) / 10) / 10;
  } catch {
    return null;
  }
}

export const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

export interface FuzzOutcome {
  /** Final reply lines (`250 …`), greeting included. */
  readonly replies: string[];
  /** Lines that are not SMTP replies at all (`\d{3}[ -]…`): must stay empty. */
  readonly badLines: string[];
  readonly closedByServer: boolean;
  readonly connectError: string | null;
}

const REPLY_LINE = /^[2-5]\d\d[ -]/;

/**
 * One session: connect, (maybe) wait for the banner, write the chunks with tiny pauses, then wait
 * until the server has been quiet for `idleMs` or closed; destroy. Never longer than `capMs`.
 */
export function runFuzzSession(
  port: number,
  chunks: readonly Buffer[],
  opts: { waitGreeting: boolean; idleMs?: number; capMs?: number },
): Promise<FuzzOutcome> {
  const idleMs = opts.idleMs ?? 40;
  const capMs = opts.capMs ?? 2000;
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    // several small writes in a row: without this, Nagle holds each one back until the previous is ACKed
    socket.setNoDelay(true);
    const replies: string[] = [];
    const badLines: string[] = [];
    let buf = '';
    let closedByServer = false;
    let connectError: string | null = null;
    let finished = false;
    let idleTimer: NodeJS.Timeout | undefined;
    let writing = true;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(idleTimer);
      clearTimeout(cap);
      socket.destroy();
      if (buf.length > 0 && !REPLY_LINE.test(buf) && buf.length > 3) badLines.push(buf);
      resolve({ replies, badLines, closedByServer, connectError });
    };
    const cap = setTimeout(finish, capMs);
    const armIdle = (): void => {
      clearTimeout(idleTimer);
      if (!writing) idleTimer = setTimeout(finish, idleMs);
    };
    let greeted: () => void = () => undefined;
    const greeting = new Promise<void>((r) => (greeted = r));
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        if (!REPLY_LINE.test(line)) badLines.push(line);
        else if (line[3] === ' ') replies.push(line);
      }
      greeted();
      armIdle();
    });
    socket.on('end', () => {
      closedByServer = true;
    });
    socket.on('close', () => {
      greeted();
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!replies.length && err.code === 'ECONNREFUSED') connectError = err.code;
    });
    socket.once('connect', () => {
      void (async () => {
        if (opts.waitGreeting) await Promise.race([greeting, new Promise((r) => setTimeout(r, 500))]);
        for (const c of chunks) {
          if (finished || socket.destroyed) break;
          socket.write(c);
          if (chunks.length > 1) await new Promise((r) => setTimeout(r, Math.random() < 0.5 ? 0 : 5));
        }
        writing = false;
        armIdle();
      })();
    });
  });
}
