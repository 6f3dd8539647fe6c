// SPEC §8: every command exits 0 on success, 1 on a runtime failure, 2 on bad usage or configuration.
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILURE | typeof EXIT_USAGE;
