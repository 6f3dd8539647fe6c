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
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  claimHolderIn,
  claimHolderState,
  createInstanceLease,
  decideAcquire,
  decideWatch,
  InstanceIdInUseError,
  LEASE_DEAD_MS,
  leaseStatus,
  readLease,
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
const view = (ageMs: number, record: LeaseRecord | null = rec(), mtimeMs = 1_000_000): LeaseView => ({
  record,
  ageMs,
  mtimeMs,
});

describe('leaseStatus', () => {
  it.each([
    ['just renewed', view(0), 'live'],
    ['silent just short of the limit', view(DEAD - 1), 'live'],
    ['silent exactly the limit', view(DEAD), 'expired'],
    ['silent for an hour', view(3_600_000), 'expired'],
    ['stopped cleanly a moment ago', view(0, rec({ stopped: '2026-01-01T00:01:00.000Z' })), 'stopped'],
    ['undecodable and fresh', view(0, null), 'unreadable'],
    ['undecodable and silent past the limit', view(DEAD, null), 'expired'],
  ] as const)('%s → %s', (_what, v, expected) => {
    expect(leaseStatus(v)).toBe(expected);
  });
});

describe('claimHolderState: the holder of a notice claim "<id> <token>", by its lease', () => {
  it.each([
    ['no lease at all (a version without leases, a data directory not shared)', null, 'token-a', 'unknown'],
    ['an undecodable lease', view(0, null), 'token-a', 'unknown'],
    ['a renewed lease of the same process', view(5_000), 'token-a', 'live'],
    ['a renewed lease of a later process with that id (a restart since the claim)', view(5_000), 'token-old', 'gone'],
    ['a lease silent past the limit', view(DEAD), 'token-a', 'gone'],
    ['a lease marked stopped', view(0, rec({ stopped: '2026-01-01T00:01:00.000Z' })), 'token-a', 'gone'],
  ] as const)('%s → %s', (_what, v, token, expected) => {
    expect(claimHolderState(v, token)).toBe(expected);
  });
});

describe('decideAcquire: a starting process and the lease of its own id', () => {
  const self = { hostname: 'container-a', pid: 7 };
  const alive = (): boolean => true;
  const dead = (): boolean => false;
  it.each([
    ['no lease', null, alive, 'take'],
    ['a stopped lease', view(0, rec({ stopped: '2026-01-01T00:01:00.000Z' })), alive, 'take'],
    ['a silent lease of another host', view(DEAD, rec({ hostname: 'container-b' })), alive, 'take'],
    ['an undecodable fresh lease', view(0, null), alive, 'take'],
    // a container restarted after a crash: same host name, and often the same pid, which is ours now
    ['a live lease of this host with our own pid', view(0, rec({ pid: 7 })), alive, 'take'],
    ['a live lease of this host whose process is gone', view(0, rec({ pid: 4242 })), dead, 'take'],
    ['a live lease of this host whose process runs', view(0, rec({ pid: 4242 })), alive, 'refuse'],
    // another host: no pid to ask, so watch whether it is renewed
    ['a live lease of another host', view(0, rec({ hostname: 'container-b' })), alive, 'watch'],
  ] as const)('%s → %s', (_what, v, pidAlive, expected) => {
    expect(decideAcquire(v, self, pidAlive)).toBe(expected);
  });
});

describe('decideWatch: watching another host’s live lease of our id', () => {
  const first = view(2_000, rec({ hostname: 'container-b' }), 1_000_000);
  it.each([
    ['unchanged', view(5_000, rec({ hostname: 'container-b' }), 1_000_000), 'watch'],
    ['touched again (a live instance)', view(0, rec({ hostname: 'container-b' }), 1_010_000), 'refuse'],
    ['rewritten by yet another process', view(0, rec({ hostname: 'container-c', token: 'x' }), 1_000_000), 'refuse'],
    ['silent past the limit', view(DEAD, rec({ hostname: 'container-b' }), 1_000_000), 'take'],
    ['stopped meanwhile', view(0, rec({ hostname: 'container-b', stopped: 'x' }), 1_010_000), 'take'],
    ['removed', null, 'take'],
  ] as const)('%s → %s', (_what, now, expected) => {
    expect(decideWatch(first, now)).toBe(expected);
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

  it('acquire writes the lease; release marks it stopped, which makes the holder of its claims gone', async () => {
    const data = dataDir();
    const events = sink();
    const lease = createInstanceLease({ dataDir: data, id: 'mx-a', token: 'tok-a', events });
    await lease.acquire();
    const written = JSON.parse(readFileSync(leaseFile(data, 'mx-a'), 'utf8')) as LeaseRecord;
    expect(written).toEqual({
      id: 'mx-a',
      token: 'tok-a',
      pid: process.pid,
      hostname: hostname(),
      started: written.started,
    });
    expect(events.events).toEqual([
      { event: 'instance', action: 'started', id: 'mx-a', host: hostname(), pid: process.pid },
    ]);
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
    writeFileSync(
      leaseFile(data, 'mx-a'),
      JSON.stringify(rec({ id: 'mx-a', hostname: hostname(), pid: process.ppid })),
    );
    const lease = createInstanceLease({ dataDir: data, id: 'mx-a', token: 'tok-new', events: sink() });
    const err = await lease.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstanceIdInUseError);
    expect((err as Error).message).toBe(
      `instance id "mx-a" is in use by a live instance (pid ${process.ppid} on host ${hostname()}, lease renewed 0 s ago)`,
    );
    // the holder's lease is left as it was
    expect((JSON.parse(readFileSync(leaseFile(data, 'mx-a'), 'utf8')) as LeaseRecord).token).toBe('token-a');
  });

  it('sweep: a silent or stopped instance’s spool directory goes once, a live one’s stays', async () => {
    const data = dataDir();
    mkdirSync(path.join(data, 'instances'));
    for (const id of ['mx-live', 'mx-silent', 'mx-stopped', 'mx-nolease']) {
      mkdirSync(path.join(data, 'spool', id), { recursive: true });
      writeFileSync(path.join(data, 'spool', id, 'x.spool'), 'partial message');
    }
    writeFileSync(leaseFile(data, 'mx-live'), JSON.stringify(rec({ id: 'mx-live' })));
    writeFileSync(leaseFile(data, 'mx-silent'), JSON.stringify(rec({ id: 'mx-silent', pid: 11 })));
    const old = (Date.now() - 2 * DEAD) / 1000;
    utimesSync(leaseFile(data, 'mx-silent'), old, old);
    writeFileSync(leaseFile(data, 'mx-stopped'), JSON.stringify(rec({ id: 'mx-stopped', stopped: 'x' })));
    const events = sink();
    const gone: string[] = [];
    const lease = createInstanceLease({ dataDir: data, id: 'mx-me', events, onPeerGone: (id) => gone.push(id) });
    expect((await lease.sweep()).sort()).toEqual(['mx-silent', 'mx-stopped']);
    expect(gone.sort()).toEqual(['mx-silent', 'mx-stopped']);
    expect(existsSync(path.join(data, 'spool', 'mx-silent'))).toBe(false);
    expect(existsSync(path.join(data, 'spool', 'mx-stopped'))).toBe(false);
    expect(existsSync(path.join(data, 'spool', 'mx-live', 'x.spool'))).toBe(true);
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
      ]),
    );
    // each gone instance is handled once
    expect(await lease.sweep()).toEqual([]);
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
