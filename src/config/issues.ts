import type { ZodIssue } from 'zod';

/** One thing wrong with a configuration, named by its key path (`domains[0].unknownRecipients`). */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out || '(root)';
}

export function issueFromZod(issue: ZodIssue): ConfigIssue[] {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown key' }));
    case 'invalid_enum_value':
      return [{ path: formatPath(issue.path), message: `expected one of ${issue.options.join(', ')}` }];
    case 'invalid_type':
      return [
        {
          path: formatPath(issue.path),
          message: issue.received === 'undefined' ? 'required' : `expected ${issue.expected}, got ${issue.received}`,
        },
      ];
    case 'invalid_union':
      // size and duration fields are unions of number and string; say what they take instead of zod's union dump
      return [{ path: formatPath(issue.path), message: 'expected a number or a string with a unit' }];
    default:
      return [{ path: formatPath(issue.path), message: issue.message }];
  }
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('\n');
}
