// `doctor [--ip ADDRESS]` (SPEC §8): asks DNS, through `dns.servers`, what decides whether mail for the
// served domains reaches this server and whether its notices are believed, and prints one line per
// check with the record to publish for each one that fails. Exit 1 when any check fails.
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/load.js';
import { doctorChecks, doctorFailed, formatChecks } from '../doctor/checks.js';
import { gatherFacts } from '../doctor/gather.js';
import { createConfiguredResolver, type DnsResolver } from '../sender-auth/dns.js';
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from './exit-codes.js';
import { writeOut } from './output/stdout.js';
import { terminalText } from './output/text.js';

export interface DoctorOptions {
  readonly ip?: string | undefined;
  /** Tests answer from a zone of their own; the command asks the configured servers. */
  readonly resolver?: DnsResolver;
}

/** A string is a usage problem (a bad --ip), for the caller to print with the usage text. */
export async function runDoctor(config: Config, opts: DoctorOptions = {}): Promise<ExitCode | string> {
  let ip: string | undefined;
  if (opts.ip !== undefined) {
    if (!ipaddr.isValid(opts.ip)) return `doctor: --ip "${opts.ip}" is not an IP address`;
    // ::ffff:192.0.2.1 is 192.0.2.1 to every receiver: check it as such
    ip = ipaddr.process(opts.ip).toString();
  }
  const resolver = opts.resolver ?? createConfiguredResolver(config.dns);
  const facts = await gatherFacts(config, resolver, { ip });
  const results = doctorChecks(facts);
  const through = config.dns.servers ? `dns.servers ${config.dns.servers.join(', ')}` : "the system's resolvers";
  // record texts come from DNS, which others write (a PTR zone, a From: domain's TXT): shown, not obeyed
  const lines = [`doctor: ${facts.hostname}, through ${through}`, ...formatChecks(results)].map((l) => terminalText(l));
  await writeOut(`${lines.join('\n')}\n`);
  return doctorFailed(results) ? EXIT_FAILURE : EXIT_OK;
}
