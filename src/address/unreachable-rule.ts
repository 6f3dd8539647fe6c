// Address rules that can never apply (SPEC §4): postmaster is always known, before any rule, and rules
// are matched on the local-part without its subaddress, so a rule for `postmaster`, for `postmaster+x`
// (with `+` as the domain's separator) or for `alice+x` is silently dead. A dead rule is a mistake the
// operator must hear about: the config (domains[].addresses) and the recipients file refuse it.

/**
 * Why a rule for `address` (a local-part or glob) never applies in a domain whose subaddress separator
 * is `separator` ('' = subaddressing off); null when it can apply.
 */
export function unreachableRuleProblem(address: string, separator: string): string | null {
  const lower = address.toLowerCase();
  if (lower === 'postmaster') return 'postmaster is always known; no rule applies to it';
  // a separator at the very start is part of the local-part (`+x` has no base): only later ones cut
  const sep = separator ? lower.indexOf(separator) : -1;
  if (sep <= 0) return null;
  const base = lower.slice(0, sep);
  if (base === 'postmaster')
    return `${lower} is postmaster with a subaddress: postmaster is always known; no rule applies to it`;
  // a glob whose part before the separator may be empty (`*+x`) can still meet a local-part starting with it
  if (/^\*+$/.test(base)) return null;
  return (
    `rules match the local-part without its subaddress ("${separator}…"), so a rule for ${lower} never ` +
    `applies; write it for ${base}, or set subaddressSeparator: "" to match whole local-parts`
  );
}
