// Message ids: time-sortable, [A-Za-z0-9_-] only, and never taken from user input unchecked.
import { randomBytes } from 'node:crypto';

declare const brand: unique symbol;
export type MessageId = string & { readonly [brand]: 'MessageId' };

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

let lastMs = 0;
let seq = 0;

/** Base-36 milliseconds (fixed width, so lexical order is time order), a sequence, and randomness. */
export function newMessageId(now: Date = new Date()): MessageId {
  const ms = now.getTime();
  seq = ms === lastMs ? seq + 1 : 0;
  lastMs = ms;
  const time = ms.toString(36).padStart(9, '0');
  const counter = seq.toString(36).padStart(3, '0');
  const rand = randomBytes(6).toString('base64url');
  return `${time}${counter}${rand}` as MessageId;
}

export function parseMessageId(input: string): MessageId | null {
  return ID_PATTERN.test(input) ? (input as MessageId) : null;
}
