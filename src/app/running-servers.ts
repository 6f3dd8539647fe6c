// The servers running on a data directory, from their runtime files (`<data>/run/<instance>.json`).
// A command started without the server's CATCHALL_GUARD_INSTANCE_ID looks for `run/<host name>.json`
// and would miss a server started with `CATCHALL_GUARD_INSTANCE_ID=mx1` on the same host: when its own
// file is not there, the single live one is the server it means; with several it must be told which.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { processAlive, readRuntimeFile, runtimeFilePath, type RuntimeInfo } from './runtime-file.js';
import { THIS_INSTANCE } from '../storage/instance-id.js';

export interface RunningServer {
  readonly instance: string;
  readonly file: string;
  readonly info: RuntimeInfo;
}

export type RunningServerLookup =
  | { readonly kind: 'found'; readonly server: RunningServer }
  | { readonly kind: 'none' }
  /** No file of this instance, and more than one other live one: which is meant is for the operator to say. */
  | { readonly kind: 'several'; readonly servers: readonly RunningServer[] };

/** Live servers' runtime files, by instance name; a file whose process is gone is left out. Never throws. */
export function liveServers(dataDir: string): RunningServer[] {
  const dir = path.dirname(runtimeFilePath(dataDir, 'x'));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const servers: RunningServer[] = [];
  for (const name of names.sort()) {
    if (!name.endsWith('.json')) continue; // `….json.<pid>.tmp` is a file being written
    const instance = name.slice(0, -'.json'.length);
    const file = path.join(dir, name);
    const info = readRuntimeFile(file);
    if (info && processAlive(info.pid)) servers.push({ instance, file, info });
  }
  return servers;
}

/** This instance's live server, else the only live one on the data directory. */
export function findRunningServer(dataDir: string, instance: string = THIS_INSTANCE): RunningServerLookup {
  const live = liveServers(dataDir);
  const own = live.find((s) => s.instance === instance);
  if (own) return { kind: 'found', server: own };
  const [only, ...more] = live;
  if (!only) return { kind: 'none' };
  return more.length === 0 ? { kind: 'found', server: only } : { kind: 'several', servers: live };
}
