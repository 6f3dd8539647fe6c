// A real sending MTA for end-to-end tests: a private Debian Postfix instance with its own config and
// queue directories under a temp dir, its smtpd on a free port on 127.0.0.1, relaying only to the
// next hops a test names (transport_maps `domain smtp:[127.0.0.1]:port`), never using DNS, with short
// queue times. Started with `postfix -c DIR start`, stopped with `postfix -c DIR stop` and then, if
// its master is still there, by that PID. Postfix missing is an error, not a skip: a test that needs a
// real MTA must fail without one. Postfix runs its daemons as the `postfix` user, so this needs root.
import { execFile } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';

export interface PostfixOptions {
  /** Next hops by recipient domain: `domain` → a port on 127.0.0.1 (`smtp:[127.0.0.1]:port`). Nothing else is routable. */
  readonly relay: Readonly<Record<string, number>>;
  /** `myhostname`: its banner, EHLO name, Received: lines and the Reporting-MTA of its bounces. */
  readonly hostname?: string;
}

export interface Postfix {
  /** The temp dir holding everything: etc/ (main.cf, master.cf, transport), queue/, data/, maillog. */
  readonly dir: string;
  readonly configDir: string;
  /** Its smtpd, on 127.0.0.1; clients in 127.0.0.0/8 may relay through it. */
  readonly port: number;
  /** The master daemon's PID. */
  readonly pid: number;
  readonly hostname: string;
  /** Postfix's sendmail with `-C <configDir>` and `args`, the message on stdin (LF line ends are fine). */
  sendmail(args: readonly string[], message: string): Promise<void>;
  /** `postqueue -f`: attempt delivery of everything queued now. */
  flush(): Promise<void>;
  /** `postqueue -p`: the queue listing, for failure messages. */
  queue(): Promise<string>;
  /** Its maillog so far (every daemon logs there, queue ids and SMTP replies included). */
  log(): string;
  stop(): Promise<void>;
}

const CANDIDATE_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** The `postfix` command; throws when Postfix is not installed. */
export function postfixBinary(): string {
  const dirs = (process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of [...dirs, ...CANDIDATE_DIRS]) {
    const file = path.join(dir, 'postfix');
    try {
      accessSync(file, fsConstants.X_OK);
      // Postfix's postfix has postconf beside it; another program called postfix would not
      accessSync(path.join(dir, 'postconf'), fsConstants.X_OK);
      return file;
    } catch {
      // not here: the next place
    }
  }
  throw new Error(
    'Postfix is not installed, and these tests need a real sending MTA: `echo "postfix postfix/main_mailer_type ' +
      'select No configuration" | debconf-set-selections && apt-get install -y postfix` (.ci/run installs it in CI)',
  );
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without a shell; never rejects (the exit code is in the result). */
function run(file: string, args: readonly string[], input?: string, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: error && !stderr ? error.message : stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

/** A TCP port free on 127.0.0.1 a moment ago (whoever binds it next must cope if someone took it meanwhile). */
export async function freeLoopbackPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const address = srv.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Reads the first reply line the server on `port` sends, or null if it does not within `timeoutMs`. */
function banner(port: number, timeoutMs = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    const done = (v: string | null): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(buf.slice(0, nl).trimEnd());
    });
    s.once('error', () => done(null));
    s.once('close', () => done(null));
  });
}

/** Alive and not a zombie (a reaped-later master is gone for our purposes). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S …": the state follows the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** True when `pid` is still a Postfix master (so a PID reused by something else is never killed). */
function isMaster(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('/master') === true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function mainCf(dir: string, hostname: string): string {
  const domain = hostname.includes('.') ? hostname.slice(hostname.indexOf('.') + 1) : hostname;
  return [
    '# written by test/helpers/postfix.ts: a private instance on loopback that never uses DNS',
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/queue`,
    `data_directory = ${dir}/data`,
    // every daemon logs to this file through postlogd (master.cf), not to syslog
    `maillog_file_prefixes = ${dir}`,
    `maillog_file = ${dir}/maillog`,
    `myhostname = ${hostname}`,
    `mydomain = ${domain}`,
    'myorigin = $mydomain',
    // nothing is delivered locally: every domain is relayed or refused
    'mydestination =',
    'local_recipient_maps =',
    'alias_maps =',
    'alias_database =',
    'relay_domains =',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    // the next hops, bracketed (no MX look-up); every other destination bounces at once
    `transport_maps = texthash:${dir}/etc/transport`,
    'default_transport = error:5.3.0 this test MTA relays only to its transport_maps',
    'relay_transport = $default_transport',
    'smtp_dns_support_level = disabled',
    'smtp_host_lookup = native',
    'smtp_tls_security_level = none',
    'smtpd_tls_security_level = none',
    'smtp_connection_cache_on_demand = no',
    // short queue times: a retry within a second or two, nothing queued for long
    'queue_run_delay = 1s',
    'minimal_backoff_time = 1s',
    'maximal_backoff_time = 2s',
    'maximal_queue_lifetime = 2m',
    'bounce_queue_lifetime = 2m',
    'in_flow_delay = 0',
    // no postmaster copies of errors: the bounce sink gets only what a sender's bounce handler would
    'notify_classes =',
    'biff = no',
    'append_dot_mydomain = no',
    '',
  ].join('\n');
}

function masterCf(port: number): string {
  // chroot n everywhere: a chroot under the temp queue dir would lack /etc/services, resolv.conf, …
  return [
    '# service type  private unpriv  chroot  wakeup  maxproc command',
    `127.0.0.1:${port} inet n - n - - smtpd`,
    'pickup    unix  n       -       n       60      1       pickup',
    'cleanup   unix  n       -       n       -       0       cleanup',
    'qmgr      unix  n       -       n       300     1       qmgr',
    'rewrite   unix  -       -       n       -       -       trivial-rewrite',
    'bounce    unix  -       -       n       -       0       bounce',
    'defer     unix  -       -       n       -       0       bounce',
    'trace     unix  -       -       n       -       0       bounce',
    'verify    unix  -       -       n       -       1       verify',
    'flush     unix  n       -       n       1000?   0       flush',
    'proxymap  unix  -       -       n       -       -       proxymap',
    'smtp      unix  -       -       n       -       -       smtp',
    'relay     unix  -       -       n       -       -       smtp',
    'showq     unix  n       -       n       -       -       showq',
    'error     unix  -       -       n       -       -       error',
    'retry     unix  -       -       n       -       -       error',
    'discard   unix  -       -       n       -       -       discard',
    'anvil     unix  -       -       n       -       1       anvil',
    'scache    unix  -       -       n       -       1       scache',
    'postlog   unix-dgram n  -       n       -       1       postlogd',
    '',
  ].join('\n');
}

function transportMap(relay: Readonly<Record<string, number>>): string {
  return Object.entries(relay)
    .map(([domain, port]) => `${domain.toLowerCase()} smtp:[127.0.0.1]:${port}\n`)
    .join('');
}

async function startOnce(options: PostfixOptions, binary: string): Promise<Postfix | 'port-taken'> {
  if (userInfo().uid !== 0) throw new Error('a private Postfix instance needs root (its daemons run as user postfix)');
  const hostname = options.hostname ?? 'mta.crm.test';
  const dir = mkdtempSync(path.join(tmpdir(), 'cg-postfix-'));
  // the daemons run as user postfix: they must reach the queue below this directory
  chmodSync(dir, 0o755);
  const configDir = path.join(dir, 'etc');
  const queueDir = path.join(dir, 'queue');
  const logFile = path.join(dir, 'maillog');
  mkdirSync(configDir, { mode: 0o755 });
  // `postfix start` creates the queue's subdirectories and the data directory, with their owners and modes
  mkdirSync(queueDir, { mode: 0o755 });
  const postconf = path.join(path.dirname(binary), 'postconf');
  const cleanUp = (): void => rmSync(dir, { recursive: true, force: true });
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  let port: number;
  let postqueue: string;
  let sendmail: string;
  try {
    port = await freeLoopbackPort();
    writeFileSync(path.join(configDir, 'main.cf'), mainCf(dir, hostname));
    writeFileSync(path.join(configDir, 'master.cf'), masterCf(port));
    writeFileSync(path.join(configDir, 'transport'), transportMap(options.relay));

    const paths = await run(postconf, ['-c', configDir, '-h', 'command_directory', 'sendmail_path']);
    const [commandDir, sendmailPath] = paths.stdout.trim().split('\n');
    if (paths.code !== 0 || !commandDir || !sendmailPath) throw new Error(`postconf failed: ${paths.stderr}`);
    postqueue = path.join(commandDir, 'postqueue');
    sendmail = sendmailPath;

    const started = await run(binary, ['-c', configDir, 'start']);
    if (started.code !== 0) {
      // the postfix command and master log to the maillog (stderr only when it is a terminal)
      const text = log();
      if (/address already in use/i.test(text)) {
        cleanUp();
        return 'port-taken';
      }
      throw new Error(`postfix -c ${configDir} start failed (exit ${started.code}):\n${started.stderr}\n${text}`);
    }
  } catch (e) {
    cleanUp();
    throw e;
  }

  const pidFile = path.join(queueDir, 'pid', 'master.pid');
  const pid = Number((existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : '').trim());
  // a test runner that dies must not leave an MTA behind
  const onExit = (): void => {
    if (pid > 0 && isMaster(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await run(binary, ['-c', configDir, 'stop']);
      const deadline = Date.now() + 5000;
      while (pid > 0 && alive(pid) && Date.now() < deadline) await sleep(50);
      if (pid > 0 && alive(pid) && isMaster(pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone in between
        }
        // its children notice the master is gone and exit on their own
        while (alive(pid) && Date.now() < deadline + 2000) await sleep(50);
      }
      process.removeListener('exit', onExit);
      cleanUp();
    })();
    return stopping;
  };

  if (!(pid > 0)) {
    const text = log();
    await stop();
    throw new Error(`postfix started but wrote no master PID to ${pidFile}:\n${text}`);
  }

  // ready when its smtpd greets with its own name (not a squatter's on the same port)
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = await banner(port);
    if (line?.startsWith(`220 ${hostname}`)) break;
    if (!alive(pid) || Date.now() > deadline) {
      const text = log();
      await stop();
      if (/address already in use/i.test(text)) return 'port-taken';
      throw new Error(`postfix did not greet on 127.0.0.1:${port} within 10 s (got ${String(line)}):\n${text}`);
    }
    await sleep(50);
  }

  const must = async (what: string, file: string, args: readonly string[], input?: string): Promise<Run> => {
    const r = await run(file, args, input);
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}\n${log()}`);
    return r;
  };
  return {
    dir,
    configDir,
    port,
    pid,
    hostname,
    async sendmail(args, message) {
      await must('sendmail', sendmail, ['-C', configDir, ...args], message);
    },
    async flush() {
      await must('postqueue -f', postqueue, ['-c', configDir, '-f']);
    },
    async queue() {
      return (await run(postqueue, ['-c', configDir, '-p'])).stdout;
    },
    log,
    stop,
  };
}

/** Starts a private Postfix; throws (never skips) when Postfix is missing or will not start. */
export async function startPostfix(options: PostfixOptions): Promise<Postfix> {
  const binary = postfixBinary();
  for (let attempt = 0; attempt < 5; attempt++) {
    const r = await startOnce(options, binary);
    if (r !== 'port-taken') return r;
  }
  throw new Error('postfix: no free port on 127.0.0.1 after 5 tries');
}
