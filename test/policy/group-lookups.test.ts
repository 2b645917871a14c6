import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type FakeSlack, startFakeSlack } from '../../src/devtools/fake-slack.js';
import { OpsError } from '../../src/errors.js';
import { Policy } from '../../src/requests/policy.js';

/**
 * User-group lookups against the fake Slack Web API (which counts calls and fails on request):
 * single-flight when cold, cached afterwards, and a failure that says which group and why.
 * Approvers of every action are the user group S0APPROVE (Dave is in it) and Bob by id; of the
 * (high-risk) Workspace reinstall, the group only.
 */

const TOKEN = 'xoxb-group-lookups';
const GROUP = 'S0APPROVE';
const DAVE = 'U0DAVE1';
const BOB = 'U0BOB1';
const ACTION = 'arcgis.deployment.refresh';
/** High-risk (four eyes), approved by the group only. */
const REINSTALL = 'workspace.server.reinstall';

let slack: FakeSlack;
let client: WebClient;

beforeEach(async () => {
  slack = await startFakeSlack({ botToken: TOKEN, userGroups: { [GROUP]: [DAVE] } });
  client = new WebClient(TOKEN, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
});
afterEach(async () => {
  await slack.close();
});

function policy(cacheMs?: number): Policy {
  const config = loadConfig({
    env: { T: TOKEN, S: 'signing-secret' },
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      policy: {
        channels: ['*'],
        defaults: { requesters: { users: [BOB] }, approvers: { users: [BOB], groups: [GROUP] } },
        actions: { [REINSTALL]: { approvers: { groups: [GROUP] } } },
      },
    },
  });
  return new Policy(config, client, cacheMs);
}

const lookups = () => slack.calls.filter((call) => call.method === 'usergroups.users.list');

describe('user-group lookups', () => {
  it('makes one Slack call for 50 concurrent checks arriving cold', async () => {
    const checks = policy();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => checks.mayApprove(ACTION, i % 2 === 0 ? DAVE : 'U0EVE1')),
    );
    expect(answers.filter(Boolean)).toHaveLength(25);
    expect(lookups()).toHaveLength(1);
    // Cached afterwards: more checks, no more calls.
    expect(await checks.mayApprove(ACTION, DAVE)).toBe(true);
    expect(lookups()).toHaveLength(1);
  });

  it('asks Slack again once the cached answer has expired', async () => {
    const checks = policy(0);
    expect(await checks.mayApprove(ACTION, DAVE)).toBe(true);
    expect(await checks.mayApprove(ACTION, DAVE)).toBe(true);
    expect(lookups()).toHaveLength(2);
  });

  it('needs no lookup for someone listed by id', async () => {
    expect(await policy().mayApprove(ACTION, BOB)).toBe(true);
    expect(lookups()).toHaveLength(0);
  });

  it('looks groups up to tell whether a request could ever be approved only when listed users do not settle it', async () => {
    const checks = policy();
    expect(await checks.feasible(checks.effective(ACTION, 'prod')!, DAVE)).toEqual({ ok: true });
    expect(lookups()).toHaveLength(0);
    expect(await checks.feasible(checks.effective(REINSTALL, 'apac')!, DAVE)).toEqual({
      ok: false,
      reason: 'approvers has no member besides the requester',
    });
    expect(lookups()).toHaveLength(1);
  });

  it('says which group it could not read and why, to every caller waiting on it', async () => {
    slack.fail({ method: 'usergroups.users.list', status: 429 });
    const checks = policy();
    const failures = await Promise.all(
      Array.from({ length: 5 }, () =>
        checks.mayApprove(ACTION, DAVE).then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    );
    expect(lookups()).toHaveLength(1);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(OpsError);
      expect(failure).toMatchObject({ code: 'slack.usergroup_lookup', retryable: true });
      expect((failure as Error).message).toBe(
        `opsbot could not read the members of user group ${GROUP} from Slack (ratelimited), so it cannot tell who is in it. Nothing was changed; try again in a minute.`,
      );
    }
    // A failure is not cached: the next check asks again, and Slack answers this time.
    expect(await checks.mayApprove(ACTION, DAVE)).toBe(true);
    expect(lookups()).toHaveLength(2);
  });

  it('names Slack’s own error', async () => {
    slack.fail({ method: 'usergroups.users.list', error: 'missing_scope' });
    await expect(policy().mayApprove(ACTION, DAVE)).rejects.toThrow(
      `opsbot could not read the members of user group ${GROUP} from Slack (missing_scope)`,
    );
  });
});
