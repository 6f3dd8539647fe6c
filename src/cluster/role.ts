// Which part of `serve` this process plays. `server.workers: 1` (the default) is one process doing
// everything, exactly as before workers existed; above 1, the process the operator started is the
// primary, and the processes it forks (node:cluster) are the SMTP workers.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/load.js';
import { cgroupCpuLimit } from './cpu-quota.js';

/** Set by the primary in each worker's environment: the worker's number, 1…N, kept by its replacement. */
export const WORKER_ID_ENV = 'CATCHALL_GUARD_WORKER_ID';
/**
 * Set by the primary in each worker's environment: `server.listen` as the primary started (JSON host
 * and port), so a replacement shares the others' socket even when the file says otherwise by now.
 */
export const WORKER_LISTEN_ENV = 'CATCHALL_GUARD_WORKER_LISTEN';

export type ServeRole =
  | { readonly kind: 'single' }
  | { readonly kind: 'primary'; readonly workers: number }
  | { readonly kind: 'worker'; readonly id: number };

/**
 * `auto`: one per CPU this process may use: the CPUs it may run on (os.availableParallelism, the
 * affinity mask), at most what a cgroup CPU quota allows (a container's `--cpus`, a unit's CPUQuota=).
 */
export function workerCount(workers: number | 'auto', cpus: () => number = usableCpus): number {
  return workers === 'auto' ? Math.max(1, cpus()) : workers;
}

function usableCpus(): number {
  const quota = cgroupCpuLimit();
  return quota === null ? availableParallelism() : Math.min(availableParallelism(), quota);
}

export function serveRole(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  isWorker: boolean = cluster.isWorker,
  cpus?: () => number,
): ServeRole {
  if (isWorker) {
    const id = Number(env[WORKER_ID_ENV]);
    return { kind: 'worker', id: Number.isInteger(id) && id > 0 ? id : 1 };
  }
  const workers = workerCount(config.server.workers, cpus);
  return workers > 1 ? { kind: 'primary', workers } : { kind: 'single' };
}

/** The address the primary tells a worker to bind; null when absent (the worker reads the file). */
export function replacementListen(env: NodeJS.ProcessEnv = process.env): { host: string; port: number } | null {
  const raw = env[WORKER_LISTEN_ENV];
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as { host?: unknown; port?: unknown };
    return typeof v.host === 'string' && typeof v.port === 'number' ? { host: v.host, port: v.port } : null;
  } catch {
    return null;
  }
}
