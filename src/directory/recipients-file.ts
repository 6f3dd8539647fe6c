// Text of a recipients file → entries. One entry a line, `#` starts a comment, blank lines ignored. Pure.

export function parseRecipientsFile(text: string): string[] {
  const entries: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const hash = line.indexOf('#');
    const entry = (hash >= 0 ? line.slice(0, hash) : line).trim();
    if (!entry) continue;
    // a full address is accepted too; the file belongs to one domain, so only its local-part counts
    const at = entry.lastIndexOf('@');
    entries.push((at > 0 ? entry.slice(0, at) : entry).toLowerCase());
  }
  return entries;
}
