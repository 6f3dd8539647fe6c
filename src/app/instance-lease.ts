// Liveness of the instances sharing a data volume (SPEC §11). Each keeps a lease,
// `<data>/instances/<id>.json` (id, process token, pid, host name, start time, a renewal counter), and
// rewrites it every LEASE_RENEW_MS. Whether another instance is alive is judged by whether its lease
// CHANGES between this process's own looks, timed on this process's monotonic clock: never by comparing
// the lease's time stamp with our wall clock, which is another process's (or host's) clock and may run
// minutes ahead or jump. A lease seen unchanged for LEASE_DEAD_MS of our watching, marked stopped, or
// written by a process of this host (same pid namespace) that no longer exists, is a gone instance's:
// its spool directory is removed at once (a spool file is never the only copy of a message we answered
// 250 for: the stored copy is a hard link or a copy of it, made before the 250) and its notice claims
// are taken over at once instead of after 30 minutes. A lease not yet watched that long is a live
// instance's: its spool and claims stay its own. Two processes with one id would clean each other's
// spool at start, so the second one refuses to start.
import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorText } from '../observability/error-text.js';
import type { HolderState } from '../quarantine/notice-claim.js';
import type { EventSink } from '../observability/events.js';
import { nodeDurableFs, replaceFileDurably } from '../storage/durable-fs.js';
import { INSTANCE_ID_ENV, spoolDirFor } from '../storage/instance-id.js';

/** How often a live instance renews its lease. */
export const LEASE_RENEW_MS = 10_000;
/**
 * Watched silence after which an instance counts as gone: six missed renewals, so an event loop held up
 * for most of a minute (a swapping host, a paused container) is not taken for dead.
 */
export const LEASE_DEAD_MS = 60_000;
/** A gone instance's lease file is removed once its time stamp is this old; nothing of it is left to judge. */
export const LEASE_FORGET_MS = 24 * 3_600_000;
/** The longest a lease file may be: ours are under 300 bytes. */
const MAX_LEASE_BYTES = 4096;
/**
 * TEST ONLY: a renewal period in milliseconds (50 to 10000; gone after six of them) so the tests of
 * several processes on one volume watch a real silence in seconds. Never set it in production: an
 * instance with a short period takes others for gone after a pause of a few seconds.
 */
export const TEST_LEASE_RENEW_ENV = 'CATCHALL_GUARD_TEST_LEASE_RENEW_MS';

/** The lease period this process uses: LEASE_RENEW_MS, unless a test set TEST_LEASE_RENEW_ENV. */
export function leasePeriods(env: NodeJS.ProcessEnv = process.env): { renewMs: number; deadMs: number } {
  const raw = env[TEST_LEASE_RENEW_ENV];
  const ms = raw !== undefined && /^\d{2,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(ms >= 50 && ms <= LEASE_RENEW_MS)) return { renewMs: LEASE_RENEW_MS, deadMs: LEASE_DEAD_MS };
  return { renewMs: ms, deadMs: ms * (LEASE_DEAD_MS / LEASE_RENEW_MS) };
}

export interface LeaseRecord {
  readonly id: string;
  /** The process's token; notice claims carry it (`<id> <token>`). */
  readonly token: string;
  readonly pid: number;
  /** The OS host name (in a container, the container's), to tell a restart from a second process. */
  readonly hostname: string;
  /** The pid namespace (`/proc/self/ns/pid`), when known: only within it does the pid say anything. */
  readonly pidns?: string;
  readonly started: string;
  /** Counts renewals: each one changes the file, whatever the writer's clock says. */
  readonly renewal?: number;
  /** Set by a clean stop. */
  readonly stopped?: string;
}

/**
 * A lease as read from disk: its record (null when it does not decode), what a renewal changes
 * (`fingerprint`), and its time stamp's age by our wall clock (only for messages and for forgetting a
 * gone one's file: never to judge liveness).
 */
export interface LeaseView {
  readonly record: LeaseRecord | null;
  readonly fingerprint: string;
  readonly mtimeMs: number;
  readonly ageMs: number;
}

/** `exited`: written on this host, in this pid namespace, by a process that no longer exists. */
export type LeaseStatus = 'live' | 'stopped' | 'expired' | 'exited' | 'unreadable';

/** Who is asking, to tell whether a lease's pid can be checked from here. */
export interface LeaseSelf {
  readonly hostname: string;
  readonly pidns?: string | undefined;
  readonly pid: number;
}

/** Whether the lease's process can be asked by pid from here, and is gone. */
function exitedHere(record: LeaseRecord, self: LeaseSelf, pidAlive: (pid: number) => boolean): boolean {
  return (
    record.hostname === self.hostname &&
    record.pidns !== undefined &&
    record.pidns === self.pidns &&
    record.pid !== self.pid &&
    !pidAlive(record.pid)
  );
}

/**
 * Another instance's lease, seen unchanged for `silentMs` of our own watching. Without a host-local
 * answer (`self` and `pidAlive`), only a stop or the watched silence says gone.
 */
export function leaseStatus(
  view: LeaseView,
  silentMs: number,
  deadMs: number = LEASE_DEAD_MS,
  self?: LeaseSelf,
  pidAlive?: (pid: number) => boolean,
): LeaseStatus {
  if (view.record === null) return silentMs >= deadMs ? 'expired' : 'unreadable';
  if (view.record.stopped !== undefined) return 'stopped';
  if (self && pidAlive && exitedHere(view.record, self, pidAlive)) return 'exited';
  return silentMs >= deadMs ? 'expired' : 'live';
}

/**
 * A claim holds `<id> <token>`. No lease (a version without leases, a data directory not shared) and an
 * unreadable one say nothing; a lease of another token means the instance restarted since the claim.
 */
export function claimHolderState(view: LeaseView | null, status: LeaseStatus, token: string): HolderState {
  if (view === null || view.record === null) return 'unknown';
  if (status !== 'live') return 'gone';
  return view.record.token === token ? 'live' : 'gone';
}

export type AcquireDecision = 'take' | 'refuse' | 'watch';

/**
 * At start, our own id's lease. Free when absent, stopped or unreadable. One written on this host is
 * ours to take when its process is gone (a restart after a crash; in a container the new process often
 * has the old pid, which is then ours); a live process is a second instance with our id. A lease of
 * another host (or another pid namespace) cannot be checked by pid, and its time stamp is another
 * clock's: watch whether it is renewed.
 */
export function decideAcquire(
  view: LeaseView | null,
  self: LeaseSelf,
  pidAlive: (pid: number) => boolean,
): AcquireDecision {
  if (view === null || view.record === null || view.record.stopped !== undefined) return 'take';
  const { record } = view;
  if (record.hostname !== self.hostname) return 'watch';
  if (record.pidns !== undefined && self.pidns !== undefined && record.pidns !== self.pidns) return 'watch';
  return record.pid === self.pid || !pidAlive(record.pid) ? 'take' : 'refuse';
}

/**
 * While watching another host's lease of our id for `watchedMs` of our monotonic time: changed is a live
 * instance, stopped or removed a free id, unchanged for `deadMs` a gone instance.
 */
export function decideWatch(
  first: LeaseView,
  now: LeaseView | null,
  watchedMs: number,
  deadMs: number = LEASE_DEAD_MS,
): AcquireDecision {
  if (now === null || now.record?.stopped !== undefined) return 'take';
  if (now.fingerprint !== first.fingerprint) return 'refuse';
  return watchedMs >= deadMs ? 'take' : 'watch';
}

/**
 * What this process has seen of each lease, on its own monotonic clock: how long a lease has shown the
 * same content and time stamp. One per process (PROCESS_LEASE_WATCH), shared by the sweep and the
 * notice claims, so a peer the sweep found silent is silent for the claims too.
 */
export interface LeaseWatch {
  /** Milliseconds the lease at `file` has looked like `view` to us: 0 at the first look and after a change. */
  silentFor(file: string, view: LeaseView | null): number;
}

export function createLeaseWatch(monotonic: () => number = () => performance.now()): LeaseWatch {
  const seen = new Map<string, { fingerprint: string; since: number }>();
  return {
    silentFor(file, view) {
      const t = monotonic();
      if (view === null) {
        seen.delete(file);
        return 0;
      }
      const last = seen.get(file);
      if (last?.fingerprint !== view.fingerprint) {
        seen.set(file, { fingerprint: view.fingerprint, since: t });
        return 0;
      }
      return t - last.since;
    },
  };
}

export const PROCESS_LEASE_WATCH: LeaseWatch = createLeaseWatch();

/** This process's pid namespace; undefined off Linux (then no other lease is judged by pid). */
function ownPidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

export const THIS_PROCESS_SELF: LeaseSelf = { hostname: hostname(), pidns: ownPidNamespace(), pid: process.pid };

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
  /** Wall clock, for the start and stop times written into the lease only. */
  readonly now?: () => number;
  /** What this process has seen of the other leases (default: the process's own, shared with the claims). */
  readonly watch?: LeaseWatch;
  /** Our monotonic clock, for watching our own id's lease at start. */
  readonly monotonic?: () => number;
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
      (v.pidns !== undefined && typeof v.pidns !== 'string') ||
      (v.renewal !== undefined && typeof v.renewal !== 'number') ||
      (v.stopped !== undefined && typeof v.stopped !== 'string')
    )
      return null;
    return {
      id: v.id,
      token: v.token,
      pid: v.pid,
      hostname: v.hostname,
      ...(v.pidns !== undefined ? { pidns: v.pidns } : {}),
      started: v.started,
      ...(v.renewal !== undefined ? { renewal: v.renewal } : {}),
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
    return {
      record: null,
      fingerprint: `unopenable ${(err as NodeJS.ErrnoException).code ?? ''}`,
      mtimeMs: 0,
      ageMs: Infinity,
    };
  }
  try {
    const st = await fh.stat();
    const { mtimeMs } = st;
    // an older version renews by touching the time stamp only: it is part of what a renewal changes
    const stamp = `${mtimeMs} ${st.ino} ${st.size}`;
    if (!st.isFile() || st.size > MAX_LEASE_BYTES)
      return { record: null, fingerprint: `${stamp} not-a-lease`, mtimeMs, ageMs: nowMs - mtimeMs };
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(MAX_LEASE_BYTES), 0, MAX_LEASE_BYTES, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    return { record: decodeLease(text), fingerprint: `${stamp} ${text}`, mtimeMs, ageMs: nowMs - mtimeMs };
  } finally {
    await fh.close();
  }
}

/**
 * The holder of a notice claim (`<id> <token>`), judged by its lease in `dataDir` as this process has
 * watched it (`watch`: the process's own, which the sweep feeds every renewal).
 */
export async function claimHolderIn(
  dataDir: string,
  id: string,
  token: string,
  watch: LeaseWatch = PROCESS_LEASE_WATCH,
  deadMs: number = leasePeriods().deadMs,
): Promise<HolderState> {
  // an id read from a claim file names a lease file: only a well-formed one does
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id)) return 'unknown';
  const file = leaseFileOf(dataDir, id);
  const view = await readLease(file).catch(() => null);
  const silent = watch.silentFor(file, view);
  if (view === null) return 'unknown';
  return claimHolderState(view, leaseStatus(view, silent, deadMs, THIS_PROCESS_SELF, pidAlive), token);
}

export function pidAlive(pid: number): boolean {
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
  const periods = leasePeriods();
  const renewMs = deps.renewMs ?? periods.renewMs;
  const deadMs = deps.deadMs ?? periods.deadMs;
  const watch = deps.watch ?? PROCESS_LEASE_WATCH;
  const monotonic = deps.monotonic ?? (() => performance.now());
  const dir = leaseDirOf(deps.dataDir);
  const file = leaseFileOf(deps.dataDir, deps.id);
  const self = THIS_PROCESS_SELF;
  let record: LeaseRecord = {
    id: deps.id,
    token: deps.token ?? randomUUID(),
    pid: self.pid,
    hostname: self.hostname,
    ...(self.pidns !== undefined ? { pidns: self.pidns } : {}),
    started: new Date(now()).toISOString(),
    renewal: 0,
  };
  /** `<id> <token>` of every gone instance already handled: each is reported and cleaned once. */
  const handled = new Set<string>();
  let timer: NodeJS.Timeout | null = null;
  let lostReported = false;
  /** The renewal (and sweep) under way, if any: release() waits for it, or it could land after "stopped". */
  let tick: Promise<void> | null = null;

  const write = (r: LeaseRecord): Promise<void> => replaceFileDurably(nodeDurableFs, file, `${JSON.stringify(r)}\n`);

  async function renew(): Promise<void> {
    const view = await readLease(file, now());
    if (view?.record && view.record.token !== record.token) {
      // another process took our id while we were silent past the dead period: it owns it now
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
    // a new content every time: the others see a change whatever our clock (or theirs) says
    record = { ...record, renewal: (record.renewal ?? 0) + 1 };
    await write(record);
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
      const silent = watch.silentFor(leaseFile, view);
      if (!view) continue;
      const status = leaseStatus(view, silent, deadMs, self, pidAlive);
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
      if (again && again.fingerprint !== view.fingerprint && again.record?.stopped === undefined) {
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
      let decision = decideAcquire(first, self, pidAlive);
      if (decision === 'watch' && first?.record) {
        deps.events.emit({
          event: 'instance',
          action: 'waiting',
          id: deps.id,
          host: first.record.hostname,
          pid: first.record.pid,
        });
        // a renewal comes within renewMs when the other is alive; unchanged for deadMs of our own
        // watching, it is gone
        const since = monotonic();
        while (decision === 'watch') {
          await sleep(Math.min(1000, renewMs));
          decision = decideWatch(first, await readLease(file, now()), monotonic() - since, deadMs);
        }
      }
      if (decision === 'refuse') {
        const holder = (await readLease(file, now())) ?? first;
        if (holder?.record) throw new InstanceIdInUseError(deps.id, holder.record, Math.max(0, holder.ageMs));
      }
      await write(record);
      deps.events.emit({ event: 'instance', action: 'started', id: deps.id, host: record.hostname, pid: record.pid });
    },
    sweep,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (tick) return;
        tick = renew()
          .then(sweep)
          .then(
            () => undefined,
            (err: unknown) =>
              deps.events.emit({ event: 'error', where: 'instance', error: errorText(err), reason: 'instance-lease' }),
          )
          .finally(() => (tick = null));
      }, renewMs);
      timer.unref();
    },
    async release() {
      if (timer) clearInterval(timer);
      timer = null;
      // a renewal already writing would otherwise replace "stopped" with a live lease: the others would
      // then wait out the silent period instead of taking over at once
      await tick;
      if (lostReported) return;
      const view = await readLease(file, now()).catch(() => null);
      if (view?.record?.token !== record.token) return;
      await write({ ...record, stopped: new Date(now()).toISOString() });
    },
  };
}
