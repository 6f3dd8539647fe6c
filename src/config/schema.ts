// The one description of the configuration file (SPEC §3). Types come from it; defaults live in it.
import { z } from 'zod';
import { toAsciiDomain } from '../address/parse.js';
import { trustedEntryProblem } from '../address/trusted-proxies.js';
import { unreachableRuleProblem } from '../address/unreachable-rule.js';
import { ageRecipientProblem } from './age-recipient.js';
import { parseDuration, parseSize } from './units.js';

const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const r = parseSize(v);
  if (!r.ok) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.error });
    return z.NEVER;
  }
  return r.value;
});

/** Durations come out in milliseconds. */
const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const r = parseDuration(v);
  if (!r.ok) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.error });
    return z.NEVER;
  }
  return r.value;
});

const count = z.number().int().nonnegative();
const port = z.number().int().min(0).max(65535);
const nonEmpty = z.string().min(1);

const listen = z.object({ host: nonEmpty.default('0.0.0.0'), port: port.default(2525) }).strict();

const tls = z
  .object({
    key: nonEmpty,
    cert: nonEmpty,
  })
  .strict();

const smtpAuth = z.object({ user: nonEmpty, pass: z.string() }).strict();

export const serverSchema = z
  .object({
    hostname: nonEmpty.regex(/^[A-Za-z0-9.-]+$/, 'expected a host name such as mx.example.org').default('localhost'),
    listen: listen.default({}),
    maxConnections: count.default(500),
    maxConnectionsPerIp: count.default(20),
    socketTimeout: duration.pipe(z.number().min(1000, 'at least 1s')).default('60s'),
    dataTimeout: duration.pipe(z.number().min(1000, 'at least 1s')).default('10m'),
    sessionTimeout: duration.pipe(z.number().min(1000, 'at least 1s')).default('30m'),
    greetDelay: duration.pipe(z.number().max(60_000, 'at most 60s')).default('100ms'),
    maxMessageSize: size.pipe(z.number().min(1024, 'at least 1KB')).default('25MB'),
    maxRecipients: count.min(1).default(100),
    maxUnknownRecipients: count.default(10),
    maxUnknownRecipientsPerIp: count.default(100),
    disableReverseLookup: z.boolean().default(true),
    /** SMTP worker processes sharing the port (src/cluster/); `auto`: one per CPU. 1: one process, no cluster. */
    // not a z.union: issues.ts words every union as a size or a duration
    workers: z
      .unknown()
      .transform((v, ctx): number | 'auto' => {
        if (v === 'auto' || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 256)) return v;
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a number of processes (1 to 256) or auto' });
        return z.NEVER;
      })
      .default(1),
    tls: tls.optional(),
    /**
     * Connections from these addresses and CIDR ranges (a load balancer, a proxy) must start with a
     * PROXY protocol v1 header, whose client address counts instead of the peer's; nobody else's is read.
     */
    proxyProtocol: z
      .object({
        trusted: z
          .array(
            z.string().superRefine((entry, ctx) => {
              const problem = trustedEntryProblem(entry);
              if (problem !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
            }),
          )
          .min(1, 'list the addresses of the proxies that send the header'),
      })
      .strict()
      .optional(),
  })
  .strict();

/** A date (`2027-01-15`, midnight UTC) or a date-time; YAML may hand either over as a Date. */
const date = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const ms = v instanceof Date ? v.getTime() : Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a date such as 2027-01-15' });
    return z.NEVER;
  }
  return ms;
});

/** A sender domain, glob allowed (`*.hp.example`). */
const senderDomainPattern = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9*?.-]+$/, 'expected a domain such as hp.example or *.hp.example');

/** A `moved` rule's new address, in the shape of one. */
const MOVED_TO = /^[^\s<>@]+@[^\s<>@]+$/;

/** SPEC §3 `domains[].addresses`: one local-part (or glob) and what to do with it. */
export const addressRuleSchema = z
  .object({
    address: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^\s@]+$/, 'expected a local-part without "@" or spaces'),
    action: z.enum(['accept', 'reject', 'moved', 'defer', 'quarantine']).default('accept'),
    /** moved: the new address, named in the 551 reply. */
    to: z
      .string()
      .regex(MOVED_TO, 'expected an address such as jane@new.example')
      // the 551 names it to every client, most without SMTPUTF8: an IDN domain goes as its A-label
      // (smtp/replies.ts), a local-part has no such form
      .refine(
        (v) => !MOVED_TO.test(v) || /^[\x21-\x7e]+@/.test(v),
        'the local-part must be ASCII: a client without SMTPUTF8 could not be told the address',
      )
      .refine(
        (v) => !MOVED_TO.test(v) || toAsciiDomain(v.slice(v.lastIndexOf('@') + 1)) !== '',
        'the domain is not a valid domain name',
      )
      .optional(),
    /** defer: 450 until this date, then the address is unknown. */
    until: date.optional(),
    /** accept: known only for mail whose envelope sender domain matches one of these. */
    from: z.array(senderDomainPattern).min(1).optional(),
    /** RFC 7293: since when the present owner holds the mailbox. */
    ownerSince: date.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.action === 'moved' && r.to === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['to'], message: 'required when action is moved' });
    if (r.action === 'defer' && r.until === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['until'], message: 'required when action is defer' });
    if (r.from !== undefined && r.action !== 'accept')
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['from'], message: 'only with action accept' });
    // SPEC §4: postmaster is always known; a rule for it would be silently dead (with the domain's
    // subaddress separator, configSchema also refuses postmaster+x and alice+x)
    const dead = unreachableRuleProblem(r.address, '');
    if (dead !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['address'], message: dead });
  });

/** A known local-part or glob, as in `recipients` and each line of a recipients file. */
export const localPartPattern = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[^\s@]+$/, 'expected a local-part without "@" or spaces');

export const domainSchema = z
  .object({
    name: nonEmpty,
    unknownRecipients: z.enum(['reject', 'reject-after-data', 'quarantine', 'observe']).default('reject'),
    recipients: z.array(localPartPattern).default([]),
    recipientsFile: nonEmpty.optional(),
    subaddressSeparator: z.string().max(1, 'expected one character, or "" to turn subaddressing off').default('+'),
    observeMailbox: nonEmpty.optional(),
    /** RFC 7293: since when the present owner holds the domain. */
    ownerSince: date.optional(),
    addresses: z.array(addressRuleSchema).default([]),
    /** SPEC §3: ask the upstream mailbox server (delivery.smtp) about local-parts the directory does not know. */
    verify: z
      .object({
        upstream: z.boolean().default(false),
        positiveTtl: duration.pipe(z.number().min(1, 'at least 1ms')).default('7d'),
        negativeTtl: duration.pipe(z.number().min(1, 'at least 1ms')).default('1h'),
      })
      .strict()
      .optional(),
  })
  .strict();

const deliverySmtp = z
  .object({
    host: nonEmpty,
    port: port.default(25),
    secure: z.boolean().default(false),
    requireTLS: z.boolean().default(false),
    auth: smtpAuth.optional(),
    timeout: duration.default('60s'),
    /** How the upstream's certificate is checked; see README "delivery". */
    tls: z
      .object({
        /** Default: on when `secure` or `requireTLS` is set, or `ca` is given. */
        verify: z.boolean().optional(),
        /** PEM file beside the config: the CA(s) to trust instead of the public ones. */
        ca: nonEmpty.optional(),
        /** The name the certificate must carry (and SNI), when `host` is an address or an alias. */
        servername: nonEmpty.regex(/^[A-Za-z0-9.-]+$/, 'expected a host name such as mail.owner.example').optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export const deliverySchema = z
  .object({
    type: z.enum(['maildir', 'smtp']).default('maildir'),
    maildir: z
      .object({ path: nonEmpty.default('mail') })
      .strict()
      .default({}),
    smtp: deliverySmtp.optional(),
  })
  .strict();

export const quarantineSchema = z
  .object({
    path: nonEmpty.default('quarantine'),
    retention: duration.default('14d'),
    storeBody: z.boolean().default(true),
    /** Past this many bytes, quarantine decisions answer 452 4.3.1 until retention makes room; 0: no quota. */
    maxSize: size.default('1GB'),
    /** An age X25519 recipient (`age1…`): every stored message is encrypted to it (SPEC §5). */
    sealTo: z
      .string()
      .transform((v) => v.trim())
      .superRefine((v, ctx) => {
        const problem = ageRecipientProblem(v);
        if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      })
      .optional(),
    /**
     * With sealTo, a quarantined message stays in memory until it is sealed: all such transactions of
     * one process together hold at most this much (each reserves maxMessageSize, or its SIZE=).
     */
    sealedSpoolMemory: size.pipe(z.number().min(1024, 'at least 1KB')).default('256MB'),
  })
  .strict();

const noticeTransport = z
  .object({
    type: z.enum(['direct', 'smtp']).default('direct'),
    host: nonEmpty.optional(),
    port: port.default(25),
    secure: z.boolean().default(false),
    requireTLS: z.boolean().default(false),
    auth: smtpAuth.optional(),
  })
  .strict();

export const noticesSchema = z
  .object({
    enabled: z.boolean().default(true),
    format: z.enum(['dsn', 'plain']).default('dsn'),
    from: nonEmpty.default('postmaster'),
    language: z.enum(['en', 'de']).default('en'),
    templatesDir: nonEmpty.optional(),
    requireSenderAuth: z.enum(['spf', 'dmarc', 'none']).default('spf'),
    perSenderInterval: duration.default('24h'),
    maxPerHour: count.default(200),
    /** Who the sender's organisation can write to about a notice (SPEC §6); named in the readable part. */
    contact: nonEmpty.optional(),
    /** DKIM-sign notices for the From: domain (RFC 6376); the key file sits beside the config. */
    dkim: z
      .object({
        selector: nonEmpty.regex(
          /^[A-Za-z0-9][A-Za-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9-]*)*$/,
          'expected a DKIM selector such as cg2026',
        ),
        privateKey: nonEmpty,
      })
      .strict()
      .optional(),
    transport: noticeTransport.default({}),
  })
  .strict();

/** "host", "host:port" or "[v6]:port"; port 53 when omitted. */
const dnsServer = nonEmpty.regex(
  /^(\[[0-9A-Fa-f:.]+\](:\d{1,5})?|[0-9A-Fa-f:]+|[A-Za-z0-9.-]+(:\d{1,5})?)$/,
  'expected "host", "host:port" or "[v6]:port"',
);

export const dnsSchema = z
  .object({
    /** Resolvers for SPF/DMARC, notice MX look-ups and doctor; the system's when omitted. */
    servers: z.array(dnsServer).min(1).optional(),
    timeout: duration.pipe(z.number().min(100, 'at least 100ms')).default('5s'),
  })
  .strict();

/** What instances and workers share (src/state/): `memory` on one host, `redis` (or Valkey) across MX hosts. */
export const stateSchema = z
  .object({
    type: z.enum(['memory', 'redis']).default('memory'),
    url: nonEmpty
      .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0')
      .optional(),
    prefix: z.string().max(64, 'at most 64 characters').default('cg:'),
    /** One Redis operation; past it the instance answers from its own memory until Redis is back. */
    timeout: duration.pipe(z.number().min(10, 'at least 10ms').max(60_000, 'at most 60s')).default('2s'),
  })
  .strict();

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The JSON log into rotated files instead of stdout: `<path>` → `<name>.1.log`, `.2.log`, … (pino-roll). */
const logFile = z
  .object({
    // pino-roll refuses these (Windows file-name rules); said here, at validation, not at the first write
    path: nonEmpty.regex(/^[^<>"|?*:\0]+$/, 'expected a file path without < > " | ? * or :'),
    maxSize: size.pipe(z.number().min(1024, 'at least 1KB')).default('50MB'),
    /** Files kept, the one being written included; the oldest goes at each rotation. */
    keep: count.min(1).default(20),
  })
  .strict();

export const configSchema = z
  .object({
    /**
     * Base of the relative data paths (Maildir, quarantine, spool); relative to the configuration
     * file's directory, so every command given the same --config finds the same data whatever its
     * working directory. CATCHALL_GUARD_DATA_DIR wins; neither set: ./data of the working directory.
     */
    dataDir: nonEmpty.optional(),
    server: serverSchema.default({}),
    domains: z.array(domainSchema).min(1, 'at least one served domain is required'),
    delivery: deliverySchema.default({}),
    quarantine: quarantineSchema.default({}),
    notices: noticesSchema.default({}),
    dns: dnsSchema.default({}),
    state: stateSchema.default({}),
    log: z
      .object({ level: z.enum(LOG_LEVELS).default('info'), file: logFile.optional() })
      .strict()
      .default({}),
    http: z
      .object({ listen: listen.extend({ host: nonEmpty.default('127.0.0.1'), port: port.default(9025) }).strict() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    // duplicate domains are found in load.ts, after IDN and trailing-dot normalization
    cfg.domains.forEach((d, i) => {
      if (d.unknownRecipients === 'observe' && !d.observeMailbox) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['domains', i, 'observeMailbox'],
          message: 'required when unknownRecipients is observe',
        });
      }
    });
    cfg.domains.forEach((d, i) => {
      // a rule for postmaster's (or anyone's) subaddress never applies: rules match without it
      d.addresses.forEach((r, j) => {
        const dead = d.subaddressSeparator ? unreachableRuleProblem(r.address, d.subaddressSeparator) : null;
        if (dead !== null && r.address.toLowerCase() !== 'postmaster')
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['domains', i, 'addresses', j, 'address'], message: dead });
      });
    });
    cfg.domains.forEach((d, i) => {
      // the probe asks the server mail is delivered to; with Maildir delivery there is none to ask
      if (d.verify?.upstream === true && (cfg.delivery.type !== 'smtp' || !cfg.delivery.smtp)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['domains', i, 'verify', 'upstream'],
          message: 'needs delivery.type smtp and delivery.smtp (the mailbox server to ask)',
        });
      }
    });
    // a sealed message is held whole in memory: a budget smaller than one message would refuse them all
    if (cfg.quarantine.sealTo !== undefined && cfg.quarantine.sealedSpoolMemory < cfg.server.maxMessageSize) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['quarantine', 'sealedSpoolMemory'],
        message: `at least server.maxMessageSize (${cfg.server.maxMessageSize} bytes) when quarantine.sealTo is set: each sealed transaction holds up to that much in memory`,
      });
    }
    if (cfg.delivery.type === 'smtp' && !cfg.delivery.smtp) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['delivery', 'smtp'],
        message: 'required when delivery.type is smtp',
      });
    }
    if (cfg.state.type === 'redis' && !cfg.state.url) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['state', 'url'],
        message: 'required when state.type is redis',
      });
    }
    if (cfg.notices.transport.type === 'smtp' && !cfg.notices.transport.host) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['notices', 'transport', 'host'],
        message: 'required when notices.transport.type is smtp',
      });
    }
  });

/** The configuration as written, after defaults and units: sizes in bytes, durations in milliseconds. */
export type FileConfig = z.output<typeof configSchema>;
export type DomainFileConfig = FileConfig['domains'][number];
