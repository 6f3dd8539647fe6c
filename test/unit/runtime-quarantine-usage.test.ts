// app/runtime-holder: the quarantine usage outlives a reload that keeps the quarantine directory, so
// the first RCPT after a SIGHUP is judged from the running count, not from nothing (#13).
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntimeHolder, type RuntimeHolder } from '../../src/app/runtime-holder.js';
import { createMemoryStore } from '../../src/state/memory.js';
import { captureEvents } from '../helpers/log-capture.js';
import { baseConfig, loadTestConfig, writeConfig, type RawConfig } from '../helpers/start-app.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function configAt(raw: RawConfig): ReturnType<typeof loadTestConfig> {
  const { dir, configPath, dataDir } = writeConfig(baseConfig(raw));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return loadTestConfig(configPath, dataDir);
}

describe('the runtime’s quarantine usage across reloads', () => {
  it.each([
    ['the same quarantine directory: kept', 'quarantine', true],
    ['another quarantine directory: counted anew', 'quarantine-2', false],
  ] as const)('%s', async (_label, nextPath, kept) => {
    const first = configAt({});
    const holder: RuntimeHolder = createRuntimeHolder(first, {
      events: captureEvents().sink,
      state: createMemoryStore(),
      stateHolder: 'w1',
    });
    cleanups.push(() => holder.close());
    const before = holder.current().quarantineUsage;
    await before.refresh(); // as at start
    before.add(4096); // an entry committed since
    const next = {
      ...first,
      quarantine: { ...first.quarantine, path: path.join(first.paths.dataDir, nextPath) },
    };
    expect(holder.replace(next)).toEqual({ ok: true });
    const after = holder.current().quarantineUsage;
    expect(after === before).toBe(kept);
    expect(await after.bytes()).toBe(kept ? 4096 : 0);
  });
});
