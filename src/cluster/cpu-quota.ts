// How many CPUs `server.workers: auto` may count on. os.availableParallelism() sees the CPUs this
// process may be scheduled on, not a CPU quota: a container run with `--cpus 2` on a 32-core host,
// or a systemd unit with `CPUQuota=200%`, would fork 32 workers fighting over two CPUs' worth of
// time. The quota is the cgroup's `cpu.max` (cgroup v2: "<quota> <period>" or "max <period>") or
// `cpu.cfs_quota_us` / `cpu.cfs_period_us` (v1), on the process's own cgroup and each one above it.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A file's text, or null when it cannot be read (no such cgroup file, not Linux). */
export type ReadText = (file: string) => string | null;

const readText: ReadText = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** CPUs a quota allows (rounded up: 1.5 CPUs' worth keeps two workers busy half the time); null: no quota. */
export function cpusOfQuota(quotaUs: number, periodUs: number): number | null {
  if (!Number.isFinite(quotaUs) || !Number.isFinite(periodUs) || quotaUs <= 0 || periodUs <= 0) return null;
  return Math.max(1, Math.ceil(quotaUs / periodUs));
}

/** cgroup v2 `cpu.max`: "max 100000" → null, "150000 100000" → 2; anything else → null. */
export function cpusOfCpuMax(text: string | null): number | null {
  const m = /^(max|\d+)\s+(\d+)\s*$/.exec(text?.trim() ?? '');
  if (!m || m[1] === 'max') return null;
  return cpusOfQuota(Number(m[1]), Number(m[2]));
}

/** The cgroup paths of this process from /proc/self/cgroup: v2's "0::/path", v1's cpu controller line. */
function cgroupPaths(selfCgroup: string | null): { v2: string | null; v1: string | null } {
  let v2: string | null = null;
  let v1: string | null = null;
  for (const line of (selfCgroup ?? '').split('\n')) {
    const [id, controllers, p] = line.split(':');
    if (p === undefined) continue;
    if (id === '0' && controllers === '') v2 = p;
    else if (controllers?.split(',').includes('cpu')) v1 = p;
  }
  return { v2, v1 };
}

/** The directory and each one above it, up to the mount point. */
function upFrom(root: string, sub: string): string[] {
  const dirs: string[] = [];
  let p = path.posix.normalize(`/${sub}`);
  for (;;) {
    dirs.push(path.posix.join(root, p));
    if (p === '/') return dirs;
    p = path.posix.dirname(p);
  }
}

/** The smallest CPU quota on this process's cgroup and those above it; null when there is none. */
export function cgroupCpuLimit(read: ReadText = readText): number | null {
  const { v2, v1 } = cgroupPaths(read('/proc/self/cgroup'));
  const limits: number[] = [];
  // inside a container the own cgroup is usually mounted as the root: look there too
  for (const dir of [...(v2 !== null ? upFrom('/sys/fs/cgroup', v2) : []), '/sys/fs/cgroup']) {
    const n = cpusOfCpuMax(read(path.posix.join(dir, 'cpu.max')));
    if (n !== null) limits.push(n);
  }
  for (const dir of [...(v1 !== null ? upFrom('/sys/fs/cgroup/cpu', v1) : []), '/sys/fs/cgroup/cpu']) {
    const quota = read(path.posix.join(dir, 'cpu.cfs_quota_us'));
    const period = read(path.posix.join(dir, 'cpu.cfs_period_us'));
    const n = quota !== null && period !== null ? cpusOfQuota(Number(quota.trim()), Number(period.trim())) : null;
    if (n !== null) limits.push(n);
  }
  return limits.length > 0 ? Math.min(...limits) : null;
}
