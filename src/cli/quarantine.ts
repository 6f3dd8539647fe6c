// `quarantine list|show|release|delete|purge` (issue #4: not built yet).
import type { Config } from '../config/load.js';

export interface QuarantineCliOptions {
  readonly json: boolean;
  readonly raw: boolean;
  readonly to: string | undefined;
  readonly olderThan: string | undefined;
}

export async function runQuarantine(_config: Config, _args: readonly string[], _opts: QuarantineCliOptions): Promise<number> {
  process.stderr.write('catchall-guard: the quarantine commands are not available in this version yet\n');
  return 1;
}
