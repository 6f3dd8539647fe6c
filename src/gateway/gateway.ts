// The gateway: SMTP hooks wired to address parsing, the directory, the policy and the DATA pipeline,
// one file per SMTP phase. Holds no SMTP wire knowledge (smtp/) and no decision logic (policy/).
import { clientKey } from '../address/ip.js';
import { createConnectionCounter, createUnknownBudget } from '../policy/limits.js';
import { createMemoryStore } from '../state/memory.js';
import { THIS_INSTANCE } from '../storage/instance-id.js';
import type { DeadlineKind, SmtpHooks } from '../smtp/server.js';
import { replies } from '../smtp/replies.js';
import { errorText } from '../observability/error-text.js';
import type { GatewayContext, GatewayDeps } from './context.js';
import { onConnect, releaseConnection } from './on-connect.js';
import { onData } from './on-data.js';
import { onMailFrom, onRcptTo } from './on-rcpt.js';
import { createProxyFailureLog } from './proxy-failures.js';
import { createSessions } from './sessions.js';
import { createSealedMemoryBudget } from '../quarantine/sealed-memory.js';

export type { GatewayDeps } from './context.js';

export type Gateway = SmtpHooks;

export function createGateway(deps: GatewayDeps): Gateway {
  const state = deps.state ?? createMemoryStore();
  const ctx: GatewayContext = {
    deps,
    events: deps.events,
    now: deps.now ?? ((): Date => new Date()),
    sessions: createSessions(),
    connections: createConnectionCounter(state, deps.stateHolder ?? { holder: THIS_INSTANCE, host: THIS_INSTANCE }),
    unknownBudget: createUnknownBudget(state),
    sealedMemory: createSealedMemoryBudget(),
  };
  const { events } = ctx;
  const proxyFailed = createProxyFailureLog(events);
  return {
    connect: onConnect(ctx),
    mailFrom: onMailFrom(ctx),
    rcptTo: onRcptTo(ctx),
    data: onData(ctx),
    reset(sid) {
      ctx.sealedMemory.release(sid);
    },
    close(sid, remoteAddress) {
      ctx.sealedMemory.release(sid);
      const session = ctx.sessions.end(sid);
      if (session?.counted) releaseConnection(ctx, session);
      // a client that hung up before its greeting (during greetDelay, or while its connection was being
      // judged) never reached a connect line: every close has one, so the log pairs them
      if (!session?.connectLogged) events.emit({ event: 'connect', sid, remoteAddress, reason: 'client-gone' });
      events.emit({ event: 'close', sid });
    },
    earlyTalker(sid, remoteAddress) {
      const r = replies.earlyTalker();
      // its connect line is this one: the close that follows must not write another
      ctx.sessions.open(sid, clientKey(remoteAddress)).connectLogged = true;
      events.emit({ event: 'connect', sid, remoteAddress, refused: `${r.code} ${r.enhanced}`, reason: 'early-talker' });
    },
    deadline(sid: string, limit: DeadlineKind) {
      const r = limit === 'data' ? replies.dataTimeout() : replies.sessionTimeout();
      events.emit({ event: 'timeout', sid, limit, code: `${r.code} ${r.enhanced}`, reason: `${limit}-timeout` });
    },
    proxyFailed,
    command(sid, verb) {
      // at debug; it marks a loopback session as a client's, not a health probe's (quiet-probes.ts)
      events.emit({ event: 'command', sid, command: verb });
    },
    failed(where, sid, err) {
      // the client got 451 … [internal-error] (replyForFailure): the log carries the same reason
      events.emit({ event: 'error', where, sid, error: errorText(err), reason: 'internal-error' });
    },
  };
}
