// Which outbox lane a committed entry goes to (src/notice/lane.ts).
import { describe, expect, it } from 'vitest';
import { laneOf } from '../../src/notice/lane.js';
import type { NoticeState } from '../../src/quarantine/entry.js';

describe('laneOf', () => {
  it.each<[NoticeState['status'], 'notice' | 'evidence']>([
    ['pending', 'notice'],
    ['sending', 'evidence'],
    ['sent', 'evidence'],
    ['suppressed', 'evidence'],
    ['failed', 'evidence'],
    ['not-needed', 'evidence'],
  ])('%s → %s', (status, lane) => expect(laneOf({ notice: { status, attempts: 0 } })).toBe(lane));
});
