import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema } from '../../src/config/schema.js';
import { VENDORS } from '../../src/vendors/registry.js';

/**
 * Everything the config file accepts is in the README's configuration reference: the test walks
 * the config schema and every vendor's target schema, and names each key the reference lacks.
 */

/** A schema key with `*` for a name the user chooses (a target, an action id). */
type Key = string[];

/** The keys a schema accepts, down to its leaves; `*` stands for a record's keys. */
function keysOf(schema: z.core.$ZodType, path: Key = []): Key[] {
  const def = schema._zod.def as unknown as Record<string, z.core.$ZodType> & { type: string };
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return keysOf(def.innerType!, path);
    case 'pipe':
      return keysOf(def.in!, path);
    case 'array':
      return keysOf(def.element!, path);
    case 'record':
      return keysOf(def.valueType!, [...path, '*']);
    case 'object':
      return Object.entries((def as unknown as { shape: Record<string, z.core.$ZodType> }).shape).flatMap(
        ([name, field]) => keysOf(field, [...path, name]),
      );
    case 'union': {
      // Alternatives that are objects (e.g. the two kinds of Workspace auth) each add their keys;
      // a union of plain values (a URL or a secret reference) is one leaf.
      const options = (def as unknown as { options: z.core.$ZodType[] }).options;
      const keys = options.flatMap((option) => (isObject(option) ? keysOf(option, path) : []));
      return keys.length > 0 ? dedupe(keys) : [path];
    }
    default:
      return [path];
  }
}

function isObject(schema: z.core.$ZodType): boolean {
  const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
  if (def.type === 'object') return true;
  const inner = def.innerType ?? def.in;
  return inner !== undefined && isObject(inner);
}

function dedupe(keys: Key[]): Key[] {
  return [...new Map(keys.map((key) => [key.join('.'), key])).values()];
}

/** Every key the config file accepts: the top-level schema, then each vendor's targets. */
function acceptedKeys(): Key[] {
  const top = keysOf(configSchema);
  const targets = VENDORS.flatMap((vendor) =>
    keysOf(vendor.targetSchema as z.core.$ZodType, ['targets', vendor.name, '*']),
  );
  return [...top, ...targets];
}

/**
 * The keys the README's configuration reference documents: the backticked names in the first
 * column of its table. A name starting with `.` is a sibling of the name before it
 * (`redis.sentinel.sentinels`, `.masterName`); `<…>` and `*` stand for any name; a name starting
 * with `….` is a policy setting, which may be written at each policy level (POLICY_LEVELS).
 */
function documentedKeys(readme: string): Key[] {
  const start = readme.indexOf('\n## Configuration reference');
  expect(start, 'a "## Configuration reference" section in README.md').toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const keys: Key[] = [];
  for (const line of section.split('\n')) {
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!firstCell) continue;
    let previous: Key[] = [];
    for (const [, name] of firstCell.matchAll(/`([^`]+)`/g)) {
      const found: Key[] = name!.startsWith('….')
        ? POLICY_LEVELS.map((level) => [...level, ...name!.slice(2).split('.')])
        : name!.startsWith('.') && previous.length > 0
          ? previous.map((key) => [...key.slice(0, -1), ...name!.slice(1).split('.')])
          : [name!.split('.')];
      keys.push(...found);
      previous = found;
    }
  }
  return keys;
}

/** Where a policy setting (`….x` in the reference) may be written. */
const POLICY_LEVELS: Key[] = [
  ['policy', 'defaults'],
  ['policy', 'actions', '<id>'],
  ['policy', 'actions', '<id>', 'targets', '<name>'],
];

const isWildcard = (segment: string) => segment === '*' || /^<.+>$/.test(segment);

/**
 * Whether a documented key covers an accepted one: equal, segment by segment (a wildcard matches
 * any name), or an ancestor of it (`policy.auditors` covers `.users` and `.groups`), except that
 * an ancestor ending in a wildcard (`targets.<vendor>.<name>`) covers nothing below it.
 */
function covers(documented: Key, accepted: Key): boolean {
  if (documented.length > accepted.length) return false;
  if (documented.length < accepted.length && isWildcard(documented.at(-1)!)) return false;
  return documented.every(
    (segment, i) => isWildcard(segment) || (segment === accepted[i] && accepted[i] !== '*'),
  );
}

describe('the README configuration reference', () => {
  const documented = documentedKeys(readFileSync('README.md', 'utf8'));

  it('names every key the config file accepts, vendor targets included', () => {
    const missing = acceptedKeys()
      .filter((key) => !documented.some((doc) => covers(doc, key)))
      .map((key) => key.join('.'));
    expect(missing, 'keys missing from the README configuration reference').toEqual([]);
  });

  it('names no key the config file does not accept', () => {
    const accepted = acceptedKeys();
    const unknown = documented
      .filter((doc) => !accepted.some((key) => covers(doc, key)))
      .map((key) => key.join('.'));
    expect(unknown, 'keys in the README configuration reference that the schema refuses').toEqual([]);
  });

  it('finds keys where they are: the walk sees nested, record, union and vendor keys', () => {
    const names = acceptedKeys().map((key) => key.join('.'));
    expect(names).toEqual(
      expect.arrayContaining([
        'slack.botUserId',
        'redis.sentinel.masterName',
        'policy.actions.*.pollInterval',
        'targets.workspace.*.iamUrl',
        'targets.workspace.*.auth.accessKey',
        'targets.workspace.*.auth.domain',
        'targets.arcgis.*.tls.caFile',
      ]),
    );
  });
});
