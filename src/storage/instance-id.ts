// Who this process is among the instances sharing a data volume (SPEC §11): the name its spool
// directory, quarantine temp files, notice claims and liveness lease carry. By default the host name,
// which in a container is the container id and changes on every recreate; CATCHALL_GUARD_INSTANCE_ID
// gives an instance a name that outlives its container. An environment variable, not a configuration
// key: identical instances share one configuration file, and one name for all of them would be wrong.
import { hostname } from 'node:os';
import path from 'node:path';

export const INSTANCE_ID_ENV = 'CATCHALL_GUARD_INSTANCE_ID';

/** A file name on every filesystem, never `.` or `..`, never a space (claims hold "<id> <token>"). */
const VALID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why a configured instance id cannot be used; null when it can. */
export function instanceIdProblem(value: string): string | null {
  return VALID.test(value)
    ? null
    : `expected 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "${value}"`;
}

/** A host name made an id: other characters become `_`, a leading dot or dash goes. */
export function hostInstanceId(host: string): string {
  const id = host
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 64);
  return id || 'host';
}

/** The configured id when it is valid (an invalid one stops the program in config/load.ts), else the host's. */
export function resolveInstanceId(env: NodeJS.ProcessEnv, host: string): string {
  const configured = env[INSTANCE_ID_ENV];
  return configured !== undefined && instanceIdProblem(configured) === null ? configured : hostInstanceId(host);
}

/** Read once: an instance keeps its name for its whole life, a reload included. */
export const THIS_INSTANCE = resolveInstanceId(process.env, hostname());

/** `<data>/spool/<id>`: each instance's own spool, emptied at its start. */
export const spoolDirFor = (dataDir: string, id: string): string => path.join(dataDir, 'spool', id);
