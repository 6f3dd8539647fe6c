// RFC 7293 (Require-Recipient-Valid-Since): the RCPT parameter `RRVS=<date-time>[;C|;R]`. Pure.

export interface RrvsParam {
  /** The sender last knew the mailbox to be this recipient's at this moment. */
  readonly sinceMs: number;
  /** What to do when the check cannot be made: C(ontinue) or R(eject); here it always can be made. */
  readonly mode: 'C' | 'R' | null;
}

// RFC 3339 date-time; a date alone is taken as midnight UTC (SPEC §4)
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:\d{2}))?$/;

/** null: malformed (the client gets 501). */
export function parseRrvs(value: string): RrvsParam | null {
  const [stamp = '', mode, ...rest] = value.split(';');
  if (rest.length > 0 || (mode !== undefined && mode !== 'C' && mode !== 'R')) return null;
  const m = DATE_TIME.exec(stamp);
  if (!m) return null;
  const ms = Date.parse(m[2] === undefined ? `${m[1]}T00:00:00Z` : stamp);
  if (!Number.isFinite(ms)) return null;
  return { sinceMs: ms, mode: mode === 'C' || mode === 'R' ? mode : null };
}
