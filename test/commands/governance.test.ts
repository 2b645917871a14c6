import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { CHANNEL, type Harness, OTHER_CHANNEL, startHarness, USERS } from '../support/harness.js';

/**
 * Roles, channel bindings and per-target policy through the whole bot, over signed HTTP.
 *
 * Roles: @sre (the requester and the approver), @security (the requester only). CHANNEL is bound
 * to everything; OTHER_CHANNEL to the arcgis deployment refresh on arcgis.staging only. Anyone in @sre may request
 * and approve; on arcgis prod a deployment refresh needs @sre and @security, and the requester's
 * own approval never counts, so the requester can never get it approved there. Auditors are left
 * at their default (nobody).
 */

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  const target = { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } };
  bot = await startHarness({
    env: { ARCGIS_PASSWORD: arcgis.password },
    targets: { arcgis: { prod: target, staging: target } },
    actions: {
      'arcgis.deployment.refresh': {
        targets: {
          prod: { approvals: [{ role: 'sre' }, { role: 'security' }], requesterMayApprove: 'never' },
        },
      },
    },
    policy: {
      roles: {
        sre: { users: [USERS.requester, USERS.approver] },
        security: { users: [USERS.requester] },
      },
      channels: {
        [CHANNEL]: { actions: ['*'], targets: ['*'] },
        [OTHER_CHANNEL]: { actions: ['arcgis.deployment.refresh'], targets: ['arcgis.staging'] },
      },
      defaults: { requesters: ['sre'], approvers: ['sre'] },
    },
  });
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

const refresh = (target: string) =>
  `arcgis refresh-deployment ${arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } }).deploymentId} --target ${target}`;

const channelPosts = () => bot.slack.calls.filter((call) => call.method === 'chat.postMessage').length;

describe('/ops whoami', () => {
  it('explains why someone outside the requester roles is refused, naming the roles that would do', async () => {
    const posts = channelPosts();
    const refusal = await bot.ask(USERS.outsider, refresh('staging'));
    expect(refusal.text).toBe(
      ':warning: you are not allowed to request arcgis.deployment.refresh here: you are in none of its requester roles (@sre). `/ops whoami arcgis.deployment.refresh` explains.',
    );
    const why = await bot.ask(USERS.outsider, 'whoami arcgis.deployment.refresh');
    expect(why.text).toContain('*What <@U0OUTSIDE1> may do with `arcgis.deployment.refresh` here*');
    expect(why.text).toContain('You are in no declared role.');
    expect(why.text).toContain(
      '• `staging`: you may not request it here: you are in none of its requester roles (@sre). Approval: @sre; you are not in it, so you may not approve it.',
    );
    expect(channelPosts()).toBe(posts);
  });

  it('explains a refusal by the channel’s binding, target by target', async () => {
    const refusal = await bot.ask(USERS.requester, refresh('prod'), OTHER_CHANNEL);
    expect(refusal.text).toContain(
      "you are not allowed to request arcgis.deployment.refresh on arcgis/prod here: this channel's binding (policy.channels.C0OTHERCH1) does not include target arcgis.prod.",
    );
    const why = await bot.ask(USERS.requester, 'whoami arcgis.deployment.refresh', OTHER_CHANNEL);
    expect(why.text).toContain(
      'This channel (policy.channels.C0OTHERCH1): actions arcgis.deployment.refresh · targets arcgis.staging.',
    );
    expect(why.text).toContain(
      "• `prod`: you may not request it here: this channel's binding (policy.channels.C0OTHERCH1) does not include target arcgis.prod.",
    );
    expect(why.text).toContain('• `staging`: you may request it (as @sre).');
  });

  it('sums up every action in one line each, in the channel asked from', async () => {
    const here = await bot.ask(USERS.approver, 'whoami', OTHER_CHANNEL);
    expect(here.text).toContain('Your roles: @sre.');
    expect(here.text).toContain(
      '• `arcgis.deployment.refresh`: request on staging (as @sre) · approve on staging (as @sre).',
    );
    expect(here.text).toContain("• `arcgis.groups.refresh`: not in this channel's binding.");
    // Read-only and ephemeral: nothing posted in the channel.
    expect(here.ephemeralTo).toBe(USERS.approver);
  });

  it('refuses an unknown action with the list of actions', async () => {
    const answer = await bot.ask(USERS.approver, 'whoami ece.restart');
    expect(answer.text).toContain('unknown action "ece.restart" (actions: arcgis.deployment.refresh, ');
    expect(answer.text).toContain('Usage: `/ops whoami [<action>] [--target <name>]`');
  });
});

describe('requests against per-target policy and bindings', () => {
  it('refuses, when asked, a request whose approval rules can never be met', async () => {
    const posts = channelPosts();
    const refusal = await bot.ask(USERS.requester, refresh('prod'));
    expect(refusal.text).toBe(
      ':warning: arcgis.deployment.refresh on arcgis/prod could never be approved: @security has no member besides the requester. Nothing was requested; an opsbot admin can change the approval rules.',
    );
    expect(channelPosts()).toBe(posts);
    // On staging the flat rule (one approval from @sre) applies, and the request opens.
    await bot.ask(USERS.requester, 'help');
    await bot.command(USERS.requester, refresh('staging'));
    await bot.nextRequestId();
  });

  it('lists in help only what the channel’s binding and the person’s roles allow together', async () => {
    const there = await bot.ask(USERS.approver, 'help', OTHER_CHANNEL);
    expect(there.text).toContain('/ops arcgis refresh-deployment');
    expect(there.text).not.toContain('/ops arcgis refresh-groups');
    expect((await bot.ask(USERS.approver, 'help')).text).toContain('/ops arcgis refresh-groups');
    // Nor actions of a vendor with no target configured: nothing could be asked of them.
    expect((await bot.ask(USERS.approver, 'help')).text).not.toContain('/ops ece restart');
    expect((await bot.ask(USERS.outsider, 'help')).text).toContain('You may not request any vendor action.');
  });

  it('keeps a request private to its channel by default: no one else sees it from another channel', async () => {
    const id = (await bot.ask(USERS.approver, 'history')).text.match(/`(op-[a-z0-9]+)`/)?.[1];
    expect(id).toBeDefined();
    expect((await bot.ask(USERS.outsider, `status ${id}`)).text).toContain(`*${id}* · *pending*`);
    const elsewhere = await bot.ask(USERS.outsider, `status ${id}`, OTHER_CHANNEL);
    expect(elsewhere.text).toBe(`:warning: no request ${id} that you may see`);
  });
});
