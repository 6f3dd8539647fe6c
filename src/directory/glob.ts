// Local-part globs (`shop-*`, `team?`) compiled once into one case-insensitive matcher. Pure.

export function isGlob(entry: string): boolean {
  return entry.includes('*') || entry.includes('?');
}

function globToRegexSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return out;
}

/** One regex for all patterns of a domain: a single scan instead of one per pattern. */
export function compileGlobs(globs: readonly string[]): ((localPart: string) => string | null) | null {
  if (globs.length === 0) return null;
  const lowered = globs.map((g) => g.toLowerCase());
  const combined = new RegExp(`^(?:${lowered.map((g) => `(${globToRegexSource(g)})`).join('|')})$`, 's');
  return (localPart) => {
    const m = combined.exec(localPart);
    if (!m) return null;
    const index = m.slice(1).findIndex((g) => g !== undefined);
    return lowered[index] ?? null;
  };
}
