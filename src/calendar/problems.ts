import type { RawConfig } from '../config/schema.js';
import { parseScope } from './scope.js';
import { parseInstant } from './time.js';

/**
 * What the calendar's config refers to, checked against the rest: role names (`setBy`,
 * `overrideBy`), freeze scopes (vendors, targets, actions), fixed windows that end before they
 * start, and names used twice. One line per problem, naming its key.
 */
export function calendarProblems(
  policy: RawConfig['policy'],
  targets: ReadonlyMap<string, readonly string[]>,
): string[] {
  const problems: string[] = [];
  const roles = Object.keys(policy.roles);
  const knownRole = (key: string, name: string | undefined) => {
    if (name !== undefined && !roles.includes(name))
      problems.push(`${key}: unknown role "${name}" (roles: ${roles.join(', ') || 'none declared'})`);
  };
  for (const [i, name] of policy.freezes.setBy.entries()) knownRole(`policy.freezes.setBy.${i}`, name);
  knownRole('policy.freezes.overrideBy', policy.freezes.overrideBy);
  const names = new Set<string>();
  policy.freezes.windows.forEach((freeze, i) => {
    const key = `policy.freezes.windows.${i}`;
    if (names.has(freeze.name)) problems.push(`${key}.name: "${freeze.name}" is used by another freeze`);
    names.add(freeze.name);
    knownRole(`${key}.overrideBy`, freeze.overrideBy);
    freeze.scope.forEach((text, j) => {
      const scope = parseScope(text, (vendor) => targets.get(vendor) ?? []);
      if (typeof scope === 'string')
        problems.push(`${key}.scope${freeze.scope.length > 1 ? `.${j}` : ''}: ${scope}`);
    });
    if (freeze.from !== undefined && freeze.until !== undefined) {
      const zone = freeze.timeZone ?? policy.timeZone;
      try {
        if (parseInstant(freeze.until, zone, 0) <= parseInstant(freeze.from, zone, 0))
          problems.push(`${key}.until: ends before it starts (from ${freeze.from})`);
      } catch (error) {
        problems.push(`${key}: ${(error as Error).message}`);
      }
    }
  });
  return problems;
}
