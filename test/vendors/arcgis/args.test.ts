import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { arcgisVendor } from '../../../src/vendors/arcgis/index.js';
import { action } from './support.js';

function problem(verb: string, raw: Record<string, string | true>): string {
  const result = action(verb).args.safeParse(raw);
  if (result.success) throw new Error(`accepted ${JSON.stringify(raw)}`);
  return result.error.issues[0]!.message;
}

describe('the vendor module', () => {
  it('declares both actions as the pipeline expects', () => {
    expect(arcgisVendor.name).toBe('arcgis');
    expect(arcgisVendor.actions.map((a) => [a.id, a.verb, a.mode, a.highRisk])).toEqual([
      ['arcgis.deployment.refresh', 'refresh-deployment', 'async', false],
      ['arcgis.groups.refresh', 'refresh-groups', 'sync', false],
    ]);
    expect(action('refresh-deployment').timing).toEqual({
      pollIntervalMs: 5_000,
      firstPollDelayMs: 2_000,
      deadlineMs: 30 * 60_000,
    });
    expect(action('refresh-deployment').cancel).toBeUndefined();
  });
});

describe('refresh-deployment <deployment-id>', () => {
  it('accepts an id shaped like the doc examples', () => {
    expect(action('refresh-deployment').args.parse({ deploymentId: ' kvyxph9w5h3o9vgk8dixn ' })).toEqual({
      deploymentId: 'kvyxph9w5h3o9vgk8dixn',
    });
  });

  it.each([
    ['../x', 'is not a plain id'],
    ['a/b', 'is not a plain id'],
    ['kvyxph9w5h%2Fo9vgk8dixn', 'is not a plain id'],
    ['..', 'is not a plain id'],
    ['kvyx ph9w5h3o9vgk8dixn', 'is not a plain id'],
    ['KVYXPH9W5H3O9VGK8DIXN', 'does not look like an ArcGIS deployment id'],
    ['shared-mapserver', 'does not look like an ArcGIS deployment id'],
    ['abc123', 'does not look like an ArcGIS deployment id'],
    ['a'.repeat(41), 'does not look like an ArcGIS deployment id'],
  ])('refuses %j with a message that says why', (deploymentId, why) => {
    const message = problem('refresh-deployment', { deploymentId });
    expect(message).toContain(why);
    expect(message).toContain('deployment id');
  });

  it('says what an id looks like', () => {
    expect(problem('refresh-deployment', { deploymentId: 'abc' })).toBe(
      'deployment id "abc" does not look like an ArcGIS deployment id (10–40 lowercase letters and digits, e.g. kvyxph9w5h3o9vgk8dixn)',
    );
  });

  it('says when the id is missing', () => {
    expect(problem('refresh-deployment', {})).toBe('deployment id is missing');
    expect(problem('refresh-deployment', { deploymentId: '  ' })).toBe('deployment id is missing');
  });
});

describe('refresh-groups <name>[,<name>…]', () => {
  const parse = (groups: string) => action('refresh-groups').args.parse({ groups });

  it('splits on commas, trims, drops empties and duplicates', () => {
    expect(parse('cartographers, analyst,,cartographers')).toEqual({ groups: ['cartographers', 'analyst'] });
  });

  it('accepts names as identity stores write them', () => {
    expect(parse('GIS Analysts,gis.admins,team_a-b,Géographes,DOMAIN\\gis,ops@corp').groups).toHaveLength(6);
  });

  it.each([
    ['bad\u0000name', 'may only use letters'],
    ['line\nbreak', 'may only use letters'],
    ['<script>', 'may only use letters'],
    ['-leading', 'starting with a letter or digit'],
    ['a"b', 'may only use letters'],
    ['x'.repeat(257), 'at most 256 characters'],
  ])('refuses %j', (groups, why) => {
    expect(problem('refresh-groups', { groups })).toContain(why);
  });

  it('never shows control characters back', () => {
    expect(problem('refresh-groups', { groups: 'bad\u0007bell' })).toContain('"bad?bell"');
  });

  it('refuses an empty list and more than 100 names', () => {
    expect(problem('refresh-groups', {})).toBe('group names is missing');
    expect(problem('refresh-groups', { groups: ' , ' })).toBe('group names is missing');
    const many = Array.from({ length: 101 }, (_, i) => `g${i}`).join(',');
    expect(problem('refresh-groups', { groups: many })).toBe('at most 100 group names at once');
  });
});

describe('target config', () => {
  const password = new Secret('pw-value-123', 'env:ARCGIS_PASSWORD');

  it('fills the defaults', () => {
    expect(
      arcgisVendor.targetSchema.parse({
        url: 'https://gis.example.com/arcgis/',
        username: 'admin',
        password,
      }),
    ).toMatchObject({
      client: 'referer',
      tokenMinutes: 60,
    });
    expect(arcgisVendor.baseUrl({ name: 'prod', url: 'https://gis.example.com/arcgis/' } as never)).toBe(
      'https://gis.example.com/arcgis',
    );
  });

  it.each([
    [{ client: 'ip' }, 'client'],
    [{ orgId: 'a/b' }, 'orgId'],
    [{ password: 'plain-text' }, 'password'],
    [{ tokenMinutes: 0 }, 'tokenMinutes'],
    [{ referer: 'not a url' }, 'referer'],
    [{ pasword: password }, ''],
  ])('refuses %j naming the key', (overrides, key) => {
    const result = arcgisVendor.targetSchema.safeParse({
      url: 'https://gis.example.com/arcgis',
      username: 'admin',
      password,
      ...overrides,
    });
    expect(result.success).toBe(false);
    if (key) expect(result.error!.issues[0]!.path).toEqual([key]);
  });
});
