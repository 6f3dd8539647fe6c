// quarantine.sealTo keeps a quarantined message in the process's memory until it is sealed (the
// plaintext never touches the disk, not even the spool), so all sealed transactions together are held
// to quarantine.sealedSpoolMemory. A transaction takes its share at the RCPT that makes it a sealed one,
// before the client sends a byte of the message, and gives it back when it ends, however it ends (the
// final dot, RSET, HELO/EHLO, a new MAIL, QUIT, a dropped connection). Per process: with server.workers
// each worker has the whole budget. Pure bookkeeping, no I/O.

/**
 * Added to a declared SIZE=: the trace header we prepend, and a client whose estimate is a little short
 * (RFC 1870 §5 lets it be an estimate). A message past its share is refused 552, never held beyond it.
 */
export const DECLARED_SIZE_MARGIN = 64 * 1024;

/** The share a transaction reserves: maxMessageSize, or less when the client declared a smaller SIZE=. */
export function shareFor(maxMessageSize: number, declaredSize: number | null): number {
  return declaredSize === null ? maxMessageSize : Math.min(maxMessageSize, declaredSize + DECLARED_SIZE_MARGIN);
}

/** `SIZE=` of MAIL FROM (RFC 1870) as a number of bytes; null when absent or not a plain number. */
export function declaredSizeOf(value: string | boolean | undefined): number | null {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

export type Reservation = { readonly ok: true; readonly bytes: number } | { readonly ok: false; readonly held: number };

export interface SealedMemoryBudget {
  /** MAIL FROM: a new transaction, with the client's SIZE= if any; what the session held goes back. */
  begin(sid: string, declaredSize: number | null): void;
  /**
   * The RCPT that makes the transaction a sealed one: the session's share, reserved once per
   * transaction (a second sealed RCPT keeps the first's). Refused when the budget (`limit`) has no room.
   */
  reserve(sid: string, maxMessageSize: number, limit: number): Reservation;
  /** Bytes the session's transaction holds (the cap of its in-memory spool); 0 when none. */
  heldBy(sid: string): number;
  /** The transaction ended (DATA done, RSET, HELO/EHLO, QUIT, close): its share goes back. Idempotent. */
  release(sid: string): void;
  /** Bytes held by all sessions now. */
  held(): number;
}

export function createSealedMemoryBudget(): SealedMemoryBudget {
  const declared = new Map<string, number | null>();
  const shares = new Map<string, number>();
  let total = 0;
  const release = (sid: string): void => {
    const bytes = shares.get(sid);
    if (bytes === undefined) return;
    shares.delete(sid);
    total -= bytes;
  };
  return {
    begin(sid, declaredSize) {
      release(sid);
      declared.set(sid, declaredSize);
    },
    reserve(sid, maxMessageSize, limit) {
      const have = shares.get(sid);
      if (have !== undefined) return { ok: true, bytes: have };
      const bytes = shareFor(maxMessageSize, declared.get(sid) ?? null);
      if (total + bytes > limit) return { ok: false, held: total };
      shares.set(sid, bytes);
      total += bytes;
      return { ok: true, bytes };
    },
    heldBy: (sid) => shares.get(sid) ?? 0,
    release(sid) {
      release(sid);
      declared.delete(sid);
    },
    held: () => total,
  };
}
