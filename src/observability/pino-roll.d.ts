// pino-roll ships no types: the part of its API logger.ts uses (its README, version 4).
declare module 'pino-roll' {
  import type { EventEmitter } from 'node:events';

  export interface PinoRollOptions {
    /** `dir/name.log` → `dir/name.1.log`, `dir/name.2.log`, … */
    readonly file: string;
    /** `<n>b`, `<n>k`, `<n>m`, `<n>g`; a bare number means megabytes. */
    readonly size?: string;
    readonly limit?: { readonly count: number; readonly removeOtherLogFiles?: boolean };
    readonly mkdir?: boolean;
    /** sonic-boom options, passed through */
    readonly mode?: number;
    readonly sync?: boolean;
    readonly maxLength?: number;
    readonly minLength?: number;
    readonly periodicFlush?: number;
  }

  /** A sonic-boom stream. */
  export interface RollingStream extends EventEmitter {
    write(chunk: string): boolean;
    flush(cb?: (err?: Error) => void): void;
    flushSync(): void;
    end(): void;
    readonly file: string;
    /** -1 until the file is open ('ready'). */
    readonly fd: number;
  }

  export default function build(options: PinoRollOptions): Promise<RollingStream>;
}
