// The recipient directory of a config, read once (for commands; the server watches the files instead).
import type { Config } from '../config/load.js';
import { compileDirectory, type RecipientDirectory } from './directory.js';
import { loadRecipientsFile } from './load-recipients-file.js';
import type { RecipientsList } from './recipients-file.js';

export function readDirectoryOnce(config: Config): RecipientDirectory {
  const files = new Map<string, RecipientsList | null>();
  for (const d of config.domains) {
    if (!d.recipientsFile) continue;
    const r = loadRecipientsFile(d.recipientsFile, d);
    // loading the config validated the file; a version that broke since is unavailable, as in the server
    files.set(d.name, r.ok ? r.list : null);
  }
  return compileDirectory(config.domains, files);
}
