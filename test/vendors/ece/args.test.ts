import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { eceVendor } from '../../../src/vendors/ece/index.js';
import { restartArgs, restartResource } from '../../../src/vendors/ece/restart.js';

const ID = '3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b';

function problems(raw: Record<string, string | true>): string[] {
  const result = restartArgs.safeParse(raw);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

describe('ece restart arguments', () => {
  it('takes a deployment id and a kind, with the ref id defaulting to _main', () => {
    expect(restartArgs.parse({ deploymentId: ID, kind: 'kibana' })).toEqual({
      deploymentId: ID,
      kind: 'kibana',
      refId: '_main',
      cancelPending: false,
    });
  });

  it('takes an explicit ref id and --cancel-pending', () => {
    expect(
      restartArgs.parse({ deploymentId: ID, kind: 'apm', refId: 'main-apm', cancelPending: true }),
    ).toEqual({
      deploymentId: ID,
      kind: 'apm',
      refId: 'main-apm',
      cancelPending: true,
    });
  });

  it.each(['kibana', 'apm', 'appsearch', 'enterprise_search', 'integrations_server'])(
    'accepts the kind %s',
    (kind) => {
      expect(restartArgs.parse({ deploymentId: ID, kind }).kind).toBe(kind);
    },
  );

  it('accepts a kind typed in capitals', () => {
    expect(restartArgs.parse({ deploymentId: ID, kind: 'Kibana' }).kind).toBe('kibana');
  });

  it('names the five kinds when the kind is wrong or missing', () => {
    expect(problems({ deploymentId: ID, kind: 'elasticsearch' })).toEqual([
      'kind "elasticsearch" is not one of kibana, apm, appsearch, enterprise_search, integrations_server (Elasticsearch has its own restart, not offered here)',
    ]);
    expect(problems({ deploymentId: ID })).toEqual([
      'kind is missing (one of kibana, apm, appsearch, enterprise_search, integrations_server)',
    ]);
  });

  it('says what an ECE deployment id looks like', () => {
    for (const bad of ['3f5a', `${ID}0`, ID.toUpperCase(), 'g'.repeat(32)]) {
      expect(problems({ deploymentId: bad, kind: 'kibana' })).toEqual([
        `deployment id "${bad}" does not look like an ECE deployment id (32 lowercase hex characters, e.g. 3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b)`,
      ]);
    }
  });

  it.each(['../x', 'a/b', '%2F', '..', 'a\\b', 'a?b', 'a#b'])(
    'refuses %s as a deployment id or a ref id',
    (bad) => {
      expect(problems({ deploymentId: bad, kind: 'kibana' })[0]).toMatch(
        /^deployment id ".*" is not a plain id/,
      );
      expect(problems({ deploymentId: ID, kind: 'kibana', refId: bad })[0]).toMatch(
        /^ref id ".*" is not a plain id/,
      );
    },
  );

  it('refuses a value for --cancel-pending', () => {
    expect(problems({ deploymentId: ID, kind: 'kibana', cancelPending: 'yes' })).toEqual([
      'this flag takes no value',
    ]);
  });
});

describe('ece restart approval message', () => {
  it('shows the resource and no warning by default', () => {
    const summary = restartResource.describe(restartArgs.parse({ deploymentId: ID, kind: 'kibana' }));
    expect(summary.fields).toContainEqual({
      label: 'Resource',
      value: "kibana _main (the deployment's only kibana resource)",
    });
    expect(summary.fields).toContainEqual({ label: 'Cancel pending plan', value: 'no' });
    expect(summary.warnings).toEqual([]);
  });

  it('warns that --cancel-pending cancels the plan already in progress', () => {
    const summary = restartResource.describe(
      restartArgs.parse({ deploymentId: ID, kind: 'apm', refId: 'main-apm', cancelPending: true }),
    );
    expect(summary.fields).toContainEqual({ label: 'Resource', value: 'apm main-apm' });
    expect(summary.warnings).toEqual([
      "--cancel-pending: cancels the plan already in progress on this apm resource (possibly someone else's change) before restarting",
    ]);
  });

  it('declares its words for the /ops grammar and help', () => {
    expect(restartResource).toMatchObject({
      id: 'ece.resource.restart',
      verb: 'restart',
      mode: 'async',
      highRisk: false,
    });
    expect(restartResource.params.map((param) => param.label || param.flag)).toEqual([
      '<deployment-id>',
      '<kind>',
      '<ref-id>',
      '--cancel-pending',
    ]);
    expect(restartResource.timing).toEqual({
      pollIntervalMs: 5_000,
      deadlineMs: 1_800_000,
      firstPollDelayMs: 2_000,
    });
    for (const example of restartResource.examples) {
      const [, , deploymentId, kind, refId] = example.split(' ');
      expect(
        restartArgs.safeParse({ deploymentId: deploymentId!, kind: kind!, ...(refId ? { refId } : {}) })
          .success,
      ).toBe(true);
    }
  });
});

describe('ece target', () => {
  const key = new Secret('k'.repeat(20), 'test');
  const password = new Secret('p'.repeat(20), 'test');

  it('takes an API key or a username and password, and adds /api/v1 to the root url', () => {
    const withKey = eceVendor.targetSchema.parse({ url: 'https://ece.example.com:12443', apiKey: key });
    expect(eceVendor.baseUrl({ name: 'prod', ...withKey })).toBe('https://ece.example.com:12443/api/v1');
    const withUser = eceVendor.targetSchema.parse({
      url: 'https://ece.example.com:12443/',
      username: 'admin',
      password,
    });
    expect(eceVendor.baseUrl({ name: 'prod', ...withUser })).toBe('https://ece.example.com:12443/api/v1');
  });

  it('says what is wrong with the credentials', () => {
    const messages = (raw: object) => {
      const result = eceVendor.targetSchema.safeParse({ url: 'https://ece.example.com:12443', ...raw });
      return result.success ? [] : result.error.issues.map((issue) => issue.message);
    };
    expect(messages({})).toEqual(['credentials are missing: give apiKey, or username + password']);
    expect(messages({ apiKey: key, username: 'admin', password })).toEqual([
      'give either apiKey or username + password, not both',
    ]);
    expect(messages({ username: 'admin' })).toEqual([
      'username and password go together (basic auth needs both)',
    ]);
    expect(messages({ apiKey: 'plain-text-key' })[0]).toMatch(/must be a secret reference/);
    expect(messages({ apiKey: key, apikey: key })[0]).toMatch(/apikey/);
  });

  it('refuses a url that already ends in /api/v1', () => {
    const result = eceVendor.targetSchema.safeParse({
      url: 'https://ece.example.com:12443/api/v1',
      apiKey: key,
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      'url must be the ECE root (e.g. https://ece.example.com:12443); opsbot adds /api/v1 itself',
    );
  });
});
