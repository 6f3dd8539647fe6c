// The Received: trace header (RFC 5321 §4.4) naming this server. Pure.
import { plainClientAddress } from '../address/ip.js';
import { formatRfc5322Date } from './date.js';

export interface TraceInfo {
  readonly helo: string;
  readonly clientHostname: string;
  readonly remoteAddress: string;
  readonly hostname: string;
  readonly protocol: 'SMTP' | 'ESMTP' | 'ESMTPS';
  readonly qid: string;
  /** Named in the header only when the transaction has exactly one recipient (privacy of Bcc). */
  readonly recipients: readonly string[];
  readonly date: Date;
}

const clean = (s: string, max = 255): string => s.replace(/[^\x21-\x7e]/g, '').slice(0, max) || 'unknown';

export function composeReceivedHeader(t: TraceInfo): string {
  const ip = clean(plainClientAddress(t.remoteAddress), 64);
  const host = t.clientHostname && t.clientHostname !== `[${ip}]` ? `${clean(t.clientHostname)} ` : '';
  const forClause = t.recipients.length === 1 ? `\r\n\tfor <${clean(t.recipients[0] ?? '', 320)}>` : '';
  return (
    `Received: from ${clean(t.helo)} (${host}[${ip}])\r\n` +
    `\tby ${t.hostname} (catchall-guard) with ${t.protocol} id ${t.qid}${forClause};\r\n` +
    `\t${formatRfc5322Date(t.date)}\r\n`
  );
}
