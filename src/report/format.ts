// ReportSummary → the text `report` prints: two aligned tables within 100 columns. Pure.
import type { ReportSummary } from './aggregate.js';
import { renderTable } from './table.js';

/** The day is what matters for deciding which addresses to make known; --json has the full times. */
const dayCell = (iso: string | null): string => (iso ? iso.slice(0, 10) : '-');

export function formatReport(s: ReportSummary): string {
  const read = `${s.lines} log lines read${s.skipped ? `, ${s.skipped} not JSON and skipped` : ''}`;
  const counts = `${s.recipients.length} unknown recipient${s.recipients.length === 1 ? '' : 's'} in ${s.events} RCPT event${s.events === 1 ? '' : 's'}`;
  if (s.recipients.length === 0) return `${counts} (${read})`;
  const header = `${counts} (${read}; dates UTC)`;
  const recipients = renderTable(
    [
      { header: 'RECIPIENT', shrink: 1, minWidth: 16 },
      { header: 'COUNT', alignRight: true },
      { header: 'FIRST SEEN' },
      { header: 'LAST SEEN' },
      { header: 'MODE', shrink: 2, minWidth: 7 },
      { header: 'TOP SENDER DOMAINS', shrink: 3, minWidth: 18 },
    ],
    s.recipients.map((r) => [
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
  return `${header}\n\n${recipients}\n\ntop sender domains:\n${domains}${note}`;
}
