// What a crash of this host left behind, removed before the first session: the quarantine's temp
// files and unfinished entries, this instance's spool (none of it can belong to a live transaction
// yet, workers' directories included), other instances' spool files older than a day, and the
// delivery's temp files. The single-process app and the cluster primary both run it at start.
import path from 'node:path';
import type { Delivery } from '../delivery/delivery.js';
import { cleanSpool, cleanStaleSpools } from '../message/spool.js';
import type { QuarantineStore } from '../quarantine/store.js';

/** A spool file of another instance this old belongs to nobody any more. */
const STALE_SPOOL_MS = 86_400_000;

export async function cleanCrashLeftovers(where: {
  readonly quarantine: QuarantineStore;
  readonly spoolDir: string;
  readonly delivery: Pick<Delivery, 'cleanTemp'>;
}): Promise<void> {
  await where.quarantine.cleanTemp().catch(() => 0);
  await cleanSpool(where.spoolDir);
  await cleanStaleSpools(path.dirname(where.spoolDir), where.spoolDir, STALE_SPOOL_MS);
  await where.delivery.cleanTemp?.().catch(() => 0);
}
