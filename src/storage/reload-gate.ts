// SIGHUP: a reload must not make storage worse. Refused (the running configuration stays, a `reload`
// event with ok:false names the path and the fix) when the new configuration has a storage problem the
// running one has not: a directory it moves to that is not writable, or a maxMessageSize the disk has
// no room for. A problem both share (the disk filled up) does not block a reload: lowering
// maxMessageSize, or anything else, must still be possible while it lasts.
import type { Config } from '../config/load.js';
import { checkConfigStorage, describeProblem, newProblems } from './preflight.js';

/** null: the reload may go ahead; else the error for the `reload` event. */
export async function storageRefusesReload(next: Config, running: Config): Promise<string | null> {
  const [after, before] = await Promise.all([checkConfigStorage(next), checkConfigStorage(running)]);
  const worse = newProblems(after, before);
  return worse.length === 0 ? null : `storage: ${worse.map(describeProblem).join('; ')}`;
}
