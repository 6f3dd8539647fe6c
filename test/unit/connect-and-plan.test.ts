// policy/connect (who may reach the banner) and transaction/plan (who gets the message): pure tables.
import { describe, expect, it } from 'vitest';
import { decideConnect, type ConnectContext, type ConnectOutcome } from '../../src/policy/connect.js';
import { planRecipients, type AcceptedRecipient, type RecipientPlan } from '../../src/transaction/plan.js';

const LIMITS = { maxConnections: 10, maxConnectionsPerIp: 3, maxUnknownRecipientsPerIp: 5 };
const ctx = (over: Partial<ConnectContext>): ConnectContext => ({
  shuttingDown: false,
  unknownForIp: 0,
  openTotal: 0,
  openForIp: 0,
  limits: LIMITS,
  ...over,
});

describe('decideConnect', () => {
  it.each<[string, ConnectContext, ConnectOutcome]>([
    ['a first connection', ctx({}), { kind: 'proceed' }],
    ['one below every limit', ctx({ unknownForIp: 4, openTotal: 9, openForIp: 2 }), { kind: 'proceed' }],
    ['shutting down', ctx({ shuttingDown: true }), { kind: 'refuse', reason: 'shutting-down' }],
    [
      'shutting down wins over every limit',
      ctx({ shuttingDown: true, unknownForIp: 9, openTotal: 99, openForIp: 9 }),
      { kind: 'refuse', reason: 'shutting-down' },
    ],
    ['harvest budget used up', ctx({ unknownForIp: 5 }), { kind: 'refuse', reason: 'max-unknown-recipients-per-ip' }],
    [
      'harvest budget before the socket limits',
      ctx({ unknownForIp: 5, openTotal: 10, openForIp: 3 }),
      { kind: 'refuse', reason: 'max-unknown-recipients-per-ip' },
    ],
    ['maxConnections reached', ctx({ openTotal: 10 }), { kind: 'refuse', reason: 'max-connections' }],
    [
      'maxConnections before maxConnectionsPerIp',
      ctx({ openTotal: 10, openForIp: 3 }),
      { kind: 'refuse', reason: 'max-connections' },
    ],
    ['maxConnectionsPerIp reached', ctx({ openForIp: 3 }), { kind: 'refuse', reason: 'max-connections-per-ip' }],
    [
      '0 turns every limit off',
      {
        ...ctx({ unknownForIp: 99, openTotal: 999, openForIp: 99 }),
        limits: { maxConnections: 0, maxConnectionsPerIp: 0, maxUnknownRecipientsPerIp: 0 },
      },
      { kind: 'proceed' },
    ],
  ])('%s', (_name, input, expected) => {
    expect(decideConnect(input)).toEqual(expected);
  });
});

const deliver = (address: string, mailbox = address): AcceptedRecipient => ({
  kind: 'deliver',
  delivery: { address, mailbox },
});
const observe = (address: string, to = 'alice@example.test'): AcceptedRecipient => ({
  kind: 'observe',
  address,
  delivery: { address: to, mailbox: to, originalRecipient: address },
});
const quarantine = (address: string): AcceptedRecipient => ({ kind: 'quarantine', address });

describe('planRecipients', () => {
  it.each<[string, AcceptedRecipient[], RecipientPlan]>([
    [
      'nothing',
      [],
      { deliveries: [], delivered: [], observed: [], quarantined: [], rejected: [], entryRecipients: [], envelope: [] },
    ],
    [
      'known recipients, one of them twice through a subaddress',
      [
        deliver('alice@example.test'),
        deliver('alice+x@example.test', 'alice@example.test'),
        deliver('bob@example.test'),
      ],
      {
        deliveries: [
          { address: 'alice@example.test', mailbox: 'alice@example.test' },
          { address: 'alice+x@example.test', mailbox: 'alice@example.test' },
          { address: 'bob@example.test', mailbox: 'bob@example.test' },
        ],
        delivered: ['alice@example.test', 'alice+x@example.test', 'bob@example.test'],
        observed: [],
        quarantined: [],
        rejected: [],
        entryRecipients: [],
        envelope: ['alice@example.test', 'alice+x@example.test', 'bob@example.test'],
      },
    ],
    [
      'two observed addresses to one observe mailbox: one delivery each, with its original recipient',
      [observe('x@example.test'), observe('y@example.test')],
      {
        deliveries: [
          { address: 'alice@example.test', mailbox: 'alice@example.test', originalRecipient: 'x@example.test' },
          { address: 'alice@example.test', mailbox: 'alice@example.test', originalRecipient: 'y@example.test' },
        ],
        delivered: [],
        observed: ['x@example.test', 'y@example.test'],
        quarantined: [],
        rejected: [],
        entryRecipients: [],
        envelope: ['x@example.test', 'y@example.test'],
      },
    ],
    [
      'mixed: known, quarantined, observed',
      [deliver('bob@example.test'), quarantine('typo@example.test'), observe('z@other.test', 'carol@other.test')],
      {
        deliveries: [
          { address: 'bob@example.test', mailbox: 'bob@example.test' },
          { address: 'carol@other.test', mailbox: 'carol@other.test', originalRecipient: 'z@other.test' },
        ],
        delivered: ['bob@example.test'],
        observed: ['z@other.test'],
        quarantined: ['typo@example.test'],
        rejected: [],
        entryRecipients: [{ address: 'typo@example.test' }],
        envelope: ['bob@example.test', 'typo@example.test', 'z@other.test'],
      },
    ],
    [
      'the observe mailbox itself and an observed address: two deliveries to it',
      [deliver('alice@example.test'), observe('x@example.test'), deliver('alice@example.test')],
      {
        deliveries: [
          { address: 'alice@example.test', mailbox: 'alice@example.test' },
          { address: 'alice@example.test', mailbox: 'alice@example.test', originalRecipient: 'x@example.test' },
        ],
        delivered: ['alice@example.test', 'alice@example.test'],
        observed: ['x@example.test'],
        quarantined: [],
        rejected: [],
        entryRecipients: [],
        envelope: ['alice@example.test', 'x@example.test', 'alice@example.test'],
      },
    ],
    [
      'reject-after-data recipients, with their DSN parameters',
      [
        {
          kind: 'reject-after-data',
          address: 'a@example.test',
          dsn: { notify: ['FAILURE'], orcpt: 'rfc822;A@example.test' },
        },
        { kind: 'reject-after-data', address: 'b@example.test' },
      ],
      {
        deliveries: [],
        delivered: [],
        observed: [],
        quarantined: [],
        rejected: ['a@example.test', 'b@example.test'],
        entryRecipients: [
          { address: 'a@example.test', dsn: { notify: ['FAILURE'], orcpt: 'rfc822;A@example.test' } },
          { address: 'b@example.test' },
        ],
        envelope: ['a@example.test', 'b@example.test'],
      },
    ],
  ])('%s', (_name, accepted, expected) => {
    expect(planRecipients(accepted)).toEqual(expected);
  });
});
