import { describe, expect, it } from 'vitest';
import {
  describeTally,
  evaluateVote,
  feasible,
  type QuorumRule,
  tally,
  type Vote,
} from '../../src/policy/quorum.js';

/**
 * The quorum as pure functions. People: Dave is in @sre and @security, Bob and Sam in @sre only,
 * Sue in @security only, Rita the requester in @sre.
 */

const SRE: QuorumRule = { label: '@sre', count: 1 };
const SECURITY: QuorumRule = { label: '@security', count: 1 };
const sreAndSecurity = [SRE, SECURITY];

const dave: Vote = { user: 'dave', eligible: [0, 1] };
const bob: Vote = { user: 'bob', eligible: [0] };
const sam: Vote = { user: 'sam', eligible: [0] };
const sue: Vote = { user: 'sue', eligible: [1] };

describe('tally', () => {
  it.each<[string, QuorumRule[], Vote[], { met: boolean; have: number[]; stillNeeded: string[] }]>([
    ['no votes', sreAndSecurity, [], { met: false, have: [0, 0], stillNeeded: ['@sre', '@security'] }],
    ['one rule, one vote', [SRE], [bob], { met: true, have: [1], stillNeeded: [] }],
    [
      'Dave alone fills the first rule he may',
      sreAndSecurity,
      [dave],
      { met: false, have: [1, 0], stillNeeded: ['@security'] },
    ],
    [
      'Dave then Bob: Dave moves to @security',
      sreAndSecurity,
      [dave, bob],
      { met: true, have: [1, 1], stillNeeded: [] },
    ],
    ['Bob then Dave', sreAndSecurity, [bob, dave], { met: true, have: [1, 1], stillNeeded: [] }],
    [
      'Bob and Sam both only @sre',
      sreAndSecurity,
      [bob, sam],
      { met: false, have: [1, 0], stillNeeded: ['@security'] },
    ],
    [
      'a person counts once, however often they vote',
      [{ label: '@sre', count: 2 }],
      [bob, bob, { user: 'bob', eligible: [0] }],
      { met: false, have: [1], stillNeeded: ['@sre'] },
    ],
    [
      'counts above one fill with different people',
      [{ label: '@sre', count: 2 }, SECURITY],
      [dave, bob, sam],
      { met: true, have: [2, 1], stillNeeded: [] },
    ],
    [
      'a long chain of moves: each newcomer pushes the one before along',
      [
        { label: '@a', count: 1 },
        { label: '@b', count: 1 },
        { label: '@c', count: 1 },
      ],
      [
        { user: 'x', eligible: [0, 1, 2] },
        { user: 'y', eligible: [0, 1] },
        { user: 'z', eligible: [0] },
      ],
      { met: true, have: [1, 1, 1], stillNeeded: [] },
    ],
    [
      'a vote eligible for nothing adds nothing',
      [SRE],
      [{ user: 'eve', eligible: [] }],
      { met: false, have: [0], stillNeeded: ['@sre'] },
    ],
    [
      'rule indexes out of range are ignored',
      [SRE],
      [{ user: 'eve', eligible: [3, -1] }],
      { met: false, have: [0], stillNeeded: ['@sre'] },
    ],
    ['no rules is never met', [], [bob], { met: false, have: [], stillNeeded: [] }],
  ])('%s', (_name, rules, votes, expected) => {
    const result = tally(rules, votes);
    expect({
      met: result.met,
      have: result.perRule.map((r) => r.have),
      stillNeeded: result.stillNeeded,
    }).toEqual(expected);
    expect(result.perRule.map((r) => r.need)).toEqual(rules.map((rule) => rule.count));
  });

  it('says which rule each counted voter fills', () => {
    expect(tally(sreAndSecurity, [dave, bob]).assignment).toEqual([
      { user: 'dave', rule: 1 },
      { user: 'bob', rule: 0 },
    ]);
    expect(tally(sreAndSecurity, [bob, sam]).assignment).toEqual([{ user: 'bob', rule: 0 }]);
  });

  it('describes itself in one line', () => {
    expect(describeTally(tally(sreAndSecurity, [dave]))).toBe('1 of 2 · still needs @security');
    expect(describeTally(tally([{ label: '@sre', count: 3 }], [bob]))).toBe(
      '1 of 3 · still needs 2 from @sre',
    );
    expect(describeTally(tally(sreAndSecurity, [dave, bob]))).toBe('2 of 2');
  });
});

describe('evaluateVote', () => {
  const decide = (rules: QuorumRule[], votes: Vote[], voter: Vote, requesterCounts = false) =>
    evaluateVote(rules, votes, voter, 'rita', requesterCounts);

  it.each<[string, QuorumRule[], Vote[], Vote, boolean, string]>([
    [
      'the same person again',
      sreAndSecurity,
      [bob],
      { user: 'bob', eligible: [0] },
      false,
      'you already approved',
    ],
    [
      'the requester where four eyes apply',
      sreAndSecurity,
      [],
      { user: 'rita', eligible: [0] },
      false,
      'you asked for it, and four eyes apply: someone other than the requester must approve it',
    ],
    [
      'someone in none of the roles',
      sreAndSecurity,
      [],
      { user: 'eve', eligible: [] },
      false,
      'you are not allowed to approve it: you are in none of the roles it needs (@sre, @security)',
    ],
    [
      'a rule already met by someone who cannot move',
      sreAndSecurity,
      [bob],
      sam,
      false,
      '@sre is already met; still needs @security',
    ],
    [
      'several full rules, and a count still short',
      [SRE, SECURITY, { label: '@dba', count: 2 }],
      [bob, sue],
      dave,
      false,
      '@sre and @security are already met; still needs 2 from @dba',
    ],
    [
      'the quorum already met',
      sreAndSecurity,
      [bob, sue],
      dave,
      false,
      'it already has every approval it needs',
    ],
  ])('refuses %s', (_name, rules, votes, voter, requesterCounts, reason) => {
    const decision = decide(rules, votes, voter, requesterCounts);
    expect(decision).toMatchObject({ accepted: false, reason });
    // A refusal reports the tally as it stands, unchanged.
    expect(decision.tally).toEqual(tally(rules, votes));
  });

  it('accepts a vote that makes a person move over, and says the quorum is met', () => {
    const first = decide(sreAndSecurity, [], dave);
    expect(first).toMatchObject({ accepted: true, met: false });
    expect(first.tally.stillNeeded).toEqual(['@security']);
    const second = decide(sreAndSecurity, [dave], bob);
    expect(second).toMatchObject({ accepted: true, met: true });
    expect(second.tally.assignment).toEqual([
      { user: 'dave', rule: 1 },
      { user: 'bob', rule: 0 },
    ]);
  });

  it('counts the requester where policy allows it, once and toward one rule', () => {
    const rita: Vote = { user: 'rita', eligible: [0] };
    expect(decide(sreAndSecurity, [], rita, true)).toMatchObject({ accepted: true, met: false });
    expect(decide(sreAndSecurity, [rita], sam, true)).toMatchObject({
      accepted: false,
      reason: '@sre is already met; still needs @security',
    });
    expect(decide([SRE], [], rita, true)).toMatchObject({ accepted: true, met: true });
  });

  it('lets anyone fill a rule whose role is everyone', () => {
    const anyone: QuorumRule = { label: '@everyone', count: 2 };
    expect(decide([anyone], [{ user: 'x', eligible: [0] }], { user: 'y', eligible: [0] })).toMatchObject({
      accepted: true,
      met: true,
    });
  });
});

describe('feasible', () => {
  const everyone = '*' as const;
  const people = (...users: string[]) => new Set(users);

  it.each<[string, QuorumRule[], Array<Set<string> | '*'>, boolean, string | undefined]>([
    ['one member besides the requester', [SRE], [people('rita', 'bob')], false, undefined],
    [
      'only the requester, four eyes',
      [SECURITY],
      [people('rita')],
      false,
      '@security has no member besides the requester',
    ],
    ['only the requester, who may approve', [SECURITY], [people('rita')], true, undefined],
    ['an empty role', [SECURITY], [people()], true, '@security has no member'],
    [
      'a count above the members',
      [{ label: '@sre', count: 3 }],
      [people('rita', 'bob', 'sam')],
      false,
      '@sre needs 3 approvals but has only 2 members besides the requester',
    ],
    [
      'overlapping rules with enough people',
      sreAndSecurity,
      [people('dave', 'bob'), people('dave')],
      false,
      undefined,
    ],
    [
      'overlapping rules short of people',
      sreAndSecurity,
      [people('dave'), people('dave')],
      false,
      '@sre and @security need 2 different people, but have only 1 between them besides the requester',
    ],
    [
      'the clash names only the rules that clash',
      [
        { label: '@a', count: 1 },
        { label: '@b', count: 1 },
        { label: '@c', count: 2 },
      ],
      [people('u1'), people('u1'), people('u2', 'u3', 'u4')],
      true,
      '@a and @b need 2 different people, but have only 1 between them',
    ],
    [
      'a rule open to everyone never clashes',
      [SRE, { label: '@everyone', count: 5 }],
      [people('bob'), everyone],
      false,
      undefined,
    ],
    ['every rule open to everyone', [SRE, SECURITY], [everyone, everyone], false, undefined],
    ['no rules at all', [], [], false, 'it has no approval rules'],
  ])('%s', (_name, rules, members, requesterCounts, reason) => {
    const verdict = feasible(rules, members, 'rita', requesterCounts);
    expect(verdict).toEqual(reason === undefined ? { ok: true } : { ok: false, reason });
  });
});
