// Which lane of the notice outbox (outbox.ts) an entry goes to: a pending notice tells a sender
// something now; an entry that only lacks the sender's SPF/DMARC evidence waits for nobody. Pure, so
// the SMTP side can name the lane without loading the outbox.
import type { QuarantineEntry } from '../quarantine/entry.js';

/** `notice`: a notice is pending; `evidence`: only the sender's SPF/DMARC is missing. */
export type OutboxLane = 'notice' | 'evidence';

/** The lane of an entry that still needs the outbox. */
export const laneOf = (entry: Pick<QuarantineEntry, 'notice'>): OutboxLane =>
  entry.notice.status === 'pending' ? 'notice' : 'evidence';
