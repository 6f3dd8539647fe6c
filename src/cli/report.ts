// `report [--log FILE]` (issue #4: not built yet).
export async function runReport(_opts: { readonly logFile: string | undefined; readonly json: boolean }): Promise<number> {
  process.stderr.write('catchall-guard: report is not available in this version yet\n');
  return 1;
}
