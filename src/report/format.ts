// ReportSummary → the text `report` prints: the number of distinct unknown addresses, then two aligned
// tables within 100 columns (wider only for an address longer than that), the first capped at the top
// `maxRows` addresses. Pure.
import type { ReportSummary } from './aggregate.js';
import { renderTable } from '../cli/output/table.js';

/** The day is what matters for deciding which addresses to make known; --json has the full times. */
const dayCell = (iso: string | null): string => (iso ? iso.slice(0, 10) : '-');

/**
 * Rows of the recipient table. A dictionary attack in observe mode logs 100,000s of addresses seen
 * once; a terminal needs the frequent ones (--json has them all).
 */
export const REPORT_TABLE_ROWS = 100;

/** `s.recipients` may already be cut short (summary's maxRecipients): `s.unknownRecipients` is the total. */
export function formatReport(s: ReportSummary, maxRows: number = REPORT_TABLE_ROWS): string {
  const read = `${s.lines} log lines read${s.skipped ? `, ${s.skipped} not JSON and skipped` : ''}`;
  const total = s.unknownRecipients;
  const counts = `${total} unknown recipient${total === 1 ? '' : 's'} in ${s.events} RCPT event${s.events === 1 ? '' : 's'}`;
  if (total === 0) return `${counts} (${read})`;
  const header = `${counts} (${read}; dates UTC)`;
  const shown = s.recipients.slice(0, Math.max(0, maxRows));
  const more = total - shown.length;
  const recipients = renderTable(
    [
      // never cut (SPEC §8): a shortened address could be taken for another one; the other columns give way
      { header: 'RECIPIENT', whole: true },
      { header: 'COUNT', alignRight: true },
      { header: 'FIRST SEEN' },
      { header: 'LAST SEEN' },
      { header: 'MODE', shrink: 2, minWidth: 7 },
      { header: 'TOP SENDER DOMAINS', shrink: 3, minWidth: 18 },
    ],
    shown.map((r) => [
      r.rcpt,
      String(r.count),
      dayCell(r.firstSeen),
      dayCell(r.lastSeen),
      r.lastDecision,
      r.senderDomains.map((d) => `${d.domain} ${d.count}`).join(', '),
    ]),
  );
  const domains = renderTable(
    [
      { header: 'SENDER DOMAIN', shrink: 1 },
      { header: 'RCPT', alignRight: true },
    ],
    s.senderDomains.map((d) => [d.domain, String(d.count)]),
  );
  const note = s.approximate ? '\n(sender-domain counts are upper bounds: more distinct domains than counters)' : '';
  const rest = more > 0 ? `\n… and ${more} more (--json lists them all)` : '';
  return `${header}\n\n${recipients}${rest}\n\ntop sender domains:\n${domains}${note}`;
}
