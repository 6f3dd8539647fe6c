// What `doctor` learns from the upstream mailbox server for `verify.upstream`: the answer to a made-up
// address of each verifying domain, as the server asks at start (SPEC §3). No judgement here.
import type { Config } from '../config/load.js';
import { buildVerifyBackend } from '../verify/backend.js';
import { catchAllProbeLocalPart } from '../verify/verifier.js';
import type { VerifyFacts } from './facts.js';

export async function gatherVerifyFacts(config: Config): Promise<VerifyFacts[]> {
  const backend = buildVerifyBackend(config);
  const smtp = config.delivery.smtp;
  if (backend === null || !smtp) return [];
  try {
    const domains = config.domains.filter((d) => d.verify?.upstream === true);
    return await Promise.all(
      domains.map(async (d): Promise<VerifyFacts> => {
        const probe = `${catchAllProbeLocalPart()}@${d.name}`;
        const a = await backend.prober.probe(probe);
        const base = { domain: d.name, upstream: `${smtp.host}:${smtp.port}`, probe };
        switch (a.kind) {
          case 'exists':
            return { ...base, answer: 'accepted', detail: a.reply };
          case 'no-such-user':
            return { ...base, answer: 'refused', detail: a.reply };
          case 'unavailable':
            return { ...base, answer: 'unavailable', detail: a.detail };
        }
      }),
    );
  } finally {
    await backend.close();
  }
}
