// The session id of a connection a test opens itself, from the one `connect` event it caused: a
// predicate on `sid` then matches that session's events only, never another session's.
import type { CapturedEvents } from './log-capture.js';
import { RawSmtp, type Reply } from './smtp-client.js';

/**
 * Connects like RawSmtp.connect and returns the sid of the new session. The test opens its connections
 * one after the other: exactly one `connect` event may appear meanwhile, or this throws.
 */
export async function connectWithSid(
  port: number,
  events: CapturedEvents,
  opts: { waitGreeting?: boolean } = {},
): Promise<{ client: RawSmtp; greeting: Reply | null; sid: string }> {
  const before = events.of('connect').length;
  const { client, greeting } = await RawSmtp.connect(port, opts);
  await events.waitFor('connect', () => events.of('connect').length > before);
  const opened = events.of('connect').slice(before);
  const first = opened[0];
  if (opened.length !== 1 || !first) throw new Error(`expected one new connect event, got ${JSON.stringify(opened)}`);
  return { client, greeting, sid: first.sid };
}
