// The DSN extension's parameters (RFC 3461) as smtp-server hands them over, made into values. Pure.

export interface MailDsn {
  /** ENVID, xtext-decoded: the sender's own id of the transaction, returned in Original-Envelope-Id. */
  readonly envid?: string;
  readonly ret?: 'HDRS' | 'FULL';
}

export interface RcptDsn {
  /** NEVER, or any of SUCCESS, FAILURE, DELAY. */
  readonly notify?: readonly string[];
  /** ORCPT, `addr-type;address` with the address xtext-decoded: returned in Original-Recipient. */
  readonly orcpt?: string;
}

/** RFC 3461 §4: `+` and two upper-case hex digits stand for one octet; anything malformed stays as it is. */
export function decodeXtext(s: string): string {
  return s.replace(/\+([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Printable ASCII only, at most 100 characters (RFC 3461 §4.4 bounds ENVID to 100): it goes into headers. */
const headerSafe = (s: string, max: number): string => s.replace(/[^\x20-\x7e]/g, '').slice(0, max);

type Params = Readonly<Record<string, string | boolean>>;
const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** The MAIL FROM parameters of the extension; null when the client used none of them. */
export function mailDsn(params: Params): MailDsn | null {
  const envid = str(params['ENVID']);
  const ret = str(params['RET'])?.toUpperCase();
  if (envid === undefined && ret === undefined) return null;
  return {
    ...(envid !== undefined ? { envid: headerSafe(decodeXtext(envid), 100) } : {}),
    ...(ret === 'HDRS' || ret === 'FULL' ? { ret } : {}),
  };
}

/** The RCPT TO parameters of the extension; null when the client used none of them. */
export function rcptDsn(params: Params): RcptDsn | null {
  const notify = str(params['NOTIFY']);
  const orcpt = str(params['ORCPT']);
  if (notify === undefined && orcpt === undefined) return null;
  const semi = orcpt?.indexOf(';') ?? -1;
  return {
    ...(notify !== undefined ? { notify: notify.toUpperCase().split(',') } : {}),
    ...(orcpt !== undefined && semi > 0
      ? { orcpt: headerSafe(`${orcpt.slice(0, semi)};${decodeXtext(orcpt.slice(semi + 1))}`, 500) }
      : {}),
  };
}

/** RFC 3461 §4.1: a failure report is wanted unless NOTIFY was given without FAILURE. */
export function wantsFailureReport(
  dsn: { readonly notify?: readonly string[] | undefined } | null | undefined,
): boolean {
  return dsn?.notify === undefined || dsn.notify.includes('FAILURE');
}
