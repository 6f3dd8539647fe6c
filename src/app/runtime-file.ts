// `<data>/run/<instance>.json`: what this process actually bound (pid, SMTP and HTTP address), written
// once the listeners are up and removed at a clean stop. `probe` reads it, so it checks the port the
// server listens on, not the one a configuration file or environment names today (a config edited
// without a restart, an environment the probe does not share, port 0).
import { readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { THIS_INSTANCE } from '../storage/instance-id.js';

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

export interface RuntimeInfo {
  readonly pid: number;
  readonly started: string;
  readonly smtp: BoundAddress;
  readonly http: BoundAddress | null;
}

/** Ours are under 200 bytes: anything much larger is not one of ours. */
const MAX_BYTES = 4096;

/** Per instance, as the spool is: instances sharing a data volume each have their own. */
export function runtimeFilePath(dataDir: string, instanceId: string = THIS_INSTANCE): string {
  return path.join(dataDir, 'run', `${instanceId}.json`);
}

/** Written to a temporary name and renamed: a reader sees the old file, the new one, or none. */
export async function writeRuntimeFile(file: string, info: RuntimeInfo): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(info)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Removed only when it is this process's: a successor that already wrote its own keeps it. */
export async function removeRuntimeFile(file: string, pid: number = process.pid): Promise<void> {
  if (readRuntimeFile(file)?.pid === pid) await rm(file, { force: true });
}

function boundAddress(v: unknown): BoundAddress | null {
  if (v === null || typeof v !== 'object') return null;
  const { host, port } = v as Record<string, unknown>;
  if (typeof host !== 'string' || host === '') return null;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** The decoded file; null when it is absent, unreadable or not one of ours. Never throws. */
export function parseRuntimeInfo(text: string): RuntimeInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const smtp = boundAddress(o['smtp']);
  const http = o['http'] === null ? null : boundAddress(o['http']);
  const pid = o['pid'];
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || !smtp) return null;
  if (o['http'] !== null && !http) return null;
  return { pid, started: typeof o['started'] === 'string' ? o['started'] : '', smtp, http };
}

export function readRuntimeFile(file: string): RuntimeInfo | null {
  let text: string;
  try {
    const buf = readFileSync(file);
    if (buf.length > MAX_BYTES) return null;
    text = buf.toString('utf8');
  } catch {
    return null;
  }
  return parseRuntimeInfo(text);
}

/** Signal 0 tests for existence: EPERM means a process is there, only not ours to signal. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
