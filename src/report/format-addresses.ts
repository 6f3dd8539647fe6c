// The per-address part of `report` (addresses an address rule decided for): one table, then the
// suggested next step of each address on a line of its own, so neither the address nor the advice is
// ever cut to fit a column. Empty when no rule decided anything in the log. Pure.
import { renderTable } from '../cli/output/table.js';
import type { AddressSummary } from './addresses.js';

const dayCell = (iso: string | null): string => (iso ? iso.slice(0, 10) : '-');

export function formatAddresses(addresses: readonly AddressSummary[], maxRows: number): string {
  if (addresses.length === 0) return '';
  const shown = addresses.slice(0, Math.max(0, maxRows));
  const leaks = addresses.filter((a) => a.senderNotAllowed > 0).length;
  const title =
    `${addresses.length} address${addresses.length === 1 ? '' : 'es'} decided by an address rule` +
    (leaks ? `, ${leaks} with leak signals (senders outside its from)` : '');
  const table = renderTable(
    [
      { header: 'ADDRESS', whole: true },
      // the rule as written in the config: cut, it could be taken for another one
      { header: 'RULE', whole: true },
      { header: 'RCPT', alignRight: true },
      { header: 'NOT ALLOWED', alignRight: true },
      { header: 'LAST SEEN' },
      // one domain a line: the ones a leak came from must be readable whole
      { header: 'SENDER DOMAINS', whole: true },
    ],
    shown.map((a) => [
      a.address,
      a.rule,
      String(a.count),
      String(a.senderNotAllowed),
      dayCell(a.lastSeen),
      a.senderDomains.map((d) => `${d.domain} ${d.count}`),
    ]),
  );
  const more = addresses.length - shown.length;
  const rest = more > 0 ? `\n… and ${more} more (--json lists them all)` : '';
  const steps = shown.map((a) => `  ${a.address}: ${a.next}`).join('\n');
  return `${title}:\n${table}${rest}\n\nnext steps:\n${steps}`;
}
