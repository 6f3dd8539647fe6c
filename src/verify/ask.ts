// Between the directory's answer and the decision (SPEC §4 order): the upstream's word, when the
// directory does not know the local-part and its domain verifies. Shared by the gateway and `check`.
import type { NotAskedReason, RcptContext, UpstreamAnswer } from '../policy/decide.js';
import { probeGate, type ProbesForIp } from '../policy/probe-gate.js';
import type { Verifier } from './verifier.js';

/** The client IP's side of one ask: its ledger place (src/verify/probe-ledger.ts) and where a spent observe probe is counted. */
export interface AskForIp {
  readonly forIp: ProbesForIp;
  spendObserve(): void;
}

/**
 * The upstream's word for an unknown local-part of a verifying domain: from the cache, from a probe when
 * the probe gate allows one, else `not-asked` naming why, so the decision never falls through to the
 * mode for an address nobody vouched for either way. Undefined when the decision does not need it.
 */
export async function askUpstream(
  verifier: Verifier,
  facts: Omit<RcptContext, 'upstream'>,
  ip?: AskForIp,
): Promise<UpstreamAnswer | undefined> {
  const { recipient, answer } = facts;
  if (recipient.kind !== 'mailbox' || answer?.kind !== 'unknown') return undefined;
  const gate = probeGate(facts, ip?.forIp);
  const upstream = await verifier.verify(
    recipient.address.domain,
    recipient.address.localPart,
    gate === 'probe'
      ? { mayProbe: true }
      : gate === 'not-needed'
        ? { mayProbe: false }
        : { mayProbe: false, notAsked: { kind: 'not-asked', why: gate, detail: notAskedDetail(gate, ip?.forIp) } },
  );
  // observe mode's allowance counts the probes sent that did not find a mailbox
  const probedInVain =
    (upstream?.kind === 'no-such-user' && upstream.source === 'upstream') ||
    (upstream?.kind === 'unavailable' && upstream.notAsked !== true);
  if (answer.mode === 'observe' && probedInVain) ip?.spendObserve();
  return upstream;
}

/** The rcpt event's `detail` for a RCPT that was not asked about (README, Logs). */
export function notAskedDetail(why: NotAskedReason, forIp: ProbesForIp = { underWay: 0, observeSpent: 0 }): string {
  switch (why) {
    case 'max-unknown-recipients':
      return 'not asked: this session is at maxUnknownRecipients';
    case 'max-unknown-recipients-per-ip':
      return `not asked: this IP is at maxUnknownRecipientsPerIp, counting ${forIp.underWay} ask(s) still under way`;
    case 'observe-allowance':
      return `not asked: this IP's observe-mode probe allowance (maxUnknownRecipientsPerIp an hour) is spent`;
  }
}

/** The rcpt event's fields that say where the answer came from (README, Logs). */
export function upstreamFields(upstream: UpstreamAnswer | undefined): {
  source?: 'upstream' | 'cache';
  detail?: string;
} {
  if (upstream === undefined) return {};
  return upstream.kind === 'unavailable' || upstream.kind === 'not-asked'
    ? { detail: upstream.detail }
    : { source: upstream.source };
}
