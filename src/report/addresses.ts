// Log lines → per address with an address rule (SPEC §3 `domains[].addresses`): the rule, how often it
// was written to, by which sender domains, the leak signals (`sender-not-allowed`: a sender outside a
// `from` binding) and a suggested next step. Pure; memory grows with the addresses rules decided for,
// each keeping a bounded number of sender-domain counters.
import { createTopK, type TopK } from './top-k.js';

/** What the rcpt event's `reason` says of a rule, for log lines written before `rule`/`ruleAction` existed. */
const ACTION_OF_REASON: Readonly<Record<string, string>> = {
  'address-retired': 'reject',
  'address-moved': 'moved',
  'address-paused': 'defer',
  'sender-not-allowed': 'accept',
};

/** The part of a `rcpt` event (SPEC §7) decided by an address rule. */
export interface RuleRcpt {
  readonly rcpt: string;
  readonly from: string;
  readonly decision: string;
  /** The rule's local-part or glob as logged; null in lines that only carry the reason. */
  readonly rule: string | null;
  readonly action: string;
  readonly senderNotAllowed: boolean;
  readonly time: number | null;
}

export interface AddressDomainCount {
  readonly domain: string;
  readonly count: number;
}

export interface AddressSummary {
  /** Whole, as logged (lower-cased). */
  readonly address: string;
  /** `hp-repair (accept)`, `leak-* (quarantine)`; the action alone when the log did not name the rule. */
  readonly rule: string;
  readonly action: string;
  readonly count: number;
  readonly firstSeen: string | null;
  readonly lastSeen: string | null;
  readonly decisions: Readonly<Record<string, number>>;
  readonly senderDomains: readonly AddressDomainCount[];
  /** Leak signals: RCPTs from a sender domain outside the rule's `from`. */
  readonly senderNotAllowed: number;
  readonly notAllowedDomains: readonly AddressDomainCount[];
  readonly next: string;
}

/** A parsed log record → the rule-decided RCPT it describes, or null. */
export function toRuleRcpt(record: unknown, time: number | null): RuleRcpt | null {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return null;
  const r = record as Record<string, unknown>;
  if (r['event'] !== 'rcpt' || typeof r['rcpt'] !== 'string' || r['rcpt'] === '') return null;
  const reason = typeof r['reason'] === 'string' ? r['reason'] : '';
  const rule = typeof r['rule'] === 'string' && r['rule'] !== '' ? r['rule'].toLowerCase() : null;
  const action = typeof r['ruleAction'] === 'string' ? r['ruleAction'] : ACTION_OF_REASON[reason];
  if (rule === null && action === undefined) return null;
  return {
    rcpt: r['rcpt'].toLowerCase(),
    from: typeof r['from'] === 'string' ? r['from'] : '',
    decision: typeof r['decision'] === 'string' ? r['decision'] : 'unknown',
    rule,
    action: action ?? 'accept',
    senderNotAllowed: reason === 'sender-not-allowed',
    time,
  };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const listDomains = (d: readonly AddressDomainCount[]): string => d.map((x) => `${x.domain} ${x.count}`).join(', ');

/** The suggested next step for one address, from what its rule did. Pure. */
export function suggestNextStep(
  s: Pick<AddressSummary, 'action' | 'count' | 'senderDomains' | 'senderNotAllowed' | 'notAllowedDomains'>,
): string {
  if (s.senderNotAllowed > 0) {
    const outsiders = s.notAllowedDomains.map((d) => d.domain);
    const first = outsiders[0] ?? 'them';
    return (
      `possible leak: ${plural(s.senderNotAllowed, 'RCPT')} from senders outside its from (${listDomains(s.notAllowedDomains)}); ` +
      `if ${first} is a partner add it to from, otherwise retire the address (action: reject)`
    );
  }
  const top = s.senderDomains.length ? ` (${listDomains(s.senderDomains)})` : '';
  switch (s.action) {
    case 'accept':
      return 'none: only the allowed senders wrote to it';
    case 'reject':
      return `keep the rule: senders still try the retired address${top}`;
    case 'moved':
      return `keep the rule while senders still use the old address${top}; tell them the new one`;
    case 'defer':
      return 'paused: senders retry until their queue gives up (often 5 days), then bounce; lift the pause or retire the address';
    case 'quarantine':
      return `review its quarantined mail${top}: if none is wanted, retire the address (action: reject)`;
    default:
      return 'none';
  }
}

interface AddressState {
  rule: string;
  action: string;
  count: number;
  first: number | null;
  last: number | null;
  readonly decisions: Record<string, number>;
  readonly domains: TopK;
  notAllowed: number;
  readonly notAllowedDomains: TopK;
}

const DOMAIN_COUNTERS = 16;

export interface AddressAggregator {
  add(e: RuleRcpt, senderDomain: string): void;
  summary(opts?: { readonly domainsPerAddress?: number }): AddressSummary[];
}

export function createAddressAggregator(): AddressAggregator {
  const addresses = new Map<string, AddressState>();
  return {
    add(e, domain) {
      let s = addresses.get(e.rcpt);
      if (!s) {
        s = {
          rule: '',
          action: e.action,
          count: 0,
          first: null,
          last: null,
          decisions: {},
          domains: createTopK(DOMAIN_COUNTERS),
          notAllowed: 0,
          notAllowedDomains: createTopK(DOMAIN_COUNTERS),
        };
        addresses.set(e.rcpt, s);
      }
      // the rule as it stands: the latest line's (a reload may have changed it)
      if (e.time === null || s.last === null || e.time >= s.last) {
        s.action = e.action;
        s.rule = e.rule ? `${e.rule} (${e.action})` : `(${e.action})`;
      }
      s.count++;
      s.decisions[e.decision] = (s.decisions[e.decision] ?? 0) + 1;
      s.domains.add(domain);
      if (e.senderNotAllowed) {
        s.notAllowed++;
        s.notAllowedDomains.add(domain);
      }
      if (e.time !== null) {
        if (s.first === null || e.time < s.first) s.first = e.time;
        if (s.last === null || e.time > s.last) s.last = e.time;
      }
    },
    summary(opts = {}) {
      const n = opts.domainsPerAddress ?? 3;
      const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
      const counts = (k: TopK): AddressDomainCount[] => k.top(n).map(({ key, count }) => ({ domain: key, count }));
      // leak signals first, then the busiest
      const ranked = [...addresses].sort(
        ([ra, a], [rb, b]) => b.notAllowed - a.notAllowed || b.count - a.count || (ra < rb ? -1 : ra > rb ? 1 : 0),
      );
      return ranked.map(([address, s]) => {
        const base = {
          action: s.action,
          count: s.count,
          senderDomains: counts(s.domains),
          senderNotAllowed: s.notAllowed,
          notAllowedDomains: counts(s.notAllowedDomains),
        };
        return {
          address,
          rule: s.rule,
          ...base,
          firstSeen: iso(s.first),
          lastSeen: iso(s.last),
          decisions: { ...s.decisions },
          next: suggestNextStep(base),
        };
      });
    },
  };
}
