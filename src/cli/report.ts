// `report [--log FILE] [--json]`: unknown recipients seen in the log, to find the addresses that should
// become known before a domain switches from `observe` to `reject`; then the addresses an address rule
// decided for, with their leak signals and a suggested next step.
import { EXIT_FAILURE, EXIT_OK, type ExitCode } from './exit-codes.js';
import { createReportAggregator } from '../report/aggregate.js';
import { formatReport, REPORT_TABLE_ROWS } from '../report/format.js';
import { formatAddresses } from '../report/format-addresses.js';
import { openLogSource, readLogLines } from '../report/read-log.js';
import { writeOut } from './output/stdout.js';
import { writeJson } from './output/text.js';

export interface ReportCliOptions {
  readonly logFile: string | undefined;
  readonly json: boolean;
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null;
  if (e?.code === 'ENOENT') return 'no such file';
  if (e?.code === 'EACCES' || e?.code === 'EPERM') return 'permission denied';
  if (e?.code === 'EISDIR') return 'is a directory';
  if (e?.code?.startsWith('Z_')) return `not a valid gzip stream (${e.message})`;
  return e?.message ?? String(err);
}

export async function runReport(opts: ReportCliOptions): Promise<ExitCode> {
  const source = openLogSource(opts.logFile);
  if (opts.logFile === undefined && process.stdin.isTTY)
    process.stderr.write('catchall-guard: reading log lines from stdin (end with Ctrl-D); use --log FILE for a file\n');
  const aggregator = createReportAggregator();
  try {
    for await (const line of readLogLines(source)) aggregator.addLine(line);
  } catch (err) {
    process.stderr.write(`catchall-guard: cannot read ${opts.logFile ?? 'stdin'}: ${describe(err)}\n`);
    return EXIT_FAILURE;
  }
  if (opts.json) {
    await writeJson(aggregator.summary());
    return EXIT_OK;
  }
  const summary = aggregator.summary({ maxRecipients: REPORT_TABLE_ROWS });
  // per address with a rule: its table and next steps after the unknown recipients (#12)
  const ruled = formatAddresses(summary.addresses, REPORT_TABLE_ROWS);
  await writeOut(`${formatReport(summary)}\n${ruled ? `\n${ruled}\n` : ''}`);
  return EXIT_OK;
}
