// Where this instance spools messages: `<data>/spool/<instance id>` (the host name unless
// CATCHALL_GUARD_INSTANCE_ID says otherwise). One directory per instance, so instances sharing a data
// volume (SPEC §11) each clean only their own at start, and a gone one's is removed by the others
// (app/instance-lease.ts). Used by the runtime and by the storage check, which must look at the very
// same directory.
import path from 'node:path';
import type { Config } from '../config/load.js';
import { spoolDirFor, THIS_INSTANCE } from './instance-id.js';

export const spoolDirOf = (config: Config): string => spoolDirFor(config.paths.dataDir, THIS_INSTANCE);

/**
 * With `server.workers`, each worker spools in a directory of its own under the instance's, so the
 * primary can empty a crashed worker's before its replacement starts: nothing in it can still be in
 * transfer, and a crash loop must not fill the disk with half-received messages.
 */
export const workerSpoolDir = (instanceSpoolDir: string, workerId: number): string =>
  path.join(instanceSpoolDir, `worker-${workerId}`);
