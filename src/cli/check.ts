// `check ADDRESS`: the decision and the exact reply the running server would give to RCPT TO.
import { lookupRecipient } from '../policy/lookup.js';
import type { Config } from '../config/load.js';
import { compileDirectory } from '../directory/directory.js';
import { readFileSync } from 'node:fs';
import { parseRecipientsFile } from '../directory/recipients-file.js';
import { decideRecipient } from '../policy/decide.js';
import { formatReply, replyForRcpt } from '../smtp/replies.js';

export function checkAddress(config: Config, raw: string): { decision: string; reply: string } {
  const files = new Map<string, readonly string[] | null>();
  for (const d of config.domains) {
    if (!d.recipientsFile) continue;
    try {
      files.set(d.name, parseRecipientsFile(readFileSync(d.recipientsFile, 'utf8')));
    } catch {
      files.set(d.name, null);
    }
  }
  const directory = compileDirectory(config.domains, files);
  const input = raw.trim().replace(/^<(.*)>$/, '$1');
  const { recipient, answer } = lookupRecipient(input, directory);
  const s = config.server;
  const outcome = decideRecipient({
    recipient,
    answer,
    counts: { rcptInTransaction: 0, unknownInSession: 0, rejectedForIp: 0 },
    limits: { maxRecipients: s.maxRecipients, maxUnknownRecipients: s.maxUnknownRecipients, maxUnknownRecipientsPerIp: s.maxUnknownRecipientsPerIp },
    shuttingDown: false,
  });
  const reply = replyForRcpt(outcome);
  // smtp-server writes its own success text for an accepted RCPT
  return { decision: outcome.kind, reply: reply.code === 250 ? '250 2.1.5 Accepted' : formatReply(reply) };
}
