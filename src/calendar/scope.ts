import { allActions, findActionById, findVendor, VENDORS } from '../vendors/registry.js';

/**
 * What a change freeze covers, written one way in the config and in Slack:
 * `*` (everything), `ece` (a vendor), `ece.prod` (a target), `ece.resource.restart` (an action on
 * every target) or `ece.resource.restart@prod` (an action on one target). Target names never
 * hold a dot, so two words are a target and three or more an action.
 */
export interface Scope {
  /** As written, e.g. `ece.prod`. */
  text: string;
  vendor?: string | undefined;
  target?: string | undefined;
  actionId?: string | undefined;
}

/** Where a request would act. */
export interface Place {
  vendor: string;
  target: string;
  actionId: string;
}

export const SCOPE_HELP =
  '*, a vendor (ece), a target (ece.prod), an action (ece.resource.restart) or an action on a target (ece.resource.restart@prod)';

/**
 * Reads a scope; answers the reason it is not one (unknown vendor, target or action) as a string.
 * `targetsOf(vendor)` names the configured targets. Every part of what was typed that the reason
 * repeats goes through `quote` (for Slack: a short escaped excerpt).
 */
export function parseScope(
  text: string,
  targetsOf: (vendor: string) => readonly string[],
  quote: (typed: string) => string = (typed) => typed,
): Scope | string {
  if (text === '*') return { text };
  const [what, onTarget, ...extra] = text.split('@');
  if (extra.length > 0 || what === undefined) return `"${quote(text)}" is not a scope: write ${SCOPE_HELP}`;
  const words = what.split('.');
  const vendor = findVendor(words[0] ?? '')?.name;
  if (!vendor)
    return `"${quote(text)}" names no vendor opsbot knows (vendors: ${VENDORS.map((v) => v.name).join(', ')}); write ${SCOPE_HELP}`;
  const knownTarget = (target: string) => {
    const targets = targetsOf(vendor);
    return targets.includes(target)
      ? undefined
      : `"${quote(text)}": ${vendor} has no target "${quote(target)}" (targets: ${targets.join(', ') || 'none configured'})`;
  };
  if (words.length <= 2 && onTarget === undefined) {
    if (words.length === 1) return { text, vendor };
    return knownTarget(words[1]!) ?? { text, vendor, target: words[1] };
  }
  const action = findActionById(what);
  if (!action)
    return `"${quote(text)}": no action ${quote(what)} (actions of ${vendor}: ${allActions()
      .filter((a) => a.vendor.name === vendor)
      .map((a) => a.action.id)
      .join(', ')})`;
  if (onTarget === undefined) return { text, vendor, actionId: what };
  return knownTarget(onTarget) ?? { text, vendor, actionId: what, target: onTarget };
}

/** Whether a scope covers a request acting here. */
export function covers(scope: Scope, place: Place): boolean {
  if (scope.vendor !== undefined && scope.vendor !== place.vendor) return false;
  if (scope.target !== undefined && scope.target !== place.target) return false;
  return scope.actionId === undefined || scope.actionId === place.actionId;
}

/** A scope in words: `everything`, `ece`, `ece/prod`, `ece.resource.restart on ece/prod`. */
export function describeScope(scope: Scope): string {
  if (scope.vendor === undefined) return 'everything';
  const where = scope.target === undefined ? scope.vendor : `${scope.vendor}/${scope.target}`;
  return scope.actionId === undefined ? where : `${scope.actionId} on ${where}`;
}
