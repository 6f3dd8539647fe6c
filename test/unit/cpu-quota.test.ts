// `server.workers: auto` under a CPU quota: the cgroup files as a container (`--cpus`), a systemd unit
// (`CPUQuota=`) and cgroup v1 hosts lay them out, read through a stand-in for the file system.
import { describe, expect, it } from 'vitest';
import { cgroupCpuLimit, cpusOfCpuMax, cpusOfQuota } from '../../src/cluster/cpu-quota.js';
import { workerCount } from '../../src/cluster/role.js';

const files =
  (map: Record<string, string>) =>
  (file: string): string | null =>
    map[file] ?? null;

describe('cpu.max (cgroup v2)', () => {
  it.each([
    ['max 100000', null],
    ['max 100000\n', null],
    ['200000 100000', 2],
    ['150000 100000\n', 2],
    ['50000 100000', 1],
    ['100000 100000', 1],
    ['1600000 100000', 16],
    ['0 100000', null],
    ['', null],
    ['garbage', null],
    ['200000', null],
  ])('%j → %s CPUs', (text, cpus) => expect(cpusOfCpuMax(text)).toBe(cpus));

  it('null text (no such file) is no quota', () => expect(cpusOfCpuMax(null)).toBeNull());
});

describe('cfs quota (cgroup v1)', () => {
  it.each([
    [-1, 100000, null],
    [300000, 100000, 3],
    [25000, 100000, 1],
    [Number.NaN, 100000, null],
  ])('quota %s period %s → %s', (q, p, cpus) => expect(cpusOfQuota(q, p)).toBe(cpus));
});

describe('cgroupCpuLimit', () => {
  it('a container (docker --cpus 2): its cgroup is mounted as the root', () => {
    expect(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '200000 100000\n' }))).toBe(
      2,
    );
  });

  it('a systemd unit with CPUQuota=150%: the unit’s own cgroup', () => {
    const read = files({
      '/proc/self/cgroup': '0::/system.slice/catchall-guard.service\n',
      '/sys/fs/cgroup/system.slice/catchall-guard.service/cpu.max': '150000 100000',
      '/sys/fs/cgroup/system.slice/cpu.max': 'max 100000',
    });
    expect(cgroupCpuLimit(read)).toBe(2);
  });

  it('a quota on a parent slice counts too, the smallest wins', () => {
    const read = files({
      '/proc/self/cgroup': '0::/mail.slice/catchall-guard.service\n',
      '/sys/fs/cgroup/mail.slice/catchall-guard.service/cpu.max': 'max 100000',
      '/sys/fs/cgroup/mail.slice/cpu.max': '100000 100000',
    });
    expect(cgroupCpuLimit(read)).toBe(1);
  });

  it('cgroup v1 (hybrid hosts): the cpu controller’s cfs quota', () => {
    const read = files({
      '/proc/self/cgroup': '4:memory:/x\n2:cpu,cpuacct:/docker/abc\n0::/\n',
      '/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us': '300000\n',
      '/sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuLimit(read)).toBe(3);
  });

  it('no quota anywhere, or no cgroup files at all (not Linux): none', () => {
    expect(cgroupCpuLimit(files({ '/proc/self/cgroup': '0::/user.slice\n' }))).toBeNull();
    expect(cgroupCpuLimit(files({}))).toBeNull();
    expect(
      cgroupCpuLimit(
        files({
          '/proc/self/cgroup': '1:cpu:/\n',
          '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1',
          '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000',
        }),
      ),
    ).toBeNull();
  });

  it('reads this machine without throwing', () => {
    const n = cgroupCpuLimit();
    expect(n === null || (Number.isInteger(n) && n >= 1)).toBe(true);
  });
});

describe('workerCount', () => {
  it('auto follows the usable CPUs; a number is taken as written', () => {
    expect(workerCount('auto', () => 2)).toBe(2);
    expect(workerCount(3, () => 2)).toBe(3);
  });
});
