// `probe` from a shell without the server's CATCHALL_GUARD_INSTANCE_ID (walkthrough #16): it looked for
// run/<its own instance>.json only and fell back to the configured port. Now, without a file of its own,
// it probes the single live server on the data directory, and with several it names them and asks
// which. The server listens on port 0 in its config, so only its runtime file leads to it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runtimeFilePath, type RuntimeInfo } from '../../src/app/runtime-file.js';
import { findRunningServer } from '../../src/app/running-servers.js';
import { THIS_INSTANCE } from '../../src/storage/instance-id.js';
import { buildDist } from '../helpers/build-dist.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { startApp, type TestApp } from '../helpers/start-app.js';

let t: TestApp;
const planted: string[] = [];

beforeAll(async () => {
  await buildDist();
  t = await startApp();
}, 240_000);
afterEach(() => {
  for (const f of planted.splice(0)) rmSync(f, { force: true });
});
afterAll(async () => {
  await t.stop();
});

const probeAs = (instance: string): Promise<CliResult> =>
  runCli(['probe', '--config', t.configPath], {
    env: { CATCHALL_GUARD_DATA_DIR: t.dataDir, CATCHALL_GUARD_INSTANCE_ID: instance },
  });

function plant(instance: string, info: RuntimeInfo): void {
  const file = runtimeFilePath(t.dataDir, instance);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(info));
  planted.push(file);
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid;
  await new Promise((resolve) => child.once('exit', resolve));
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

describe('probe without the server’s instance id', () => {
  it('its own file missing: the single live server on the data directory is probed (a dead one does not count)', async () => {
    plant('mx-crashed', {
      pid: await deadPid(),
      started: new Date().toISOString(),
      smtp: { host: '127.0.0.1', port: 1 },
      http: null,
    });
    const r = await probeAs('mx-elsewhere');
    // the instance that stood in is named, so nobody reads the answer as mx-elsewhere's
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 0,
      stdout: `ok: 220 mx.test.invalid ESMTP catchall-guard (instance ${THIS_INSTANCE} at 127.0.0.1:${t.port})\n`,
      stderr: '',
    });
    expect(findRunningServer(t.dataDir, 'mx-elsewhere')).toMatchObject({
      kind: 'found',
      server: { instance: THIS_INSTANCE, info: { pid: process.pid, smtp: { port: t.port } } },
    });
  });

  it('several live servers and none of its own: exit 2 naming each; with an id, that one is probed', async () => {
    plant('mx2', {
      pid: process.pid,
      started: new Date().toISOString(),
      smtp: { host: '127.0.0.1', port: 2 },
      http: null,
    });
    const r = await probeAs('mx-elsewhere');
    const names = [THIS_INSTANCE, 'mx2'].sort();
    const listed = names.map((n) => `${n} (127.0.0.1:${n === 'mx2' ? 2 : t.port}, pid ${process.pid})`).join(', ');
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 2,
      stdout: '',
      stderr:
        `catchall-guard: probe: no server runs as instance "mx-elsewhere" on ${t.dataDir}, and several others do: ` +
        `${listed}; set CATCHALL_GUARD_INSTANCE_ID to the one to probe\n`,
    });
    const own = await probeAs(THIS_INSTANCE);
    expect({ code: own.code, stdout: own.stdout }).toEqual({
      code: 0,
      stdout: 'ok: 220 mx.test.invalid ESMTP catchall-guard\n',
    });
  });
});
