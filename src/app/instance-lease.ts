// Liveness of the instances sharing a data volume (SPEC §11). Each keeps a lease,
// `<data>/instances/<id>.json` (id, process token, pid, host name, start time), and touches it every
// LEASE_RENEW_MS. A lease untouched for LEASE_DEAD_MS, or marked stopped, is a gone instance's: its
// spool directory is removed at once (a spool file is never the only copy of a message we answered
// 250 for: the stored copy is a hard link or a copy of it, made before the 250) and its notice claims
// are taken over at once instead of after 30 minutes. A touched lease is a live instance: its spool and
// claims stay its own. Two processes with one id would clean each other's spool at start, so the
// second one refuses to start.
import { randomUUID } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { errorText } from '../observability/error-text.js';
import type { HolderState } from '../quarantine/notice-claim.js';
import type { EventSink } from '../observability/events.js';
import { nodeDurableFs, replaceFileDurably } from '../storage/durable-fs.js';
import { INSTANCE_ID_ENV, spoolDirFor } from '../storage/instance-id.js';

/** How often a live instance touches its lease. */
export const LEASE_RENEW_MS = 10_000;
/**
 * Silence after which an instance counts as gone: six missed renewals, so an event loop held up for
 * most of a minute (a swapping host, a paused container) is not taken for dead.
 */
export const LEASE_DEAD_MS = 60_000;
/** A gone instance's lease file is removed after this long; by then nothing of it is left to judge. */
export const LEASE_FORGET_MS = 24 * 3_600_000;
/** The longest a lease file may be: ours are under 300 bytes. */
const MAX_LEASE_BYTES = 4096;

export interface LeaseRecord {
  readonly id: string;
  /** The process's token; notice claims carry it (`<id> <token>`). */
  readonly token: string;
  readonly pid: number;
  /** The OS host name (in a container, the container's), to tell a restart from a second process. */
  readonly hostname: string;
  readonly started: string;
  /** Set by a clean stop. */
  readonly stopped?: string;
}

/** A lease as read from disk: its record (null when it does not decode) and how long ago it was touched. */
export interface LeaseView {
  readonly record: LeaseRecord | null;
  readonly mtimeMs: number;
  readonly ageMs: number;
}

export type LeaseStatus = 'live' | 'stopped' | 'expired' | 'unreadable';

export function leaseStatus(view: LeaseView, deadMs: number = LEASE_DEAD_MS): LeaseStatus {
  if (view.record === null) return view.ageMs >= deadMs ? 'expired' : 'unreadable';
  if (view.record.stopped !== undefined) return 'stopped';
  return view.ageMs >= deadMs ? 'expired' : 'live';
}

/**
 * A claim holds `<id> <token>`. No lease (a version without leases, a data directory not shared) and an
 * unreadable one say nothing; a lease of another token means the instance restarted since the claim.
 */
export function claimHolderState(view: LeaseView | null, token: string, deadMs: number = LEASE_DEAD_MS): HolderState {
  if (view === null || view.record === null) return 'unknown';
  if (leaseStatus(view, deadMs) !== 'live') return 'gone';
  return view.record?.token === token ? 'live' : 'gone';
}

export type AcquireDecision = 'take' | 'refuse' | 'watch';

/**
 * At start, our own id's lease. Free when absent, stopped, expired or unreadable. A live one written on
 * this host is ours to take when its process is gone (a restart after a crash; in a container the new
 * process often has the old pid, which is then ours); a live process is a second instance with our id.
 * A live lease of another host cannot be checked by pid: watch whether it is renewed.
 */
export function decideAcquire(
  view: LeaseView | null,
  self: { readonly hostname: string; readonly pid: number },
  pidAlive: (pid: number) => boolean,
  deadMs: number = LEASE_DEAD_MS,
): AcquireDecision {
  if (view === null || leaseStatus(view, deadMs) !== 'live' || view.record === null) return 'take';
  const { record } = view;
  if (record.hostname !== self.hostname) return 'watch';
  return record.pid === self.pid || !pidAlive(record.pid) ? 'take' : 'refuse';
}

/** While watching another host's live lease: renewed is a live instance, silent long enough a gone one. */
export function decideWatch(first: LeaseView, now: LeaseView | null, deadMs: number = LEASE_DEAD_MS): AcquireDecision {
  if (now === null || leaseStatus(now, deadMs) !== 'live') return 'take';
  if (now.record?.token !== first.record?.token || now.mtimeMs !== first.mtimeMs) return 'refuse';
  return 'watch';
}

export class InstanceIdInUseError extends Error {
  readonly reason = 'instance-id-in-use';
  constructor(
    readonly id: string,
    readonly holder: LeaseRecord,
    ageMs: number,
  ) {
    super(
      `instance id "${id}" is in use by a live instance (pid ${holder.pid} on host ${holder.hostname}, ` +
        `lease renewed ${Math.round(ageMs / 1000)} s ago)`,
    );
  }
  readonly hint = `give each instance sharing the data directory its own ${INSTANCE_ID_ENV}, or stop the other one`;
}

export interface InstanceLease {
  /** At start, before this instance touches its spool or quarantine leftovers. Throws InstanceIdInUseError. */
  acquire(): Promise<void>;
  /** Removes the spool directories of gone instances; resolves with the ids newly found gone. */
  sweep(): Promise<string[]>;
  /** Renews the lease and sweeps every LEASE_RENEW_MS (an unref'd timer). */
  start(): void;
  /** Stops renewing and marks the lease stopped: the others take over at once. */
  release(): Promise<void>;
}

export interface LeaseDeps {
  readonly dataDir: string;
  readonly id: string;
  /** The notice claims' token of this process. */
  readonly token?: string;
  readonly events: EventSink;
  /** A gone instance was found: its notices can be recovered now. */
  readonly onPeerGone?: (id: string) => void;
  readonly now?: () => number;
  readonly renewMs?: number;
  readonly deadMs?: number;
}

export const leaseDirOf = (dataDir: string): string => path.join(dataDir, 'instances');
const leaseFileOf = (dataDir: string, id: string): string => path.join(leaseDirOf(dataDir), `${id}.json`);

function decodeLease(text: string): LeaseRecord | null {
  try {
    const v = JSON.parse(text) as Partial<Record<keyof LeaseRecord, unknown>> | null;
    if (
      !v ||
      typeof v.id !== 'string' ||
      typeof v.token !== 'string' ||
      typeof v.pid !== 'number' ||
      typeof v.hostname !== 'string' ||
      typeof v.started !== 'string' ||
      (v.stopped !== undefined && typeof v.stopped !== 'string')
    )
      return null;
    return {
      id: v.id,
      token: v.token,
      pid: v.pid,
      hostname: v.hostname,
      started: v.started,
      ...(v.stopped !== undefined ? { stopped: v.stopped } : {}),
    };
  } catch {
    return null;
  }
}

/** A lease as it is on disk; null when there is none. Never through a planted link, never waiting on a FIFO. */
export async function readLease(file: string, nowMs: number = Date.now()): Promise<LeaseView | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await nodeDurableFs.openReadNoFollow(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // a link or something else unopenable in place of a lease: nothing to trust, nothing to take for live
    return { record: null, mtimeMs: 0, ageMs: Number.POSITIVE_INFINITY };
  }
  try {
    const st = await fh.stat();
    const mtimeMs = st.mtimeMs;
    if (!st.isFile() || st.size > MAX_LEASE_BYTES) return { record: null, mtimeMs, ageMs: nowMs - mtimeMs };
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(MAX_LEASE_BYTES), 0, MAX_LEASE_BYTES, 0);
    return { record: decodeLease(buffer.subarray(0, bytesRead).toString('utf8')), mtimeMs, ageMs: nowMs - mtimeMs };
  } finally {
    await fh.close();
  }
}

/** The holder of a notice claim (`<id> <token>`), judged by its lease in `dataDir`. */
export async function claimHolderIn(dataDir: string, id: string, token: string): Promise<HolderState> {
  // an id read from a claim file names a lease file: only a well-formed one does
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) return 'unknown';
  const view = await readLease(leaseFileOf(dataDir, id)).catch(() => null);
  return claimHolderState(view, token);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, only not ours to signal
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function createInstanceLease(deps: LeaseDeps): InstanceLease {
  const now = deps.now ?? Date.now;
  const renewMs = deps.renewMs ?? LEASE_RENEW_MS;
  const deadMs = deps.deadMs ?? LEASE_DEAD_MS;
  const dir = leaseDirOf(deps.dataDir);
  const file = leaseFileOf(deps.dataDir, deps.id);
  const record: LeaseRecord = {
    id: deps.id,
    token: deps.token ?? randomUUID(),
    pid: process.pid,
    hostname: hostname(),
    started: new Date(now()).toISOString(),
  };
  /** `<id> <token>` of every gone instance already handled: each is reported and cleaned once. */
  const handled = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let lostReported = false;
  let ticking = false;

  const write = (r: LeaseRecord): Promise<void> => replaceFileDurably(nodeDurableFs, file, `${JSON.stringify(r)}\n`);

  async function renew(): Promise<void> {
    const view = await readLease(file, now());
    if (view?.record && view.record.token !== record.token) {
      // another process took our id while we were silent past LEASE_DEAD_MS: it owns it now
      if (!lostReported)
        deps.events.emit({
          event: 'error',
          where: 'instance',
          reason: 'instance-id-in-use',
          error:
            `the lease of instance id "${deps.id}" was taken over by pid ${view.record.pid} on host ` +
            `${view.record.hostname}: give each instance sharing the data directory its own ${INSTANCE_ID_ENV}`,
        });
      lostReported = true;
      return;
    }
    if (view?.record) {
      const t = new Date(now());
      await fsp.utimes(file, t, t);
    } else await write(record);
  }

  async function sweep(): Promise<string[]> {
    const found: string[] = [];
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const id = name.slice(0, -'.json'.length);
      if (id === deps.id) continue;
      const leaseFile = path.join(dir, name);
      const view = await readLease(leaseFile, now()).catch(() => null);
      if (!view) continue;
      const status = leaseStatus(view, deadMs);
      if (status === 'live' || status === 'unreadable') continue;
      if (view.ageMs >= LEASE_FORGET_MS) await fsp.unlink(leaseFile).catch(() => undefined);
      const key = `${id} ${view.record?.token ?? ''}`;
      if (handled.has(key)) continue;
      handled.add(key);
      const spool = spoolDirFor(deps.dataDir, id);
      const spoolFiles = await fsp.readdir(spool).then(
        (n) => n.length,
        () => 0,
      );
      // read again right before: a successor with this id that started meanwhile owns the directory
      const again = await readLease(leaseFile, now()).catch(() => null);
      if (again && leaseStatus(again, deadMs) === 'live') {
        handled.delete(key);
        continue;
      }
      await fsp.rm(spool, { recursive: true, force: true });
      deps.events.emit({
        event: 'instance',
        action: 'peer-gone',
        id,
        ...(view.record ? { host: view.record.hostname, pid: view.record.pid } : {}),
        lease: status,
        spoolFiles,
      });
      found.push(id);
      deps.onPeerGone?.(id);
    }
    return found;
  }

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

  return {
    async acquire() {
      await nodeDurableFs.mkdirp(dir);
      const first = await readLease(file, now());
      let decision = decideAcquire(first, record, pidAlive, deadMs);
      if (decision === 'watch' && first?.record) {
        deps.events.emit({
          event: 'instance',
          action: 'waiting',
          id: deps.id,
          host: first.record.hostname,
          pid: first.record.pid,
        });
        // a renewal comes within renewMs when the other is alive; silence for deadMs means it is gone
        const until = now() + deadMs;
        while (decision === 'watch' && now() < until + renewMs) {
          await sleep(Math.min(1000, renewMs));
          decision = decideWatch(first, await readLease(file, now()), deadMs);
        }
        if (decision === 'watch') decision = 'take';
      }
      if (decision === 'refuse') {
        const holder = (await readLease(file, now())) ?? first;
        if (holder?.record) throw new InstanceIdInUseError(deps.id, holder.record, holder.ageMs);
      }
      await write(record);
      deps.events.emit({ event: 'instance', action: 'started', id: deps.id, host: record.hostname, pid: record.pid });
    },
    sweep,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (ticking) return;
        ticking = true;
        renew()
          .then(sweep)
          .catch((err: unknown) =>
            deps.events.emit({ event: 'error', where: 'instance', error: errorText(err), reason: 'instance-lease' }),
          )
          .finally(() => (ticking = false));
      }, renewMs);
      timer.unref();
    },
    async release() {
      if (timer) clearInterval(timer);
      timer = null;
      if (lostReported) return;
      const view = await readLease(file, now()).catch(() => null);
      if (view?.record?.token !== record.token) return;
      await write({ ...record, stopped: new Date(now()).toISOString() });
    },
  };
}
