// `check ADDRESS` for a domain with `verify.upstream`: when the directory does not know the local-part,
// the answer comes from the upstream mailbox server, so check asks it as the server would (the
// catch-all check, then one RCPT probe) and says so.
import type { Config } from '../config/load.js';
import { readDirectoryOnce } from '../directory/read-once.js';
import type { UpstreamAnswer } from '../policy/decide.js';
import { lookupRecipient } from '../policy/lookup.js';
import { buildVerifyBackend } from '../verify/backend.js';
import { createVerifier, type VerifyStatus } from '../verify/verifier.js';
import { checkAddress, checkInput, type CheckResult } from './check.js';

export interface LiveCheckResult extends CheckResult {
  /** What the upstream was asked and said; absent when the directory decided alone. */
  readonly upstream?: string;
}

function describe(server: string, upstream: UpstreamAnswer | undefined, status: VerifyStatus): string {
  const asked = `asked ${server} (MAIL FROM:<>, RCPT TO, RSET)`;
  if (status === 'catch-all')
    return `${asked}: it accepted a made-up address, so it accepts any address and verify.upstream is off for this domain`;
  if (upstream === undefined) return `${asked}: no answer`;
  switch (upstream.kind) {
    case 'exists':
      return `${asked}: the mailbox ${upstream.mailbox} exists`;
    case 'no-such-user':
      return `${asked}: no such user`;
    case 'unavailable':
      return `${asked}: no answer (${upstream.detail})`;
    case 'not-asked':
      return upstream.detail;
  }
}

export async function checkAddressWithUpstream(
  config: Config,
  raw: string,
  opts: { readonly from?: string | undefined; readonly rrvs?: string | undefined; readonly now?: Date } = {},
): Promise<LiveCheckResult> {
  const { recipient, answer } = lookupRecipient(checkInput(raw), readDirectoryOnce(config));
  const domain = recipient.kind === 'mailbox' ? recipient.address.domain : '';
  const verifies = config.domains.some((d) => d.name === domain && d.verify?.upstream === true);
  const backend = verifies && answer?.kind === 'unknown' ? buildVerifyBackend(config) : null;
  if (recipient.kind !== 'mailbox' || backend === null) return checkAddress(config, raw, opts);
  try {
    const verifier = createVerifier(config.domains, backend, null);
    const upstream = await verifier.verify(domain, recipient.address.localPart, { mayProbe: true });
    const smtp = config.delivery.smtp;
    return {
      ...checkAddress(config, raw, { ...opts, upstream }),
      upstream: describe(`${smtp?.host ?? '?'}:${smtp?.port ?? '?'}`, upstream, verifier.status(domain)),
    };
  } finally {
    await backend.close();
  }
}
