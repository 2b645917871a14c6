import { describe, expect, it } from 'vitest';
import { bindWords, tokenize, usageOf, validateArgs } from '../../../src/commands/grammar.js';
import { Secret } from '../../../src/config/secret.js';
import { InputError } from '../../../src/errors.js';
import { cckmVendor } from '../../../src/vendors/cckm/index.js';
import { apiBaseUrl, cckmTargetSchema } from '../../../src/vendors/cckm/target.js';
import { action } from './support.js';

const EU = '6070915c-0ab4-4e7e-bf4d-31dd31214874';
const US = '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed';

/** Words as a person types them after `/ops cckm <verb>`, through the real grammar. */
function parseWords(verb: string, text: string): unknown {
  const shape = { words: ['cckm', verb], params: action(verb).params };
  const usage = usageOf('/ops', shape);
  return validateArgs(action(verb).args, bindWords(tokenize(text), shape, usage), usage);
}

function problem(verb: string, text: string): string {
  try {
    parseWords(verb, text);
  } catch (error) {
    expect(error).toBeInstanceOf(InputError);
    return (error as InputError).message;
  }
  throw new Error(`accepted "${text}"`);
}

describe('the vendor module', () => {
  it('declares both actions as the pipeline expects', () => {
    expect(cckmVendor.name).toBe('cckm');
    expect(cckmVendor.actions.map((a) => [a.id, a.verb, a.mode, a.highRisk])).toEqual([
      ['cckm.dsm.refresh', 'refresh', 'async', false],
      ['cckm.dsm.refresh-status', 'refresh-status', 'read', false],
    ]);
    expect(action('refresh').timing).toEqual({
      pollIntervalMs: 30_000,
      firstPollDelayMs: 5_000,
      deadlineMs: 24 * 3_600_000,
    });
    expect(action('refresh').cancel).toBeTypeOf('function');
    expect(action('refresh-status').read).toBeTypeOf('function');
  });

  it('shows a usage line that says both ways to call refresh', () => {
    expect(usageOf('/ops', { words: ['cckm', 'refresh'], params: action('refresh').params })).toBe(
      '/ops cckm refresh [<domain-id>[,<domain-id>…]] [--all]',
    );
  });
});

describe('refresh <domain-id>[,<domain-id>…] | --all', () => {
  it('takes one domain id, or a comma list (trimmed, lowercased, duplicates dropped)', () => {
    expect(parseWords('refresh', EU)).toEqual({ all: false, domains: [EU] });
    expect(parseWords('refresh', `${EU.toUpperCase()},${US},,${EU}`)).toEqual({
      all: false,
      domains: [EU, US],
    });
  });

  it('takes --all for every domain', () => {
    expect(parseWords('refresh', '--all')).toEqual({ all: true });
  });

  it('refuses domains and --all together', () => {
    expect(problem('refresh', `${EU} --all`)).toBe('give DSM domain ids or --all, not both');
  });

  it('refuses neither, saying how to write it', () => {
    expect(problem('refresh', '')).toBe(
      'name the DSM domains to refresh (<domain-id>[,<domain-id>…]) or use --all for every domain',
    );
  });

  it.each([
    ['../x', 'is not a plain id'],
    ['a/b', 'is not a plain id'],
    [`${EU.slice(0, 8)}%2F${EU.slice(11)}`, 'is not a plain id'],
    ['..', 'is not a plain id'],
    ['dsm-prod-eu', 'does not look like a UUID'],
    [`${EU}x`, 'does not look like a UUID'],
  ])('refuses %j with a message that names the domain id', (word, why) => {
    const message = problem('refresh', word);
    expect(message).toContain('domain id');
    expect(message).toContain(why);
  });

  it('refuses a bad id inside a list, naming it', () => {
    expect(problem('refresh', `${EU},../etc`)).toMatch(
      /^domain id "\.\.\/etc" is not a plain id \(letters, digits, "\.", "_", "-", "~" only\)/,
    );
  });

  it('refuses more than 50 domains at once', () => {
    const many = Array.from(
      { length: 51 },
      (_, i) => `6070915c-0ab4-4e7e-bf4d-${String(i).padStart(12, '0')}`,
    );
    expect(problem('refresh', many.join(','))).toBe('at most 50 domain ids at once');
  });

  it('refuses a value given to --all', () => {
    expect(problem('refresh', '--all=yes')).toBe('--all takes no value');
  });
});

describe('refresh-status [--status] [--skip] [--limit]', () => {
  it('defaults to the 10 newest of any status', () => {
    expect(parseWords('refresh-status', '')).toEqual({ skip: 0, limit: 10 });
  });

  it.each([
    ['--status in_progress', 'in_progress'],
    ['--status In-Progress', 'in_progress'],
    ['--status=COMPLETED', 'completed'],
    ['--status failed', 'failed'],
  ])('reads %j as status %s', (text, status) => {
    expect(parseWords('refresh-status', text)).toMatchObject({ status });
  });

  it('reads paging options', () => {
    expect(parseWords('refresh-status', '--skip 20 --limit 100')).toEqual({ skip: 20, limit: 100 });
  });

  it.each([
    ['--status done', '--status "done" is not one of in_progress, completed, failed'],
    ['--limit 0', '--limit must be at least 1'],
    ['--limit 101', '--limit can be at most 100'],
    ['--limit ten', '--limit must be a number'],
    ['--skip -1', '--skip cannot be negative'],
    ['--skip 1.5', '--skip must be a whole number'],
    ['--status', '--status needs a value: --status <in_progress|completed|failed>'],
  ])('refuses %j', (text, message) => {
    expect(problem('refresh-status', text)).toBe(message);
  });
});

describe('target config', () => {
  const secret = new Secret('pw-for-target-tests', 'test');

  it('asks for a one-day refresh token by default and reads durations', () => {
    expect(
      cckmTargetSchema.parse({ url: 'https://cm.example', username: 'ops', password: secret }),
    ).toMatchObject({
      refreshTokenLifetime: 86_400_000,
    });
    expect(
      cckmTargetSchema.parse({
        url: 'https://cm.example',
        username: 'ops',
        password: secret,
        refreshTokenLifetime: '2h',
      }),
    ).toMatchObject({ refreshTokenLifetime: 7_200_000 });
  });

  it('refuses a refresh token lifetime under a minute, a plain-text password and unknown keys', () => {
    const base = { url: 'https://cm.example', username: 'ops', password: secret };
    expect(
      cckmTargetSchema.safeParse({ ...base, refreshTokenLifetime: '30s' }).error?.issues[0]?.message,
    ).toBe('refreshTokenLifetime must be at least 1m (it is sent in minutes)');
    expect(cckmTargetSchema.safeParse({ ...base, password: 'plain' }).success).toBe(false);
    expect(cckmTargetSchema.safeParse({ ...base, pasword: secret }).success).toBe(false);
  });

  it('adds /api to the appliance address, once', () => {
    expect(apiBaseUrl({ url: 'https://cm.example' })).toBe('https://cm.example/api/');
    expect(apiBaseUrl({ url: 'https://cm.example/' })).toBe('https://cm.example/api/');
    expect(apiBaseUrl({ url: 'https://cm.example/api/' })).toBe('https://cm.example/api/');
  });
});
