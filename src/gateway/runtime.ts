// Everything a session needs that a reload may replace, built whole and swapped with one assignment.
import type { Config } from '../config/load.js';
import type { Delivery } from '../delivery/delivery.js';
import type { RecipientDirectory } from '../directory/directory.js';
import type { QuarantineStore } from '../quarantine/store.js';
import type { QuarantineUsage } from '../quarantine/usage.js';
import type { Verifier } from '../verify/verifier.js';

export interface Runtime {
  readonly config: Config;
  readonly directory: RecipientDirectory;
  readonly delivery: Delivery;
  readonly quarantine: QuarantineStore;
  readonly quarantineUsage: QuarantineUsage;
  readonly spoolDir: string;
  /** SPEC §3 `verify.upstream`: asks the upstream mailbox server about local-parts the directory does not know. */
  readonly verifier: Verifier;
}
