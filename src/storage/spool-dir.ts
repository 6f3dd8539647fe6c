// Where this instance spools messages: `<data>/spool/<instance id>` (the host name unless
// CATCHALL_GUARD_INSTANCE_ID says otherwise). One directory per instance, so instances sharing a data
// volume (SPEC §11) each clean only their own at start, and a gone one's is removed by the others
// (app/instance-lease.ts). Used by the runtime and by the storage check, which must look at the very
// same directory.
import type { Config } from '../config/load.js';
import { spoolDirFor, THIS_INSTANCE } from './instance-id.js';

export const spoolDirOf = (config: Config): string => spoolDirFor(config.paths.dataDir, THIS_INSTANCE);
