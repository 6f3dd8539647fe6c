// The notice text language: `{{name}}` inserts a value, `{{#name}}…{{/name}}` keeps its text only when
// the value is non-empty (or true), `{{^name}}…{{/name}}` only when it is empty (or false). Nothing
// else, so a template an operator edits cannot run code or reach beyond the values it is given. Pure.

export type TemplateValues = Readonly<Record<string, string | boolean>>;

export interface NoticeTemplate {
  /** The Subject line, with the same placeholders. */
  readonly subject: string;
  readonly body: string;
}

const SECTION = /\{\{([#^])([A-Za-z][A-Za-z0-9]*)\}\}([\s\S]*?)\{\{\/\2\}\}/g;
const VARIABLE = /\{\{([A-Za-z][A-Za-z0-9]*)\}\}/g;

const truthy = (v: string | boolean | undefined): boolean => v === true || (typeof v === 'string' && v !== '');

export function renderTemplate(template: string, values: TemplateValues): string {
  // sections do not nest; unknown names render as empty so a typo shows as a gap, not as braces
  const sectioned = template.replace(SECTION, (_m, kind: string, name: string, inner: string) =>
    truthy(values[name]) === (kind === '#') ? inner : '',
  );
  return sectioned.replace(VARIABLE, (_m, name: string) => {
    const v = values[name];
    return typeof v === 'string' ? v : '';
  });
}

/**
 * A template file: an optional first line `Subject: …`, a blank line, then the body. Line endings are
 * normalised to \n (the MIME composer writes CRLF).
 */
export function parseTemplateFile(text: string): { readonly subject: string | null; readonly body: string } {
  const normalized = text.replace(/^\ufeff/, '').replace(/\r\n?/g, '\n');
  const m = /^Subject:[ \t]*(.*)\n\n/i.exec(normalized);
  if (!m) return { subject: null, body: normalized.trim() };
  return { subject: (m[1] ?? '').trim(), body: normalized.slice(m[0].length).trim() };
}
