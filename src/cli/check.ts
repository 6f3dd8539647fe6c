// `check ADDRESS [--from SENDER] [--rrvs DATE]`: the rule that decided, the decision and the exact
// reply the running server would give to RCPT TO from that sender.
import { normalizeSender } from '../address/parse.js';
import { parseRrvs } from '../address/rrvs.js';
import type { Config } from '../config/load.js';
import { readDirectoryOnce } from '../directory/read-once.js';
import { decideRecipient, rcptLimits, type UpstreamAnswer } from '../policy/decide.js';
import { lookupRecipient, senderFacts } from '../policy/lookup.js';
import { formatReply, replies, replyForRcpt } from '../smtp/replies.js';

export interface CheckResult {
  /** The address rule that decided (`jane (moved)`), or null when none applies. */
  readonly rule: string | null;
  readonly decision: string;
  readonly reply: string;
}

/** As smtp-server does on the wire: `<…>` and a source route (`@relay:`) are ignored, the final address counts. */
export function checkInput(raw: string): string {
  return raw
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .replace(/^@[^\s,:@]+(?:,@[^\s,:@]+)*:/, '');
}

export function checkAddress(
  config: Config,
  raw: string,
  opts: {
    readonly from?: string | undefined;
    readonly rrvs?: string | undefined;
    readonly now?: Date;
    /** What `verify.upstream` said (check-upstream.ts asks it); without it the directory alone decides. */
    readonly upstream?: UpstreamAnswer | undefined;
  } = {},
): CheckResult {
  const directory = readDirectoryOnce(config);
  const input = checkInput(raw);
  if (opts.rrvs !== undefined && parseRrvs(opts.rrvs) === null) {
    return { rule: null, decision: 'invalid', reply: formatReply(replies.badRrvs()) };
  }
  const { recipient, answer, ownership } = lookupRecipient(input, directory);
  const sender = normalizeSender(opts.from?.trim().replace(/^<(.*)>$/, '$1') ?? 'someone@sender.invalid');
  const outcome = decideRecipient({
    recipient,
    answer,
    counts: { rcptInTransaction: 0, unknownInSession: 0, unknownForIp: 0 },
    limits: rcptLimits(config.server),
    shuttingDown: false,
    ...senderFacts(sender),
    nowMs: (opts.now ?? new Date()).getTime(),
    rrvsSinceMs: opts.rrvs === undefined ? undefined : parseRrvs(opts.rrvs)?.sinceMs,
    ownership,
    upstream: opts.upstream,
  });
  const reply = replyForRcpt(outcome);
  return {
    rule:
      answer?.kind === 'rule'
        ? `${answer.rule.pattern} (${answer.rule.action})${answer.rule.source ? ` at ${answer.rule.source}` : ''}`
        : null,
    decision: outcome.kind,
    // smtp-server writes its own success text for an accepted RCPT
    reply: reply.code === 250 ? '250 2.1.5 Accepted' : formatReply(reply),
  };
}
