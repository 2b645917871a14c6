import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type FakeSlack, startFakeSlack } from '../../src/devtools/fake-slack.js';
import { evaluateVote } from '../../src/policy/quorum.js';
import { Policy } from '../../src/requests/policy.js';

/**
 * The `Policy` API the request lifecycle builds on, over a real config and the fake Slack (for
 * group members). ArcGIS has targets prod and staging. @sre: Bob by id and the group S0SRE (Dave);
 * @security: Sue. Anyone in @sre may request and approve; on prod, a deployment refresh needs @sre
 * and @security and the requester never counts; staging is off for group refreshes. Channel
 * C0STAGE1 is bound to arcgis staging only.
 */

const TOKEN = 'xoxb-policy-api';
const [BOB, DAVE, SUE, EVE] = ['U0BOB1', 'U0DAVE1', 'U0SUE1', 'U0EVE1'];
const REFRESH = 'arcgis.deployment.refresh';
const GROUPS = 'arcgis.groups.refresh';

let slack: FakeSlack;
let policy: Policy;

beforeAll(async () => {
  slack = await startFakeSlack({ botToken: TOKEN, userGroups: { S0SRE: [DAVE] } });
  const arcgis = { url: 'https://gis.example.com/arcgis', username: 'admin', password: { env: 'P' } };
  const config = loadConfig({
    env: { T: TOKEN, S: 'signing-secret', P: 'password' },
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      targets: { arcgis: { prod: arcgis, staging: arcgis } },
      policy: {
        roles: { sre: { users: [BOB], groups: ['S0SRE'] }, security: { users: [SUE] } },
        channels: { C0OPS1: {}, C0STAGE1: { targets: ['arcgis.staging'] } },
        defaults: { requesters: ['sre'], approvers: ['sre'] },
        actions: {
          [REFRESH]: {
            targets: {
              prod: { approvals: [{ role: 'sre' }, { role: 'security' }], requesterMayApprove: 'never' },
            },
          },
          [GROUPS]: { targets: { staging: { enabled: false } } },
        },
      },
    },
  });
  policy = new Policy(
    config,
    new WebClient(TOKEN, {
      slackApiUrl: slack.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    }),
  );
});
afterAll(async () => {
  await slack?.close();
});

describe('Policy', () => {
  it('answers mayRequestHere exactly per target, and for any target when none is given', async () => {
    expect(await policy.mayRequestHere(DAVE, 'C0OPS1', REFRESH, 'prod')).toEqual({ ok: true });
    expect(await policy.mayRequestHere(DAVE, 'C0STAGE1', REFRESH, 'prod')).toEqual({
      ok: false,
      reason: "this channel's binding (policy.channels.C0STAGE1) does not include target arcgis.prod",
    });
    expect(await policy.mayRequestHere(DAVE, 'C0STAGE1', REFRESH)).toEqual({ ok: true });
    expect(await policy.mayRequestHere(DAVE, 'C0STAGE1', GROUPS)).toEqual({
      ok: false,
      reason:
        "on prod: this channel's binding (policy.channels.C0STAGE1) does not include target arcgis.prod; on staging: arcgis.groups.refresh is turned off on staging (enabled: false)",
    });
    expect(await policy.mayRequestHere(EVE, 'C0OPS1', REFRESH)).toEqual({
      ok: false,
      reason: 'you are in none of its requester roles (@sre)',
    });
    expect(await policy.mayRequestHere(DAVE, 'C0ELSE1', REFRESH, 'prod')).toMatchObject({ ok: false });
    expect(policy.channelAllowed('C0ELSE1')).toBe(false);
  });

  it('is conservative without a target: mayApprove must hold on every target', async () => {
    expect(await policy.mayApprove(REFRESH, SUE, { target: 'prod' })).toBe(true);
    expect(await policy.mayApprove(REFRESH, SUE)).toBe(false);
    expect(await policy.mayApprove(REFRESH, DAVE)).toBe(true);
  });

  it('gives each voter the rules they may fill, for the quorum to count without another lookup', async () => {
    const prod = policy.effective(REFRESH, 'prod')!;
    expect(prod.approvals.map((rule) => rule.label)).toEqual(['@sre', '@security']);
    expect(await policy.eligibleRules(prod, DAVE)).toEqual([0]);
    expect(await policy.eligibleRules(prod, SUE)).toEqual([1]);
    expect(await policy.eligibleRules(prod, EVE)).toEqual([]);
    const dave = { user: DAVE, eligible: await policy.eligibleRules(prod, DAVE) };
    const sue = { user: SUE, eligible: await policy.eligibleRules(prod, SUE) };
    const first = evaluateVote(prod.approvals, [], dave, BOB, prod.requesterCounts);
    expect(first).toMatchObject({ accepted: true, met: false });
    expect(evaluateVote(prod.approvals, [dave], sue, BOB, prod.requesterCounts)).toMatchObject({
      accepted: true,
      met: true,
    });
  });

  it('tells whether a request could ever be approved, for its requester', async () => {
    const prod = policy.effective(REFRESH, 'prod')!;
    expect(await policy.feasible(prod, BOB)).toEqual({ ok: true });
    expect(await policy.feasible(prod, SUE)).toEqual({
      ok: false,
      reason: '@security has no member besides the requester',
    });
  });

  it('shows a request outside its channel to its approvers, not to others', async () => {
    const request = { channel: 'C0OPS1', requester: BOB, actionId: REFRESH, target: 'prod' };
    expect(await policy.maySee(request, EVE, 'C0OPS1', [])).toBe(true);
    expect(await policy.maySee(request, EVE, 'C0STAGE1', [])).toBe(false);
    expect(await policy.maySee(request, EVE, 'C0STAGE1', [EVE])).toBe(true);
    expect(await policy.maySee(request, SUE, 'C0STAGE1', [])).toBe(true);
    expect(await policy.isAuditor(SUE)).toBe(false);
  });
});
