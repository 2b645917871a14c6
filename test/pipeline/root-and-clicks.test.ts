import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * What the approval message says while an action runs, and which clicks on it count: the root
 * always shows the current state (Running with the vendor's status once the call is under way)
 * within the Slack-call budget, and a click must come from the request's own message.
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

describe('the root message', () => {
  it('says Running with the vendor status once the call is under way, even if it was shown before', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 40 } },
    });
    bot = await startHarness({
      ...arcgisProd(arcgis),
      actions: { 'arcgis.deployment.refresh': { pollInterval: '50ms', firstPollDelay: '20ms' } },
    });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const id = await bot.nextRequestId();
    // Another request holds the deployment for a moment, so the root is rendered once before the
    // vendor call (while the run waits): the call itself must edit it again.
    const lock = `${bot.prefix}:lock:arcgis:prod:${deployment.deploymentId}`;
    await bot.redis.set(lock, 'op-other1', 'PX', 1_500);
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(
      () => bot.thread(id).some((m) => m.text.includes('Waiting')),
      'the run to wait for the lock',
    );

    await waitFor(
      () => /Running/.test(textOf(bot.root(id))) && /SUBMITTED|EXECUTING/.test(textOf(bot.root(id))),
      'the root to say Running with the vendor status',
    );
    await waitFor(() => textOf(bot.root(id)).includes('Succeeded'), 'the root to show success');
  });

  it('costs at most status changes + 2 Slack writes for a whole action', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 3 } },
    });
    bot = await startHarness(arcgisProd(arcgis));
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const id = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(() => bot.thread(id).some((m) => m.text.includes('Succeeded')), 'the final reply');
    await waitFor(() => textOf(bot.root(id)).includes('Succeeded'), 'the root to show success');

    // Every write for this request: the root's post and edits, and the thread's replies.
    const root = bot.root(id)!;
    const writes = bot.slack.calls.filter(
      (call) =>
        call.ok &&
        ((call.method === 'chat.update' && call.args.ts === root.ts) ||
          (call.method === 'chat.postMessage' && call.args.thread_ts === root.ts)),
    ).length;
    const timeline = await bot.opsbot.store.timeline(id);
    const statusChanges = timeline.filter((event) =>
      ['approved', 'submitted', 'status'].includes(event.kind),
    ).length;
    // + 1: the root's own post.
    expect(writes + 1).toBeLessThanOrEqual(statusChanges + 2);
  });
});

describe('a click', () => {
  it('is refused, and changes nothing, when it does not come from the request\u2019s own message', async () => {
    const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { EXECUTING: 1 } } });
    bot = await startHarness(arcgisProd(arcgis));
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const id = await bot.nextRequestId();

    // From another channel (a payload replayed or crafted there), from another message, and with
    // a value that is no request id at all (Reject and Cancel too: they open no modal for it).
    await bot.click(USERS.approver, 'approve', id, { channelId: 'C0ELSEWHERE' });
    await bot.click(USERS.approver, 'approve', id, { messageTs: '1700000000.000100' });
    await bot.click(USERS.approver, 'approve', id, { value: 'op-x:../../admin' });
    await bot.click(USERS.approver, 'reject', id, { value: 'op-x:../../admin' });
    await bot.click(USERS.approver, 'cancel', id, { value: '<!channel>' });

    await waitFor(() => bot.ephemerals(USERS.approver).length === 5, 'five refusals');
    const refusals = bot.ephemerals(USERS.approver).map((m) => m.text);
    expect(refusals.filter((text) => text.includes(`does not belong to request ${id}`))).toHaveLength(2);
    expect(refusals.filter((text) => text.includes('does not name an opsbot request'))).toHaveLength(3);
    expect(bot.slack.views).toHaveLength(0);
    expect((await bot.opsbot.store.get(id))?.state).toBe('pending');
    expect(bot.logLines.join('\n')).toContain(
      "refused a click that does not come from the request's own message",
    );

    // The real button still works.
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'succeeded', 'the action to run');
  });
});
