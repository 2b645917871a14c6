import { escapeMrkdwn, slackDate } from '../slack/mrkdwn.js';
import type { Freeze } from './freezes.js';
import { describeScope } from './scope.js';
import { plainInstant } from './time.js';

/**
 * A freeze in words, two ways: mrkdwn for answers opsbot composes (its end as a Slack date token,
 * its reason escaped), and plain text for what is stored and escaped when shown (a request's
 * `blocked` reason, the audit trail).
 */

export function freezeMrkdwn(freeze: Freeze): string {
  const scope = freeze.scopes.map(describeScope).join(', ');
  const who = freeze.setBy ? ` · set by <@${freeze.setBy}>` : '';
  return `*${escapeMrkdwn(freeze.name)}* (${escapeMrkdwn(scope)}) until ${slackDate(freeze.end)}: “${escapeMrkdwn(freeze.reason)}”${who}`;
}

export function freezePlain(freeze: Freeze): string {
  return `change freeze ${freeze.name} until ${plainInstant(freeze.end)} (${freeze.reason})`;
}

/** What to add to say how to ask anyway, or that one cannot. */
export function overrideHint(freezes: readonly Freeze[]): string {
  const roles = [...new Set(freezes.map((freeze) => freeze.overrideBy))];
  if (roles.includes(undefined)) return 'It allows no break-glass override.';
  return `To ask anyway, add \`--override --reason "…"\`: the request then also needs an approval from ${roles.map((role) => `@${role}`).join(' and ')}.`;
}

/** Lines for help, whoami and the like: the freezes in effect now, or nothing. */
export function freezesInEffectLines(freezes: readonly Freeze[]): string[] {
  if (freezes.length === 0) return [];
  return ['*Change freezes in effect*', ...freezes.map((freeze) => `• :snowflake: ${freezeMrkdwn(freeze)}`)];
}
