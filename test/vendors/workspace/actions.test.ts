import { describe, expect, it } from 'vitest';
import { workspaceVendor } from '../../../src/vendors/workspace/index.js';
import { SERVER_ID } from './helpers.js';

const action = workspaceVendor.actions.find((a) => a.id === 'workspace.server.reinstall')!;

function argIssues(raw: Record<string, unknown>): string[] {
  const result = action.args.safeParse(raw);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

describe('workspace.server.reinstall declaration', () => {
  it('is an async, high-risk action on verb "reinstall" with the Terraform-like timing', () => {
    expect(workspaceVendor.name).toBe('workspace');
    expect(action.verb).toBe('reinstall');
    expect(action.mode).toBe('async');
    expect(action.highRisk).toBe(true);
    expect(action.timing).toEqual({
      firstPollDelayMs: 10_000,
      pollIntervalMs: 15_000,
      deadlineMs: 45 * 60_000,
    });
    expect(action.params.map((p) => [p.name, p.kind, p.flag])).toEqual([
      ['serverId', 'positional', undefined],
      ['updateAgent', 'flag', '--update-agent'],
    ]);
    for (const example of action.examples) expect(example.startsWith('workspace reinstall ')).toBe(true);
  });

  it('accepts a server UUID, with and without --update-agent', () => {
    expect(action.args.parse({ serverId: SERVER_ID })).toEqual({ serverId: SERVER_ID, updateAgent: false });
    expect(action.args.parse({ serverId: ` ${SERVER_ID.toUpperCase()} `, updateAgent: true })).toEqual({
      serverId: SERVER_ID.toUpperCase(),
      updateAgent: true,
    });
  });

  it('refuses a missing id, a non-UUID, and anything that could change the URL path', () => {
    expect(argIssues({})).toEqual(['server id is missing']);
    expect(argIssues({ serverId: 'APS-SALES-01' })).toEqual([
      'server id "APS-SALES-01" does not look like a UUID (8-4-4-4-12 hex digits)',
    ]);
    for (const attempt of [
      '../x',
      'a/b',
      '%2F',
      `${SERVER_ID}/../other`,
      `${SERVER_ID}?x=1`,
      '..',
      `${SERVER_ID}#`,
    ]) {
      const problems = argIssues({ serverId: attempt });
      expect(problems.length, attempt).toBeGreaterThan(0);
      expect(problems[0], attempt).toContain('is not a plain id');
    }
  });

  it('refuses a value given to --update-agent', () => {
    expect(argIssues({ serverId: SERVER_ID, updateAgent: 'yes' })).toEqual(['this flag takes no value']);
  });

  it('warns that the server is rebuilt from its image and its system disk is wiped', () => {
    const summary = action.describe({ serverId: SERVER_ID, updateAgent: false });
    expect(summary.fields).toEqual([
      { label: 'Server', value: SERVER_ID },
      { label: 'Update access agent', value: 'no' },
    ]);
    expect(summary.warnings).toHaveLength(1);
    expect(summary.warnings[0]).toMatch(/rebuilt from its image/);
    expect(summary.warnings[0]).toMatch(/system disk is wiped/);
    const withAgent = action.describe({ serverId: SERVER_ID, updateAgent: true });
    expect(withAgent.warnings[1]).toMatch(/--update-agent: the access agent is upgraded/);
  });
});
