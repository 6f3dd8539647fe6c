// Health probes (the container HEALTHCHECK every 30 s, a monitor on the same host) connect over
// loopback, read the greeting and leave: two info lines each, thousands a day, that bury the mail in
// an observe period. A session from a loopback address that sends nothing beyond EHLO, HELO, NOOP,
// RSET and QUIT (so no MAIL, VRFY, EXPN, AUTH, STARTTLS, unknown command; no timeout, no error) is
// therefore logged at debug. The connect line of a loopback session waits until the session shows
// which kind it is: its next event (a `command` event for the first other command, a `mail`, an
// `rcpt`…) writes it at its usual level first. Only the log is affected: listeners (metrics, tests)
// get every event at once.
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { LogEvent } from './events.js';

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/** 127.0.0.0/8, ::1, and 127.x as an IPv4-mapped IPv6 address (a dual-stack listener). */
export function isLoopback(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'loopback';
}

function sidOf(e: LogEvent): string | undefined {
  return 'sid' in e ? e.sid : undefined;
}

/** Writes events to the log at `levelOf(e)`, holding back loopback connect lines as above. */
export function createEventLog(log: Logger, levelOf: (e: LogEvent) => EventLevel): (e: LogEvent) => void {
  // one entry per open loopback session at most; removed at its close
  const held = new Map<string, LogEvent>();
  return (e) => {
    if (e.event === 'connect' && e.refused === undefined && isLoopback(e.remoteAddress)) {
      held.set(e.sid, e);
      return;
    }
    const sid = sidOf(e);
    const connect = sid === undefined ? undefined : held.get(sid);
    if (sid !== undefined && connect) {
      held.delete(sid);
      if (e.event === 'close') {
        log.debug(connect);
        log.debug(e);
        return;
      }
      log[levelOf(connect)](connect);
    }
    // the signal that a session uses the server, not news of its own; a repeat within the minute of a
    // warn line about the same PROXY peer (gateway/proxy-failures.ts)
    if (e.event === 'command' || (e.event === 'proxy' && e.repeat)) log.debug(e);
    else log[levelOf(e)](e);
  };
}
