// Log lines → unknown recipients by count, first/last seen, top sender domains. Pure; memory grows
// with the number of distinct recipients only (each keeps at most a fixed number of sender-domain
// counters, and none until a second sender domain shows up).
import { createAddressAggregator, toRuleRcpt, type AddressSummary } from './addresses.js';
import { createTopK, type TopK } from './top-k.js';

// every mode of `unknownRecipients`: a week in reject-after-data must show up as much as one in observe
export const UNKNOWN_DECISIONS = ['reject', 'reject-after-data', 'quarantine', 'observe'] as const;
export type UnknownDecision = (typeof UNKNOWN_DECISIONS)[number];

/** The part of a `rcpt` event (SPEC §7) the report needs. */
export interface UnknownRcpt {
  readonly rcpt: string;
  readonly from: string;
  readonly decision: UnknownDecision;
  /** Epoch milliseconds, or null when the line has no usable `time`. */
  readonly time: number | null;
}

export interface DomainCount {
  readonly domain: string;
  readonly count: number;
}

export interface RecipientSummary {
  readonly rcpt: string;
  readonly count: number;
  readonly firstSeen: string | null;
  readonly lastSeen: string | null;
  readonly decisions: Readonly<Partial<Record<UnknownDecision, number>>>;
  /** The decision of the latest event: the domain's mode as it stands. */
  readonly lastDecision: UnknownDecision;
  readonly senderDomains: readonly DomainCount[];
}

export interface ReportSummary {
  /** Distinct unknown addresses: the report's first figure (SPEC §8); `recipients` may list fewer. */
  readonly unknownRecipients: number;
  /** Non-empty lines read. */
  readonly lines: number;
  /** Lines that were not JSON objects (skipped). */
  readonly skipped: number;
  /** `rcpt` events with an unknown-recipient decision. */
  readonly events: number;
  /** Most frequent first: all of them, or the first `maxRecipients` asked of summary(). */
  readonly recipients: readonly RecipientSummary[];
  readonly senderDomains: readonly DomainCount[];
  /** True when a sender-domain count is an upper bound (more distinct domains than counters). */
  readonly approximate: boolean;
  /** Addresses an address rule decided for (not counted above): leak signals first. */
  readonly addresses: readonly AddressSummary[];
}

export interface ReportOptions {
  /** Sender domains listed per recipient. */
  readonly domainsPerRecipient?: number;
  /** Sender domains listed overall. */
  readonly topDomains?: number;
}

const isDecision = (v: unknown): v is UnknownDecision =>
  typeof v === 'string' && (UNKNOWN_DECISIONS as readonly string[]).includes(v);

function parseTime(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v; // pino's default epoch milliseconds
  if (typeof v === 'string') {
    const t = Date.parse(v); // our logger's ISO time
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** A parsed log record → the unknown-recipient RCPT it describes, or null. */
export function toUnknownRcpt(record: unknown): UnknownRcpt | null {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return null;
  const r = record as Record<string, unknown>;
  if (r['event'] !== 'rcpt' || !isDecision(r['decision']) || typeof r['rcpt'] !== 'string' || r['rcpt'] === '')
    return null;
  return {
    rcpt: r['rcpt'].toLowerCase(),
    from: typeof r['from'] === 'string' ? r['from'] : '',
    decision: r['decision'],
    time: parseTime(r['time']),
  };
}

/** One line → a JSON object, also behind a prefix such as `docker logs --timestamps` adds; else null. */
export function parseLogLine(line: string): unknown {
  const start = line.indexOf('{');
  if (start < 0) return null;
  try {
    const v: unknown = JSON.parse(start === 0 ? line : line.slice(start));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

export function senderDomain(from: string): string {
  if (from === '' || from === '<>') return '<>';
  const at = from.lastIndexOf('@');
  return at < 0 ? '(no domain)' : from.slice(at + 1).toLowerCase();
}

interface RecipientState {
  count: number;
  first: number | null;
  last: number | null;
  lastDecision: UnknownDecision;
  readonly decisions: Partial<Record<UnknownDecision, number>>;
  /**
   * The one sender domain of all `count` events, until a second one needs counters: a dictionary
   * attack leaves hundreds of thousands of addresses seen once, and a map each would dominate memory.
   */
  domains: string | TopK;
}

/** Code-unit order: deterministic, and cheap enough to sort hundreds of thousands of rows. */
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const compareNumbers = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);

const DOMAIN_COUNTERS_PER_RECIPIENT = 16;
const DOMAIN_COUNTERS_OVERALL = 1000;

export interface ReportAggregator {
  addLine(line: string): void;
  add(event: UnknownRcpt): void;
  summary(opts?: { readonly maxRecipients?: number }): ReportSummary;
}

export function createReportAggregator(opts: ReportOptions = {}): ReportAggregator {
  const perRecipient = opts.domainsPerRecipient ?? 3;
  const topDomains = opts.topDomains ?? 10;
  const recipients = new Map<string, RecipientState>();
  const overall = createTopK(DOMAIN_COUNTERS_OVERALL);
  const ruled = createAddressAggregator();
  let lines = 0;
  let skipped = 0;
  let events = 0;

  const aggregator: ReportAggregator = {
    addLine(line) {
      if (line.trim() === '') return;
      lines++;
      const record = parseLogLine(line);
      if (record === null) {
        skipped++;
        return;
      }
      // an address a rule decided for is not an unknown recipient to make known: it has its own table
      const rule = toRuleRcpt(record, parseTime((record as Record<string, unknown>)['time']));
      if (rule) return ruled.add(rule, senderDomain(rule.from));
      const e = toUnknownRcpt(record);
      if (e) aggregator.add(e);
    },
    add(e) {
      events++;
      const domain = senderDomain(e.from);
      let s = recipients.get(e.rcpt);
      if (!s) {
        s = { count: 0, first: null, last: null, lastDecision: e.decision, decisions: {}, domains: domain };
        recipients.set(e.rcpt, s);
      }
      if (typeof s.domains !== 'string') s.domains.add(domain);
      else if (s.domains !== domain) {
        s.domains = createTopK(DOMAIN_COUNTERS_PER_RECIPIENT, { key: s.domains, count: s.count });
        s.domains.add(domain);
      }
      s.count++;
      s.decisions[e.decision] = (s.decisions[e.decision] ?? 0) + 1;
      if (e.time !== null) {
        if (s.first === null || e.time < s.first) s.first = e.time;
        if (s.last === null || e.time >= s.last) {
          s.last = e.time;
          s.lastDecision = e.decision;
        }
      } else if (s.last === null) {
        s.lastDecision = e.decision;
      }
      overall.add(domain);
    },
    summary(summaryOpts = {}) {
      const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
      const toCounts = (k: TopK, n: number): DomainCount[] =>
        k.top(n).map(({ key, count }) => ({ domain: key, count }));
      let approximate = overall.approximate;
      for (const s of recipients.values())
        if (typeof s.domains !== 'string' && s.domains.approximate) approximate = true;
      // rank the states and build summaries for the listed ones only: the human report lists 100 of 100,000s
      const ranked = [...recipients].sort(
        ([ra, a], [rb, b]) =>
          b.count - a.count || compareNumbers(b.last ?? -Infinity, a.last ?? -Infinity) || compareText(ra, rb),
      );
      if (summaryOpts.maxRecipients !== undefined)
        ranked.length = Math.min(ranked.length, Math.max(0, summaryOpts.maxRecipients));
      const list: RecipientSummary[] = [];
      for (const [rcpt, s] of ranked) {
        list.push({
          rcpt,
          count: s.count,
          firstSeen: iso(s.first),
          lastSeen: iso(s.last),
          decisions: { ...s.decisions },
          lastDecision: s.lastDecision,
          senderDomains:
            typeof s.domains === 'string'
              ? perRecipient > 0
                ? [{ domain: s.domains, count: s.count }]
                : []
              : toCounts(s.domains, perRecipient),
        });
      }
      return {
        unknownRecipients: recipients.size,
        lines,
        skipped,
        events,
        recipients: list,
        senderDomains: toCounts(overall, topDomains),
        approximate,
        addresses: ruled.summary({ domainsPerAddress: perRecipient }),
      };
    },
  };
  return aggregator;
}
