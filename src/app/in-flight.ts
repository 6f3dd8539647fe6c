// Transactions in DATA, so a graceful stop can wait for them (SPEC §10: up to 30 s).

export interface InFlight {
  begin(): void;
  end(): void;
  count(): number;
  /** Resolves when none is in flight, or when the grace period is over. */
  drained(graceMs: number): Promise<'drained' | 'timeout'>;
}

export function createInFlight(): InFlight {
  let n = 0;
  let waiters: Array<() => void> = [];
  return {
    begin: () => void n++,
    end() {
      n--;
      if (n > 0) return;
      for (const w of waiters) w();
      waiters = [];
    },
    count: () => n,
    drained(graceMs) {
      if (n === 0) return Promise.resolve('drained');
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), graceMs);
        timer.unref();
        waiters.push(() => {
          clearTimeout(timer);
          resolve('drained');
        });
      });
    },
  };
}
