import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../src/devtools/redis-server.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  arcgisProd,
  type Harness,
  type HarnessOptions,
  startHarness,
  textOf,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * Reject and Cancel on the approval message ask why in a modal: the click opens it (views.open
 * with the click's trigger_id), its submission decides, for the request and message its
 * private_metadata names. A refusal is shown in the modal, on the reason's field; a decision
 * closes it. A click whose modal Slack will not open gets an ephemeral explanation instead.
 */

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

async function startBot(options: Partial<HarnessOptions> = {}) {
  bot = await startHarness({ ...arcgisProd(arcgis), ...options });
}

/** A pending request, asked by the requester, on a refresh that runs to its end once approved. */
async function pendingRequest(): Promise<string> {
  const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { EXECUTING: 1 } } });
  await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
  return bot.nextRequestId();
}

const state = async (id: string) => (await bot.opsbot.store.get(id))?.state;
const viewsOf = (user: string) => bot.slack.views.filter((view) => view.user === user);

describe('Reject', () => {
  it('opens a modal asking why; submitting it rejects with the reason on the root, in the thread and the audit trail', async () => {
    await startBot();
    const id = await pendingRequest();
    const buttons = JSON.stringify(bot.root(id)?.blocks);
    expect(buttons).toContain('"action_id":"ops_approve"');
    expect(buttons).toContain('"action_id":"ops_reject"');
    expect(buttons).toContain('"action_id":"ops_cancel"');

    expect(await bot.click(USERS.approver, 'reject', id)).toBe(200);
    const answer = await bot.submitModal(USERS.approver, {
      reason: 'OPS-9 <!channel> & not <b>this</b> week',
    });
    expect(answer).toEqual({ closed: true, errors: {} });

    const [opened] = viewsOf(USERS.approver);
    expect(opened!.view).toMatchObject({ type: 'modal', callback_id: 'ops_reject_reason' });
    expect(JSON.parse(String(opened!.view.private_metadata))).toEqual({
      requestId: id,
      origin: { channel: bot.root(id)!.channel, messageTs: bot.root(id)!.ts },
    });
    expect(JSON.stringify(opened!.view.blocks)).toContain('"optional":false');
    expect(JSON.stringify(opened!.view.blocks)).toContain('"max_length":500');

    expect(await bot.opsbot.store.get(id)).toMatchObject({
      state: 'rejected',
      rejectedBy: USERS.approver,
      decisionReason: 'OPS-9 <!channel> & not <b>this</b> week',
    });
    const escaped = 'OPS-9 &lt;!channel&gt; &amp; not &lt;b&gt;this&lt;/b&gt; week';
    await waitFor(() => textOf(bot.root(id)).includes('Rejected'), 'the root to say rejected');
    expect(textOf(bot.root(id))).toContain(`Rejected* by <@${USERS.approver}> · “${escaped}”`);
    expect(textOf(bot.root(id))).not.toContain('ops_approve');
    await waitFor(() => bot.thread(id).length > 0, 'the rejection in the thread');
    expect(textOf(bot.thread(id)[0])).toContain(`<@${USERS.approver}> rejected it: “${escaped}”`);
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.at(-1)).toMatchObject({
      kind: 'rejected',
      actor: USERS.approver,
      text: 'rejected: OPS-9 <!channel> & not <b>this</b> week',
    });
    expect(bot.ephemerals(USERS.approver)).toHaveLength(0);
  });

  it('refuses an empty reason in the modal, which stays open for one', async () => {
    await startBot();
    const id = await pendingRequest();
    await bot.click(USERS.approver, 'reject', id);

    const blank = await bot.submitModal(USERS.approver, { reason: '   ' });
    expect(blank).toEqual({
      closed: false,
      errors: { reason: 'A rejection needs a reason. Nothing was changed.' },
    });
    expect(await state(id)).toBe('pending');

    expect(await bot.submitModal(USERS.approver, { reason: 'wrong week' })).toMatchObject({ closed: true });
    expect(await state(id)).toBe('rejected');
  });

  it('refuses, in the modal, a reject by someone who may not approve', async () => {
    await startBot();
    const id = await pendingRequest();
    await bot.click(USERS.outsider, 'reject', id);
    expect(await bot.submitModal(USERS.outsider, { reason: 'I do not like it' })).toEqual({
      closed: false,
      errors: {
        reason: 'Only an approver of arcgis.deployment.refresh can reject it. Nothing was changed.',
      },
    });
    expect(await state(id)).toBe('pending');
    expect(textOf(bot.root(id))).toContain('Waiting for approval');
  });

  it('refuses, in the modal, a reject of a request approved while it was open', async () => {
    await startBot();
    const id = await pendingRequest();
    await bot.click(USERS.approver, 'reject', id);
    await waitFor(() => viewsOf(USERS.approver).length === 1, 'the modal');
    await bot.click(USERS.groupApprover, 'approve', id);
    await waitFor(async () => (await state(id)) !== 'pending', 'the approval');

    expect(await bot.submitModal(USERS.approver, { reason: 'too late' })).toEqual({
      closed: false,
      errors: { reason: `Request ${id} was already approved by someone else.` },
    });
    await waitFor(async () => (await state(id)) === 'succeeded', 'the approved action to run');
  });
});

describe('Cancel', () => {
  it('withdraws a pending request without a reason: the field is optional', async () => {
    await startBot();
    const id = await pendingRequest();
    await bot.click(USERS.requester, 'cancel', id);
    expect(await bot.submitModal(USERS.requester, {})).toEqual({ closed: true, errors: {} });

    const [opened] = viewsOf(USERS.requester);
    expect(opened!.view).toMatchObject({ callback_id: 'ops_cancel_reason', close: { text: 'Back' } });
    expect(JSON.stringify(opened!.view.blocks)).toContain('"optional":true');
    const request = await bot.opsbot.store.get(id);
    expect(request).toMatchObject({ state: 'cancelled', cancelledBy: USERS.requester });
    expect(request?.decisionReason).toBeUndefined();
    await waitFor(() => textOf(bot.root(id)).includes('Cancelled'), 'the root to say cancelled');
    expect(textOf(bot.root(id))).not.toContain('“');
    expect(bot.thread(id)).toHaveLength(0);
  });

  it('withdraws a pending request with a reason, shown on the root and kept in the audit trail', async () => {
    await startBot();
    const id = await pendingRequest();
    await bot.click(USERS.approver, 'cancel', id);
    expect(
      await bot.submitModal(USERS.approver, { reason: 'duplicate of an earlier request' }),
    ).toMatchObject({
      closed: true,
    });
    await waitFor(() => textOf(bot.root(id)).includes('Cancelled'), 'the root to say cancelled');
    expect(textOf(bot.root(id))).toContain(
      `Cancelled* by <@${USERS.approver}> · “duplicate of an earlier request”`,
    );
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.at(-1)).toMatchObject({
      kind: 'cancelled',
      actor: USERS.approver,
      text: 'withdrawn before approval: duplicate of an earlier request',
    });
    // …and said in the thread, as a rejection's reason is.
    await waitFor(() => bot.thread(id).length === 1, 'the reply');
    expect(textOf(bot.thread(id)[0])).toContain('cancelled it: “duplicate of an earlier request”');
  });

  it('refuses, in the modal, a cancel clicked on a message in another channel', async () => {
    await startBot();
    const id = await pendingRequest();
    await bot.click(USERS.approver, 'cancel', id, { channelId: 'C0ELSEWHERE' });
    expect(await bot.submitModal(USERS.approver, { reason: 'forged' })).toEqual({
      closed: false,
      errors: { reason: `That button does not belong to request ${id}. Nothing was changed.` },
    });
    expect(await state(id)).toBe('pending');
  });

  it('answers in the Socket Mode ack too: a refusal in the modal, a decision closing it', async () => {
    await startBot({ socketMode: true });
    const id = await pendingRequest();
    await bot.click(USERS.outsider, 'cancel', id);
    expect(await bot.submitModal(USERS.outsider, {})).toEqual({
      closed: false,
      errors: {
        reason: 'Only the requester or an approver of arcgis.deployment.refresh can cancel it.',
      },
    });
    await bot.click(USERS.requester, 'cancel', id);
    expect(await bot.submitModal(USERS.requester, { reason: 'not needed' })).toMatchObject({ closed: true });
    expect(await state(id)).toBe('cancelled');
  });
});

describe('a click whose modal Slack will not open', () => {
  it('explains an expired trigger_id to the clicker, and changes nothing', async () => {
    await startBot();
    const id = await pendingRequest();
    // Issued 4 s ago: Slack takes a trigger_id for 3 s only.
    await bot.click(USERS.approver, 'reject', id, {
      triggerId: bot.slack.triggerId(USERS.approver, Date.now() - 4_000),
    });
    await waitFor(() => bot.ephemerals(USERS.approver).length === 1, 'an explanation');
    expect(textOf(bot.ephemerals(USERS.approver)[0])).toContain(
      'Slack allows 3 seconds to open the Reject form after a click, and opsbot was slower this time. Nothing was changed: click again.',
    );
    expect(viewsOf(USERS.approver)).toHaveLength(0);
    expect(bot.slack.calls.find((call) => call.method === 'views.open')?.error).toBe('expired_trigger_id');
    expect(await state(id)).toBe('pending');
  });

  it('explains a trigger_id used already (a replayed click), and opens one modal only', async () => {
    await startBot();
    const id = await pendingRequest();
    const triggerId = bot.slack.triggerId(USERS.approver);
    await bot.click(USERS.approver, 'cancel', id, { triggerId });
    await waitFor(() => viewsOf(USERS.approver).length === 1, 'the modal');
    await bot.click(USERS.approver, 'cancel', id, { triggerId });
    await waitFor(() => bot.ephemerals(USERS.approver).length === 1, 'an explanation');
    expect(textOf(bot.ephemerals(USERS.approver)[0])).toContain(
      'the Cancel form for this click was opened already. If you do not see it, click again; nothing was changed.',
    );
    expect(viewsOf(USERS.approver)).toHaveLength(1);
    expect(await state(id)).toBe('pending');
  });
});

describe('a submission while Redis is slow', () => {
  it('closes the modal within Slack’s 3 s, and says a refusal that comes later privately', async () => {
    const redis = await startRedisServer();
    const admin = new Redis(redis.url);
    try {
      await startBot({ redisUrl: redis.url });
      const id = await pendingRequest();
      await bot.click(USERS.outsider, 'reject', id);
      await waitFor(() => viewsOf(USERS.outsider).length === 1, 'the modal');

      // Every command waits 4 s: longer than the web process waits before it answers Slack.
      await admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
      expect(await bot.submitModal(USERS.outsider, { reason: 'nope' })).toEqual({ closed: true, errors: {} });
      await waitFor(() => bot.ephemerals(USERS.outsider).length === 1, 'the refusal, privately', 20_000);
      expect(textOf(bot.ephemerals(USERS.outsider)[0])).toContain(
        'only an approver of arcgis.deployment.refresh can reject it. Nothing was changed.',
      );
      expect(await state(id)).toBe('pending');
    } finally {
      await bot?.stop();
      bot = undefined as unknown as Harness;
      admin.disconnect();
      await redis.destroy();
    }
  }, 30_000);
});
