// release() while a renewal is being written: the lease must end "stopped", or the other instances
// wait out the silent period (60 s) before they take over its claims and spool. Many rounds with a
// renewal every few milliseconds, so some releases land in the middle of one (CI caught it once).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createInstanceLease, type LeaseRecord } from '../../src/app/instance-lease.js';
import type { LogEvent } from '../../src/observability/events.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const sink = { emit: (_e: LogEvent): void => undefined, subscribe: () => () => undefined };

describe('instance lease release', () => {
  it('ends with the lease marked stopped even when a renewal is in flight', async () => {
    const notStopped: number[] = [];
    for (let round = 0; round < 60; round++) {
      const data = mkdtempSync(path.join(tmpdir(), 'cg-lease-release-'));
      dirs.push(data);
      const lease = createInstanceLease({ dataDir: data, id: 'mx-a', token: `tok-${round}`, events: sink, renewMs: 2 });
      await lease.acquire();
      lease.start();
      // a few renewals, then a release at some point of one
      await new Promise((r) => setTimeout(r, 3 + (round % 7)));
      await lease.release();
      // anything still under way would have had time to land by now
      await new Promise((r) => setTimeout(r, 15));
      const written = JSON.parse(readFileSync(path.join(data, 'instances', 'mx-a.json'), 'utf8')) as LeaseRecord;
      if (written.stopped === undefined) notStopped.push(round);
    }
    expect(notStopped).toEqual([]);
  }, 60_000);
});
