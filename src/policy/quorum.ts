import type { Permission } from './model.js';

/**
 * Approval rules with a quorum, as pure functions. Each rule wants `count` different people from
 * its role; all rules must be met; a person counts once, toward one rule. Which rule a voter
 * counts toward is not fixed at click time: every tally assigns voters to rules by a maximum
 * bipartite matching with capacities (rule i has `count_i` slots, a voter may fill one slot of any
 * rule they are eligible for), so overlapping rules cannot deadlock. With rules @sre ×1 and
 * @security ×1, Dave (in both) then Bob (in @sre only) meet the quorum: Dave moves to @security.
 *
 * A vote's `eligible` list (the indexes of the rules the voter may fill) is worked out once, when
 * the voter clicks (it needs group lookups), and stored with the vote, so re-tallying needs none.
 */

export interface QuorumRule {
  /** How messages name it: `@sre`. */
  label: string;
  count: number;
}

export interface Vote {
  user: string;
  /** Indexes into the rules of the rules this voter may count toward. */
  eligible: readonly number[];
}

export interface RuleTally {
  rule: string;
  have: number;
  need: number;
}

export interface Tally {
  /** Every rule has its count (never true for an empty rule list). */
  met: boolean;
  perRule: RuleTally[];
  /** Labels of the rules still short of their count, in rule order. */
  stillNeeded: string[];
  /** Which rule each counted voter fills; a voter absent here adds nothing. */
  assignment: Array<{ user: string; rule: number }>;
}

export type VoteDecision =
  | { accepted: true; tally: Tally; met: boolean }
  | { accepted: false; reason: string; tally: Tally };

/** Counts the votes (a person's later votes are ignored) against the rules. */
export function tally(rules: readonly QuorumRule[], votes: readonly Vote[]): Tally {
  const voters = firstVoteEach(rules, votes);
  const ruleOf = assign(
    rules.map((rule) => rule.count),
    voters,
  );
  const have = rules.map(() => 0);
  for (const rule of ruleOf) if (rule !== undefined) have[rule]! += 1;
  const perRule = rules.map((rule, i) => ({ rule: rule.label, have: have[i]!, need: rule.count }));
  const short = perRule.filter((entry) => entry.have < entry.need);
  return {
    met: rules.length > 0 && short.length === 0,
    perRule,
    stillNeeded: short.map((entry) => entry.rule),
    assignment: voters.flatMap((voter, i) => {
      const rule = ruleOf[i];
      return rule === undefined ? [] : [{ user: voter.user, rule }];
    }),
  };
}

/**
 * Whether a click counts: accepted with the new tally, or refused with the reason in words. A click
 * is refused when it would add nothing (the same person again, the requester where four eyes
 * apply, someone in none of the roles, or rules that are already met by people who cannot move).
 */
export function evaluateVote(
  rules: readonly QuorumRule[],
  votes: readonly Vote[],
  voter: Vote,
  requester: string,
  requesterCounts: boolean,
): VoteDecision {
  const before = tally(rules, votes);
  const refuse = (reason: string): VoteDecision => ({ accepted: false, reason, tally: before });
  if (votes.some((vote) => vote.user === voter.user)) return refuse('you already approved');
  if (voter.user === requester && !requesterCounts)
    return refuse('you asked for it, and four eyes apply: someone other than the requester must approve it');
  const eligible = validRules(rules, voter.eligible);
  if (eligible.length === 0)
    return refuse(
      `you are not allowed to approve it: you are in none of the roles it needs (${rules.map((rule) => rule.label).join(', ')})`,
    );
  if (before.met) return refuse('it already has every approval it needs');
  const after = tally(rules, [...votes, { user: voter.user, eligible }]);
  if (after.assignment.length === before.assignment.length) {
    const full = eligible.map((i) => rules[i]!.label);
    return refuse(
      `${joinAnd(full)} ${full.length === 1 ? 'is' : 'are'} already met; still needs ${missing(before)}`,
    );
  }
  return { accepted: true, tally: after, met: after.met };
}

/** One line for a message: `1 of 2 · still needs @security`. */
export function describeTally(result: Tally): string {
  const need = result.perRule.reduce((sum, entry) => sum + entry.need, 0);
  const have = result.assignment.length;
  return result.met ? `${have} of ${need}` : `${have} of ${need} · still needs ${missing(result)}`;
}

/**
 * Whether the rules can ever be met, given who is in each rule's role (`'*'`: anyone), without the
 * requester where their approval does not count. Refused with the reason otherwise, e.g.
 * "@security has no member besides the requester".
 */
export function feasible(
  rules: readonly QuorumRule[],
  members: ReadonlyArray<ReadonlySet<string> | '*'>,
  requester: string | undefined,
  requesterCounts: boolean,
): Permission {
  const excluded = requesterCounts ? undefined : requester;
  const besides = excluded === undefined ? '' : ' besides the requester';
  if (rules.length === 0) return { ok: false, reason: 'it has no approval rules' };
  // A rule anyone may fill can always find people nobody else needs: only the others can clash.
  const bounded = rules.flatMap((rule, i) => {
    const people = members[i];
    if (people === '*') return [];
    return [{ rule, people: [...(people ?? [])].filter((user) => user !== excluded) }];
  });
  for (const { rule, people } of bounded) {
    if (people.length === 0) return { ok: false, reason: `${rule.label} has no member${besides}` };
    if (people.length < rule.count)
      return {
        ok: false,
        reason: `${rule.label} needs ${rule.count} approvals but has only ${people.length} member${plural(people.length)}${besides}`,
      };
  }
  if (bounded.length === 0) return { ok: true };
  const everyone = [...new Set(bounded.flatMap(({ people }) => people))];
  const votes = everyone.map((user) => ({
    user,
    eligible: bounded.flatMap(({ people }, i) => (people.includes(user) ? [i] : [])),
  }));
  const result = tally(
    bounded.map(({ rule }) => rule),
    votes,
  );
  if (result.met) return { ok: true };
  // The rules short of people, and every rule whose people they would have to take: together
  // they need more different people than they have (Hall's condition fails for this set).
  const clash = new Set(result.perRule.flatMap((entry, i) => (entry.have < entry.need ? [i] : [])));
  const ruleOfUser = new Map(result.assignment.map(({ user, rule }) => [user, rule]));
  for (const i of clash) {
    for (const user of bounded[i]!.people) {
      const taken = ruleOfUser.get(user);
      if (taken !== undefined) clash.add(taken);
    }
  }
  const involved = [...clash].sort((a, b) => a - b).map((i) => bounded[i]!);
  const people = new Set(involved.flatMap(({ people: p }) => p));
  const need = involved.reduce((sum, { rule }) => sum + rule.count, 0);
  return {
    ok: false,
    reason: `${joinAnd(involved.map(({ rule }) => withCount(rule)))} need ${need} different people, but have only ${people.size} between them${besides}`,
  };
}

/**
 * A maximum assignment of voters to rule slots (augmenting paths, voters in order, each trying
 * its rules in index order, so equal inputs give equal answers). Returns each voter's rule.
 */
function assign(capacities: readonly number[], voters: readonly Vote[]): Array<number | undefined> {
  const ruleOf: Array<number | undefined> = voters.map(() => undefined);
  const holders: number[][] = capacities.map(() => []);
  const tryPlace = (voter: number, seen: Set<number>): boolean => {
    for (const rule of voters[voter]!.eligible) {
      if (seen.has(rule)) continue;
      seen.add(rule);
      const held = holders[rule]!;
      if (held.length < capacities[rule]!) {
        held.push(voter);
        ruleOf[voter] = rule;
        return true;
      }
      for (const other of held) {
        if (tryPlace(other, seen)) {
          held.splice(held.indexOf(other), 1, voter);
          ruleOf[voter] = rule;
          return true;
        }
      }
    }
    return false;
  };
  for (let voter = 0; voter < voters.length; voter += 1) tryPlace(voter, new Set());
  return ruleOf;
}

function firstVoteEach(rules: readonly QuorumRule[], votes: readonly Vote[]): Vote[] {
  const seen = new Set<string>();
  const out: Vote[] = [];
  for (const vote of votes) {
    if (seen.has(vote.user)) continue;
    seen.add(vote.user);
    out.push({ user: vote.user, eligible: validRules(rules, vote.eligible) });
  }
  return out;
}

function validRules(rules: readonly QuorumRule[], eligible: readonly number[]): number[] {
  return [...new Set(eligible)]
    .filter((i) => Number.isInteger(i) && i >= 0 && i < rules.length)
    .sort((a, b) => a - b);
}

function missing(result: Tally): string {
  return joinAnd(
    result.perRule
      .filter((entry) => entry.have < entry.need)
      .map((entry) =>
        entry.need - entry.have > 1 ? `${entry.need - entry.have} from ${entry.rule}` : entry.rule,
      ),
  );
}

function withCount(rule: QuorumRule): string {
  return rule.count > 1 ? `${rule.label} ×${rule.count}` : rule.label;
}

function joinAnd(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

function plural(n: number): string {
  return n === 1 ? '' : 's';
}
