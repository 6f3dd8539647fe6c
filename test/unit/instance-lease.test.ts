// The liveness lease's decisions: when an instance counts as gone, when a notice claim's holder does,
// and whether a starting process may take its instance id.
import {
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  mkdirSync,
  existsSync,
  readFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  claimHolderIn,
  claimHolderState,
  createInstanceLease,
  createLeaseWatch,
  decideAcquire,
  decideWatch,
  InstanceIdInUseError,
  LEASE_DEAD_MS,
  leasePeriods,
  leaseStatus,
  readLease,
  THIS_PROCESS_SELF,
  type LeaseRecord,
  type LeaseView,
} from '../../src/app/instance-lease.js';
import { hostInstanceId, instanceIdProblem, resolveInstanceId } from '../../src/storage/instance-id.js';
import type { LogEvent } from '../../src/observability/events.js';

const DEAD = LEASE_DEAD_MS;
const rec = (over: Partial<LeaseRecord> = {}): LeaseRecord => ({
  id: 'mx1',
  token: 'token-a',
  pid: 4242,
  hostname: 'container-a',
  started: '2026-01-01T00:00:00.000Z',
  ...over,
});
/** `ageMs`: by our wall clock, which must never decide. */
const view = (record: LeaseRecord | null = rec(), fingerprint = 'f1', ageMs = 0): LeaseView => ({
  record,
  fingerprint,
  ageMs,
  mtimeMs: 1_000_000,
});
/** A pid that existed and has exited. */
const deadPid = (): number => {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid ?? 0;
};

describe('leaseStatus: another instance’s lease, by how long we have watched it unchanged', () => {
  const self = { hostname: 'container-b', pidns: 'pid:[1]', pid: 7 };
  const alive = (): boolean => true;
  const dead = (): boolean => false;
  it.each([
    ['just seen to change', view(), 0, 'live'],
    ['unchanged just short of the limit', view(), DEAD - 1, 'live'],
    ['unchanged exactly the limit', view(), DEAD, 'expired'],
    ['unchanged for an hour', view(), 3_600_000, 'expired'],
    // the time stamp says nothing: a peer whose clock runs two minutes ahead, or behind
    ['first seen, its time stamp two hours old by our clock', view(rec(), 'f1', 7_200_000), 0, 'live'],
    ['first seen, its time stamp in our future', view(rec(), 'f1', -120_000), 0, 'live'],
    ['stopped cleanly a moment ago', view(rec({ stopped: '2026-01-01T00:01:00.000Z' })), 0, 'stopped'],
    ['undecodable and just seen', view(null), 0, 'unreadable'],
    ['undecodable and unchanged past the limit', view(null), DEAD, 'expired'],
  ] as const)('%s → %s', (_what, v, silent, expected) => {
    expect(leaseStatus(v, silent)).toBe(expected);
  });

  it.each([
    [
      'this host, this pid namespace, its process gone',
      rec({ hostname: 'container-b', pidns: 'pid:[1]' }),
      dead,
      'exited',
    ],
    [
      'this host, this pid namespace, its process running',
      rec({ hostname: 'container-b', pidns: 'pid:[1]' }),
      alive,
      'live',
    ],
    // containers sharing the host name (network_mode: host) have pid spaces of their own
    ['this host name, another pid namespace', rec({ hostname: 'container-b', pidns: 'pid:[2]' }), dead, 'live'],
    ['this host name, pid namespace unknown (an older version)', rec({ hostname: 'container-b' }), dead, 'live'],
    ['another host', rec({ pidns: 'pid:[1]' }), dead, 'live'],
  ] as const)('first seen: %s → %s', (_what, r, pidAlive, expected) => {
    expect(leaseStatus(view(r), 0, DEAD, self, pidAlive)).toBe(expected);
  });
});

describe('claimHolderState: the holder of a notice claim "<id> <token>", by its lease', () => {
  it.each([
    ['no lease at all (a version without leases, a data directory not shared)', null, 'live', 'token-a', 'unknown'],
    ['an undecodable lease', view(null), 'unreadable', 'token-a', 'unknown'],
    ['a live lease of the same process', view(), 'live', 'token-a', 'live'],
    ['a live lease of a later process with that id (a restart since the claim)', view(), 'live', 'token-old', 'gone'],
    ['a lease watched unchanged past the limit', view(), 'expired', 'token-a', 'gone'],
    ['a lease of a process of this host that exited', view(), 'exited', 'token-a', 'gone'],
    ['a lease marked stopped', view(rec({ stopped: 'x' })), 'stopped', 'token-a', 'gone'],
  ] as const)('%s → %s', (_what, v, status, token, expected) => {
    expect(claimHolderState(v, status, token)).toBe(expected);
  });
});

describe('decideAcquire: a starting process and the lease of its own id', () => {
  const self = { hostname: 'container-a', pidns: 'pid:[1]', pid: 7 };
  const alive = (): boolean => true;
  const dead = (): boolean => false;
  it.each([
    ['no lease', null, alive, 'take'],
    ['a stopped lease', view(rec({ stopped: '2026-01-01T00:01:00.000Z' })), alive, 'take'],
    ['an undecodable lease', view(null), alive, 'take'],
    // a container restarted after a crash: same host name, and often the same pid, which is ours now
    ['a lease of this host with our own pid', view(rec({ pid: 7 })), alive, 'take'],
    ['a lease of this host whose process is gone', view(rec({ pid: 4242 })), dead, 'take'],
    ['a lease of this host whose process runs', view(rec({ pid: 4242 })), alive, 'refuse'],
    ['a lease of this host name from another pid namespace', view(rec({ pidns: 'pid:[2]' })), dead, 'watch'],
    // another host: no pid to ask, and its time stamp is its clock: watch whether it is renewed
    ['a lease of another host', view(rec({ hostname: 'container-b' })), alive, 'watch'],
    [
      'a lease of another host, its time stamp an hour old',
      view(rec({ hostname: 'container-b' }), 'f', 3_600_000),
      alive,
      'watch',
    ],
  ] as const)('%s → %s', (_what, v, pidAlive, expected) => {
    expect(decideAcquire(v, self, pidAlive)).toBe(expected);
  });
});

describe('decideWatch: watching another host’s lease of our id', () => {
  const first = view(rec({ hostname: 'container-b' }), 'f1');
  it.each([
    ['unchanged, watched briefly', view(rec({ hostname: 'container-b' }), 'f1'), 5_000, 'watch'],
    ['renewed (a live instance)', view(rec({ hostname: 'container-b', renewal: 2 }), 'f2'), 5_000, 'refuse'],
    ['rewritten by yet another process', view(rec({ hostname: 'container-c', token: 'x' }), 'f3'), 5_000, 'refuse'],
    ['unchanged for the whole dead period of our watching', view(rec({ hostname: 'container-b' }), 'f1'), DEAD, 'take'],
    ['stopped meanwhile', view(rec({ hostname: 'container-b', stopped: 'x' }), 'f4'), 1_000, 'take'],
    ['removed', null, 1_000, 'take'],
  ] as const)('%s → %s', (_what, now, watched, expected) => {
    expect(decideWatch(first, now, watched)).toBe(expected);
  });
});

describe('createLeaseWatch: silence measured on our own monotonic clock', () => {
  it('counts from the first look, restarts at each change, forgets a removed lease', () => {
    let t = 500;
    const watch = createLeaseWatch(() => t);
    expect(watch.silentFor('a', view(rec(), 'f1'))).toBe(0);
    t += 30_000;
    expect(watch.silentFor('a', view(rec(), 'f1'))).toBe(30_000);
    expect(watch.silentFor('b', view(rec(), 'f1'))).toBe(0);
    t += 40_000;
    expect(watch.silentFor('a', view(rec(), 'f1'))).toBe(70_000);
    expect(watch.silentFor('a', view(rec(), 'f2'))).toBe(0);
    t += 10_000;
    expect(watch.silentFor('a', view(rec(), 'f2'))).toBe(10_000);
    expect(watch.silentFor('a', null)).toBe(0);
    expect(watch.silentFor('a', view(rec(), 'f2'))).toBe(0);
  });
});

describe('leasePeriods: the test-only short lease', () => {
  it.each([
    [{}, 10_000, 60_000],
    [{ CATCHALL_GUARD_TEST_LEASE_RENEW_MS: '200' }, 200, 1_200],
    [{ CATCHALL_GUARD_TEST_LEASE_RENEW_MS: '10' }, 10_000, 60_000],
    [{ CATCHALL_GUARD_TEST_LEASE_RENEW_MS: '20000' }, 10_000, 60_000],
    [{ CATCHALL_GUARD_TEST_LEASE_RENEW_MS: 'soon' }, 10_000, 60_000],
  ] as const)('%j → renew %d, dead %d', (env, renewMs, deadMs) => {
    expect(leasePeriods(env)).toEqual({ renewMs, deadMs });
  });
});

describe('instance ids', () => {
  it.each([
    ['mx1', null],
    ['mx1.example.org', null],
    ['a_b-c.9', null],
    ['A'.repeat(64), null],
    ['A'.repeat(65), 'too long'],
    ['', 'empty'],
    ['.hidden', 'leading dot'],
    ['..', 'parent directory'],
    ['-x', 'leading dash'],
    ['a b', 'space (claims hold "<id> <token>")'],
    ['a/b', 'slash'],
  ] as const)('%j → %s', (value, problem) => {
    expect(instanceIdProblem(value) === null).toBe(problem === null);
  });

  it.each([
    ['mx1', 'mx1'],
    ['host with space', 'host_with_space'],
    ['.weird/host', 'weird_host'],
    ['', 'host'],
    ['___', 'host'],
  ] as const)('host name %j → id %j', (host, id) => {
    expect(hostInstanceId(host)).toBe(id);
  });

  it('CATCHALL_GUARD_INSTANCE_ID wins over the host name when valid', () => {
    expect(resolveInstanceId({ CATCHALL_GUARD_INSTANCE_ID: 'mx-a' }, 'c0ffee')).toBe('mx-a');
    expect(resolveInstanceId({}, 'c0ffee')).toBe('c0ffee');
    expect(resolveInstanceId({ CATCHALL_GUARD_INSTANCE_ID: '../x' }, 'c0ffee')).toBe('c0ffee');
  });
});

describe('the lease on disk', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const dataDir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), 'cg-lease-'));
    dirs.push(d);
    return d;
  };
  const sink = (): { events: LogEvent[]; emit(e: LogEvent): void; subscribe(): () => void } => {
    const events: LogEvent[] = [];
    return { events, emit: (e) => void events.push(e), subscribe: () => () => undefined };
  };
  const leaseFile = (data: string, id: string): string => path.join(data, 'instances', `${id}.json`);
  /** A lease as another process writes it; `stampSec`: the time stamp its (possibly wrong) clock sets. */
  const writePeer = (data: string, r: LeaseRecord, stampSec?: number): void => {
    writeFileSync(leaseFile(data, r.id), JSON.stringify(r));
    if (stampSec !== undefined) utimesSync(leaseFile(data, r.id), stampSec, stampSec);
  };

  it('acquire writes the lease; renewals change it; release marks it stopped, which makes the holder of its claims gone', async () => {
    const data = dataDir();
    const events = sink();
    const lease = createInstanceLease({ dataDir: data, id: 'mx-a', token: 'tok-a', events, renewMs: 50 });
    await lease.acquire();
    const written = JSON.parse(readFileSync(leaseFile(data, 'mx-a'), 'utf8')) as LeaseRecord;
    expect(written).toEqual({
      id: 'mx-a',
      token: 'tok-a',
      pid: process.pid,
      hostname: hostname(),
      ...(THIS_PROCESS_SELF.pidns !== undefined ? { pidns: THIS_PROCESS_SELF.pidns } : {}),
      started: written.started,
      renewal: 0,
    });
    expect(events.events).toEqual([
      { event: 'instance', action: 'started', id: 'mx-a', host: hostname(), pid: process.pid },
    ]);
    lease.start();
    const before = await readLease(leaseFile(data, 'mx-a'));
    await new Promise((r) => setTimeout(r, 300));
    const after = await readLease(leaseFile(data, 'mx-a'));
    expect(after?.record?.renewal).toBeGreaterThan(0);
    expect(after?.fingerprint).not.toBe(before?.fingerprint);
    expect(await claimHolderIn(data, 'mx-a', 'tok-a')).toBe('live');
    expect(await claimHolderIn(data, 'mx-a', 'tok-earlier')).toBe('gone');
    expect(await claimHolderIn(data, 'mx-b', 'tok-b')).toBe('unknown');
    expect(await claimHolderIn(data, '../mx-a', 'tok-a')).toBe('unknown');
    await lease.release();
    expect((JSON.parse(readFileSync(leaseFile(data, 'mx-a'), 'utf8')) as LeaseRecord).stopped).toMatch(/^\d{4}-/);
    expect(await claimHolderIn(data, 'mx-a', 'tok-a')).toBe('gone');
  });

  it('a second live process of this host with the same id is refused, naming the holder', async () => {
    const data = dataDir();
    mkdirSync(path.join(data, 'instances'));
    // the parent of this test process: alive, on this host, not us
    writePeer(data, rec({ id: 'mx-a', hostname: hostname(), pid: process.ppid }));
    const lease = createInstanceLease({ dataDir: data, id: 'mx-a', token: 'tok-new', events: sink() });
    const err = await lease.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstanceIdInUseError);
    expect((err as Error).message).toBe(
      `instance id "mx-a" is in use by a live instance (pid ${process.ppid} on host ${hostname()}, lease renewed 0 s ago)`,
    );
    // the holder's lease is left as it was
    expect((JSON.parse(readFileSync(leaseFile(data, 'mx-a'), 'utf8')) as LeaseRecord).token).toBe('token-a');
  });

  it('another host’s lease of our id, its time stamp an hour old, is watched before it is taken', async () => {
    const data = dataDir();
    mkdirSync(path.join(data, 'instances'));
    writePeer(data, rec({ id: 'mx-a', hostname: 'elsewhere' }), Date.now() / 1000 - 3600);
    const events = sink();
    const lease = createInstanceLease({
      dataDir: data,
      id: 'mx-a',
      token: 'tok-new',
      events,
      renewMs: 50,
      deadMs: 400,
    });
    const t0 = performance.now();
    await lease.acquire();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    expect(events.events.map((e) => e.event === 'instance' && e.action)).toEqual(['waiting', 'started']);
  });

  it('sweep: a stopped instance, and one of this host whose process exited, are gone at the first look; a silent one once watched unchanged for the dead period; a renewed one never, whatever its time stamp says', async () => {
    const data = dataDir();
    mkdirSync(path.join(data, 'instances'));
    const ids = ['mx-ahead', 'mx-behind', 'mx-silent', 'mx-stopped', 'mx-exited', 'mx-nolease'];
    for (const id of ids) {
      mkdirSync(path.join(data, 'spool', id), { recursive: true });
      writeFileSync(path.join(data, 'spool', id, 'x.spool'), 'partial message');
    }
    const nowSec = Date.now() / 1000;
    // clocks two minutes ahead and two hours behind ours: both renew
    writePeer(data, rec({ id: 'mx-ahead', renewal: 1 }), nowSec + 120);
    writePeer(data, rec({ id: 'mx-behind', renewal: 1 }), nowSec - 7200);
    writePeer(data, rec({ id: 'mx-silent', pid: 11 }), nowSec + 120);
    writePeer(data, rec({ id: 'mx-stopped', stopped: 'x' }));
    const exitedPid = deadPid();
    writePeer(
      data,
      rec({
        id: 'mx-exited',
        hostname: hostname(),
        pid: exitedPid,
        ...(THIS_PROCESS_SELF.pidns ? { pidns: THIS_PROCESS_SELF.pidns } : {}),
      }),
    );
    let t = 0;
    const watch = createLeaseWatch(() => t);
    const events = sink();
    const gone: string[] = [];
    const lease = createInstanceLease({ dataDir: data, id: 'mx-me', events, watch, onPeerGone: (id) => gone.push(id) });

    const firstLook = THIS_PROCESS_SELF.pidns ? ['mx-exited', 'mx-stopped'] : ['mx-stopped'];
    expect((await lease.sweep()).sort()).toEqual(firstLook);
    for (const step of [1, 2, 3, 4, 5, 6]) {
      t = step * 10_000;
      writePeer(data, rec({ id: 'mx-ahead', renewal: 1 + step }), nowSec + 120 + step * 10);
      writePeer(data, rec({ id: 'mx-behind', renewal: 1 + step }), nowSec - 7200 + step * 10);
      expect(await lease.sweep()).toEqual(step === 6 ? ['mx-silent'] : []);
    }
    expect(gone.sort()).toEqual([...firstLook, 'mx-silent'].sort());
    for (const id of ['mx-silent', 'mx-stopped']) expect(existsSync(path.join(data, 'spool', id))).toBe(false);
    for (const id of ['mx-ahead', 'mx-behind']) expect(existsSync(path.join(data, 'spool', id, 'x.spool'))).toBe(true);
    // no lease: a version without leases; its spool is left to the 24-hour rule
    expect(existsSync(path.join(data, 'spool', 'mx-nolease', 'x.spool'))).toBe(true);
    expect(events.events.filter((e) => e.event === 'instance')).toEqual(
      expect.arrayContaining([
        {
          event: 'instance',
          action: 'peer-gone',
          id: 'mx-silent',
          host: 'container-a',
          pid: 11,
          lease: 'expired',
          spoolFiles: 1,
        },
        {
          event: 'instance',
          action: 'peer-gone',
          id: 'mx-stopped',
          host: 'container-a',
          pid: 4242,
          lease: 'stopped',
          spoolFiles: 1,
        },
        ...(THIS_PROCESS_SELF.pidns
          ? [
              {
                event: 'instance',
                action: 'peer-gone',
                id: 'mx-exited',
                host: hostname(),
                pid: exitedPid,
                lease: 'exited',
                spoolFiles: 1,
              },
            ]
          : []),
      ]),
    );
    // the claims of a lease the sweep watched go silent are the same process's judgement
    expect(await claimHolderIn(data, 'mx-silent', 'token-a', watch, DEAD)).toBe('gone');
    expect(await claimHolderIn(data, 'mx-ahead', 'token-a', watch, DEAD)).toBe('live');
    // each gone instance is handled once
    t += 10_000;
    expect(await lease.sweep()).toEqual([]);
  });

  it('claimHolderIn: a holder first looked at is live however old its time stamp; unchanged for the dead period, gone', async () => {
    const data = dataDir();
    mkdirSync(path.join(data, 'instances'));
    writePeer(data, rec({ id: 'mx-b', hostname: 'elsewhere' }), Date.now() / 1000 - 7200);
    let t = 0;
    const watch = createLeaseWatch(() => t);
    expect(await claimHolderIn(data, 'mx-b', 'token-a', watch, DEAD)).toBe('live');
    t = DEAD - 1;
    expect(await claimHolderIn(data, 'mx-b', 'token-a', watch, DEAD)).toBe('live');
    t = DEAD;
    expect(await claimHolderIn(data, 'mx-b', 'token-a', watch, DEAD)).toBe('gone');
  });

  it('a symbolic link in place of a lease is never followed', async () => {
    const data = dataDir();
    mkdirSync(path.join(data, 'instances'));
    const target = path.join(data, 'target.json');
    writeFileSync(target, JSON.stringify(rec({ id: 'mx-a' })));
    symlinkSync(target, leaseFile(data, 'mx-a'));
    expect((await readLease(leaseFile(data, 'mx-a')))?.record).toBeNull();
    expect(await claimHolderIn(data, 'mx-a', 'token-a')).toBe('unknown');
  });
});
