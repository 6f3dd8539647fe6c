// The recipient directory of a config, read once (for commands; the server watches the files instead).
import { readFileSync } from 'node:fs';
import type { Config } from '../config/load.js';
import { compileDirectory, type RecipientDirectory } from './directory.js';
import { parseRecipientsFile } from './recipients-file.js';

export function readDirectoryOnce(config: Config): RecipientDirectory {
  const files = new Map<string, readonly string[] | null>();
  for (const d of config.domains) {
    if (!d.recipientsFile) continue;
    try {
      files.set(d.name, parseRecipientsFile(readFileSync(d.recipientsFile, 'utf8')));
    } catch {
      files.set(d.name, null);
    }
  }
  return compileDirectory(config.domains, files);
}
