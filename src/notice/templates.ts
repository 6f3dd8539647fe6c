// Where the notice texts come from: `<notices.templatesDir>/<language>.txt` if the operator wrote one,
// else the file shipped in config/templates/, else a built-in copy of it (a container that mounts
// its own config directory over /app/config hides the shipped files).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_TEMPLATES } from './builtin-templates.js';
import { parseTemplateFile, type NoticeTemplate } from './render.js';

export type NoticeLanguage = 'en' | 'de';

/** config/templates beside src/ and dist/ alike. */
export const SHIPPED_TEMPLATES_DIR = fileURLToPath(new URL('../../config/templates/', import.meta.url));

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return null;
  }
}

/** Never throws: a missing or unreadable override falls back to the shipped text. */
export async function loadNoticeTemplate(
  language: NoticeLanguage,
  templatesDir?: string,
  shippedDir: string = SHIPPED_TEMPLATES_DIR,
): Promise<NoticeTemplate> {
  const builtin = parseTemplateFile(BUILTIN_TEMPLATES[language]);
  const fallbackSubject = builtin.subject ?? '';
  for (const dir of [templatesDir, shippedDir]) {
    if (!dir) continue;
    const text = await readIfPresent(path.join(dir, `${language}.txt`));
    if (text === null) continue;
    const parsed = parseTemplateFile(text);
    if (parsed.body === '') continue;
    return { subject: parsed.subject ?? fallbackSubject, body: parsed.body };
  }
  return { subject: fallbackSubject, body: builtin.body };
}
