import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type Harness, startHarness, textOf, waitFor } from '../support/harness.js';

/**
 * Approvals with a quorum through the whole bot: a prod refresh needs one approval from @sre and
 * one from @security. Dave is in both roles, Bob in @sre only, Frank in @security only; Alice (in
 * @sre) asks, and her own approval never counts. Votes are assigned to rules by a matching, so
 * overlapping rules cannot deadlock, and the root shows the tally as it grows.
 */

const ALICE = 'U0ALICE01';
const BOB = 'U0BOB0001';
const DAVE = 'U0DAVE001';
const FRANK = 'U0FRANK01';
const CAROL = 'U0CAROL01';
const ERIN = 'U0ERIN001';

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  await bot?.stop();
});

async function startQuorumBot() {
  bot = await startHarness({
    env: { ARCGIS_PASSWORD: arcgis.password },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
    },
    actions: {
      'arcgis.deployment.refresh': {
        approvals: [{ role: 'sre' }, { role: 'security' }],
        requesterMayApprove: 'never',
      },
    },
    policy: {
      roles: { sre: { users: [ALICE, BOB, DAVE, ERIN] }, security: { users: [DAVE, FRANK] } },
      defaults: { requesters: ['sre'], approvers: ['sre'] },
    },
  });
}

async function requestRefresh(): Promise<string> {
  const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { EXECUTING: 1 } } });
  await bot.command(ALICE, `arcgis refresh-deployment ${deployment.deploymentId}`);
  const id = await bot.nextRequestId();
  deploymentOf.set(id, deployment.deploymentId);
  return id;
}

/** Each request's deployment, to count the refreshes ArcGIS received for it. */
const deploymentOf = new Map<string, string>();
const refreshesOf = (id: string) => arcgis.counters.refreshCalls[deploymentOf.get(id)!] ?? 0;

/** The ephemeral answers `user` got, newest last. */
const answers = (user: string) => bot.ephemerals(user).map((m) => m.text);

describe('approval rules with a quorum', () => {
  it('counts Dave toward whichever rule is still open, so Dave then Bob meets @sre + @security', async () => {
    await startQuorumBot();
    const id = await requestRefresh();
    expect(textOf(bot.root(id))).toContain('Approvals: 0 of 2');

    await bot.click(DAVE, 'approve', id);
    await waitFor(() => answers(DAVE).length === 1, "Dave's answer");
    expect(answers(DAVE)[0]).toContain('Your approval counts: 1 of 2 · still needs');
    await waitFor(() => textOf(bot.root(id)).includes('Approvals: 1 of 2'), 'the root to show the tally');
    expect((await bot.opsbot.store.get(id))?.state).toBe('pending');
    expect(refreshesOf(id)).toBe(0);

    // Bob is in @sre only: Dave moves to @security, and the quorum is met.
    await bot.click(BOB, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'succeeded', 'the run');
    expect(refreshesOf(id)).toBe(1);
    const request = (await bot.opsbot.store.get(id))!;
    expect(request.votes.map((vote) => vote.user)).toEqual([DAVE, BOB]);
    await waitFor(() => textOf(bot.root(id)).includes('Succeeded'), 'the root to show success');
    expect(textOf(bot.root(id))).toContain(`approved by <@${DAVE}>, <@${BOB}>`);
    const kinds = (await bot.opsbot.store.timeline(id)).map((event) => `${event.kind}:${event.actor ?? ''}`);
    expect(kinds).toContain(`vote:${DAVE}`);
    expect(kinds).toContain(`approved:${BOB}`);
  });

  it('refuses a click that adds nothing, saying what is met and what is still needed', async () => {
    await startQuorumBot();
    const id = await requestRefresh();
    await bot.click(BOB, 'approve', id);
    await waitFor(() => answers(BOB).length === 1, "Bob's answer");

    // The requester, someone in no role, and Bob again all add nothing.
    await bot.click(ALICE, 'approve', id);
    await waitFor(() => answers(ALICE).length === 1, "Alice's answer");
    expect(answers(ALICE)[0]).toContain('four eyes apply');
    await bot.click(CAROL, 'approve', id);
    await waitFor(() => answers(CAROL).length === 1, "Carol's answer");
    expect(answers(CAROL)[0]).toContain('none of the roles it needs (@sre, @security)');
    await bot.click(BOB, 'approve', id);
    await waitFor(() => answers(BOB).length === 2, "Bob's second answer");
    expect(answers(BOB)[1]).toContain('already approved');

    const request = (await bot.opsbot.store.get(id))!;
    expect(request.state).toBe('pending');
    expect(request.votes.map((vote) => vote.user)).toEqual([BOB]);
    expect(textOf(bot.root(id))).toContain('still needs @security');

    await bot.click(FRANK, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'succeeded', 'the run');
    expect(refreshesOf(id)).toBe(1);
  });

  it('refuses a second @sre-only approval: "@sre is already met; still needs @security"', async () => {
    await startQuorumBot();
    const id = await requestRefresh();
    await bot.click(BOB, 'approve', id);
    await waitFor(() => answers(BOB).length === 1, "Bob's answer");
    await bot.click(ERIN, 'approve', id);
    await waitFor(() => answers(ERIN).length === 1, "Erin's answer");
    expect(answers(ERIN)[0]).toContain('@sre is already met; still needs @security');
    expect((await bot.opsbot.store.get(id))?.votes.map((vote) => vote.user)).toEqual([BOB]);
  });

  it('refuses to open a request its rules could never approve', async () => {
    bot = await startHarness({
      env: { ARCGIS_PASSWORD: arcgis.password },
      targets: {
        arcgis: {
          prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } },
        },
      },
      actions: {
        'arcgis.deployment.refresh': { approvals: [{ role: 'security' }], requesterMayApprove: 'never' },
      },
      policy: {
        roles: { sre: { users: [ALICE] }, security: { users: [ALICE] } },
        defaults: { requesters: ['sre'], approvers: ['sre'] },
      },
    });
    const deployment = arcgis.addDeployment();
    await bot.command(ALICE, `arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(() => answers(ALICE).length === 1, 'the refusal');
    expect(answers(ALICE)[0]).toContain(
      'could never be approved: @security has no member besides the requester',
    );
  });
});
