import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { textOf, USERS, waitFor } from '../support/harness.js';
import { type Cluster, startCluster } from './cluster.js';

/**
 * Reminders with real processes: three workers on one Redis share the delayed reminder and
 * escalation jobs of a request nobody approves, and the thread gets one of each, each no sooner
 * than its point in the approval window, before the request expires.
 */

const LEAD = 'U0LEADER01';

let arcgis: ArcgisSimulator;
let cluster: Cluster | undefined;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('reminders across workers', { timeout: 120_000 }, () => {
  it('post one reminder and one escalation whatever the number of workers', async () => {
    cluster = await startCluster({
      arcgis,
      // Long enough for the reminder jobs to be picked up on a loaded machine, short enough to wait out.
      approvalTimeout: '16s',
      policy: {
        defaults: {
          requesters: { users: [USERS.requester] },
          approvers: { users: [USERS.approver] },
          reminders: { after: 0.5, escalateAfter: 0.75, escalateTo: { users: [LEAD] } },
        },
      },
    });
    const web = await cluster.start('web', ['web']);
    for (const name of ['worker-a', 'worker-b', 'worker-c']) await cluster.start(name, ['worker']);
    const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } });
    const id = await cluster.request(web, `arcgis refresh-deployment ${deployment.deploymentId}`);

    await waitFor(
      async () => (await cluster!.store.get(id))?.state === 'expired',
      'the request to expire',
      40_000,
    );
    await waitFor(() => textOf(cluster!.root(id)).includes('Expired'), 'the root to say expired');

    expect(cluster.updateKeys(id)).toEqual(['reminder', 'escalation']);
    const [reminder, escalation] = cluster.thread(id);
    expect(textOf(reminder)).toContain(`<@${USERS.approver}>`);
    expect(textOf(escalation)).toContain(`<@${LEAD}> please find an approver`);
    // Each was sent no sooner than its point in the window (the fake Slack records each call).
    const plan = (await cluster.store.get(id))!.followUp!;
    const sentAt = (update: string) =>
      cluster!.slack.calls.find(
        (call) =>
          call.ok &&
          (call.args.metadata as { event_payload?: { update?: string } } | undefined)?.event_payload
            ?.update === update,
      )?.at;
    expect(sentAt('reminder')).toBeGreaterThanOrEqual(plan.remindAt!);
    expect(sentAt('escalation')).toBeGreaterThanOrEqual(plan.escalation!.at);
  });
});
