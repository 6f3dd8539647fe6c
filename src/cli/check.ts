// `check ADDRESS`: the decision and the exact reply the running server would give to RCPT TO.
import { lookupRecipient } from '../policy/lookup.js';
import type { Config } from '../config/load.js';
import { readDirectoryOnce } from '../directory/read-once.js';
import { decideRecipient, rcptLimits } from '../policy/decide.js';
import { formatReply, replyForRcpt } from '../smtp/replies.js';

export function checkAddress(config: Config, raw: string): { decision: string; reply: string } {
  const directory = readDirectoryOnce(config);
  // as smtp-server does on the wire: a source route (`@relay:`) is ignored, the final address counts
  const input = raw
    .trim()
    .replace(/^<(.*)>$/, '$1')
    .replace(/^@[^\s,:@]+(?:,@[^\s,:@]+)*:/, '');
  const { recipient, answer } = lookupRecipient(input, directory);
  const outcome = decideRecipient({
    recipient,
    answer,
    counts: { rcptInTransaction: 0, unknownInSession: 0, unknownForIp: 0 },
    limits: rcptLimits(config.server),
    shuttingDown: false,
  });
  const reply = replyForRcpt(outcome);
  // smtp-server writes its own success text for an accepted RCPT
  return { decision: outcome.kind, reply: reply.code === 250 ? '250 2.1.5 Accepted' : formatReply(reply) };
}
