import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { USERS, waitFor } from '../support/harness.js';
import { type Cluster, startCluster } from './cluster.js';

/**
 * Votes race across processes: 30 clicks by 6 people, spread over two web processes and sent all
 * at once, on a request that needs one approval from @sre and one from @security (the requester,
 * in @sre, never counts). Exactly one run starts, the vendor is called once, and exactly two
 * votes — one per rule — are recorded.
 */

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

const SRE = ['U0SRE0001', 'U0SRE0002'];
const SECURITY = ['U0SEC0001', 'U0SEC0002'];
const BOTH = 'U0BOTH001';

describe('approval votes racing over two web processes', { timeout: 120_000 }, () => {
  it('30 concurrent clicks by 6 people give exactly one run, with one vote per rule', async () => {
    cluster = await startCluster({
      arcgis,
      refreshPolicy: { approvals: [{ role: 'sre' }, { role: 'security' }], requesterMayApprove: 'never' },
      policy: {
        roles: {
          sre: { users: [USERS.requester, ...SRE, BOTH] },
          security: { users: [...SECURITY, BOTH] },
        },
      },
    });
    const webs = [await cluster.start('web-a', ['web']), await cluster.start('web-b', ['web'])];
    await cluster.start('worker', ['worker']);
    const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { EXECUTING: 2 } } });
    const id = await cluster.request(webs[0]!, `arcgis refresh-deployment ${deployment.deploymentId}`);

    const people = [USERS.requester, ...SRE, ...SECURITY, BOTH];
    const clicks = people.flatMap((user, i) =>
      [0, 1, 2, 3, 4].map((n) => cluster!.approve(webs[(i + n) % 2]!, id, user)),
    );
    const statuses = await Promise.all(clicks);
    expect(statuses.every((status) => status === 200)).toBe(true);

    await waitFor(async () => (await cluster!.store.get(id))?.phase === 'done', 'the run to end', 60_000);
    const request = (await cluster.store.get(id))!;
    expect(request.state).toBe('succeeded');
    expect(arcgis.counters.refreshCalls[deployment.deploymentId]).toBe(1);
    const voters = request.votes.map((vote) => vote.user);
    expect(voters).toHaveLength(2);
    expect(new Set(voters).size).toBe(2);
    expect(voters).not.toContain(USERS.requester);
    // One vote can fill @sre and the other @security (BOTH may fill either).
    const fills = (user: string, group: string[]) => group.includes(user) || user === BOTH;
    expect(
      (fills(voters[0]!, SRE) && fills(voters[1]!, SECURITY)) ||
        (fills(voters[1]!, SRE) && fills(voters[0]!, SECURITY)),
    ).toBe(true);
    const timeline = await cluster.store.timeline(id);
    expect(timeline.filter((event) => event.kind === 'approved')).toHaveLength(1);
    expect(timeline.filter((event) => event.kind === 'running')).toHaveLength(1);
  });
});
