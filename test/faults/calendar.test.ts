import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendSlashCommand } from '../../src/devtools/slack-requests.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import type { BotProcess } from '../support/bot-process.js';
import { CHANNEL, USERS, waitFor } from '../support/harness.js';
import { type Cluster, checkInvariant, startCluster } from './cluster.js';

/**
 * The calendar with real processes on one Redis (two web processes and workers): a freeze refuses
 * a request, a break-glass override needs its override role's approval too, and a freeze set while
 * a request waits refuses the click; a scheduled action runs once, at its time, with
 * three workers, after every process was killed and replaced while it waited; a sticky lock
 * outlives the worker that took it (SIGKILL), blocks others and not its holder, warns its holder
 * once whatever the number of workers, and lets go when it expires.
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

const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;

/** Sends `/ops <text>` as `user` and answers the ephemeral reply it got. */
async function ask(c: Cluster, web: BotProcess, user: string, text: string): Promise<string> {
  const before = c.slack.messages.filter((m) => m.ephemeralTo === user).length;
  await sendSlashCommand(c.peer(web), {
    command: '/ops',
    text,
    userId: user,
    channelId: CHANNEL,
    responseUrl: c.slack.responseUrl(user, CHANNEL),
  });
  let answer = '';
  await waitFor(() => {
    const mine = c.slack.messages.filter((m) => m.ephemeralTo === user);
    answer = mine[before]?.text ?? '';
    return mine.length > before;
  }, `an answer to "${text}"`);
  return answer;
}

describe('the calendar across processes', { timeout: 120_000 }, () => {
  it('refuses a request in a freeze, needs the override role on break-glass, and refuses a click once a freeze starts', async () => {
    cluster = await startCluster({
      arcgis,
      policy: {
        roles: { sre: { users: [USERS.requester, USERS.approver] }, cab: { users: [USERS.groupApprover] } },
        freezes: {
          setBy: ['sre'],
          overrideBy: 'cab',
          windows: [
            {
              name: 'always',
              scope: 'arcgis.prod',
              from: '2020-01-01T00:00',
              until: '2100-01-01T00:00',
              reason: 'audit',
            },
          ],
        },
      },
    });
    const webs = [await cluster.start('web-a', ['web']), await cluster.start('web-b', ['web'])];
    await cluster.start('w1', ['worker']);
    await cluster.start('w2', ['worker']);
    const deployment = () =>
      arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } }).deploymentId;

    const refused = await ask(
      cluster,
      webs[0]!,
      USERS.requester,
      `arcgis refresh-deployment ${deployment()}`,
    );
    expect(refused).toContain('is in a change freeze: *always* (arcgis/prod)');

    const overridden = deployment();
    const id = await cluster.request(
      webs[0]!,
      `arcgis refresh-deployment ${overridden} --override --reason "OPS-1 outage"`,
    );
    // The usual approver's vote counts toward the action's rule; @cab's, on the other web process, meets the quorum.
    expect(await cluster.approve(webs[1]!, id, USERS.approver)).toBe(200);
    await waitFor(async () => (await cluster!.store.get(id))?.votes.length === 1, 'the first vote');
    expect((await cluster.store.get(id))?.state).toBe('pending');
    expect(await cluster.approve(webs[0]!, id, USERS.groupApprover)).toBe(200);
    await waitFor(async () => (await cluster!.store.get(id))?.state === 'succeeded', 'the break-glass run');
    expect(arcgis.counters.refreshCalls[overridden]).toBe(1);

    // A freeze set from Slack after a break-glass request was asked is not one it overrides: the
    // click is refused, whichever web process takes it.
    const waiting = await cluster.request(
      webs[1]!,
      `arcgis refresh-deployment ${deployment()} --override --reason "OPS-2"`,
    );
    expect(
      await ask(
        cluster,
        webs[0]!,
        USERS.approver,
        'freeze arcgis.prod --for 1h --name later --reason "incident"',
      ),
    ).toContain('Change freeze set: *later*');
    await cluster.approve(webs[1]!, waiting, USERS.groupApprover);
    await waitFor(
      async () => (await cluster!.store.get(waiting))?.blocked?.startsWith('change freeze later') === true,
      'the refusal',
    );
    expect((await cluster.store.get(waiting))?.state).toBe('pending');
  });

  it('runs a scheduled action once, at its time, after every process was killed and replaced', async () => {
    cluster = await startCluster({ arcgis });
    const web = await cluster.start('web', ['web']);
    const workers = await Promise.all(['w1', 'w2', 'w3'].map((name) => cluster!.start(name, ['worker'])));
    const { deploymentId } = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    const runAt = Math.ceil((Date.now() + 15_000) / 1000) * 1000;
    const id = await cluster.request(web, `arcgis refresh-deployment ${deploymentId} --at ${iso(runAt)}`);
    expect(await cluster.approve(web, id)).toBe(200);
    await waitFor(async () => (await cluster!.store.get(id))?.state === 'approved', 'the approval');

    // Every process dies while it waits; new ones take their places.
    await Promise.all([web, ...workers].map((process) => process.crash()));
    expect(Date.now()).toBeLessThan(runAt);
    await cluster.start('web-2', ['web']);
    for (const name of ['w4', 'w5', 'w6']) await cluster.start(name, ['worker']);

    await waitFor(
      async () => (await cluster!.store.get(id))?.phase === 'done',
      'the scheduled run to end',
      60_000,
    );
    await waitFor(() => cluster!.updateKeys(id).at(-1) === 'final', 'its closing reply');
    const [request] = await cluster.requests([id]);
    expect(request!.state).toBe('succeeded');
    expect(request!.startedAt).toBeGreaterThanOrEqual(runAt);
    checkInvariant(cluster, arcgis, [request!], () => deploymentId);
  });

  it('keeps a sticky lock through a worker SIGKILL, lets its holder through, warns once, then lets go', async () => {
    cluster = await startCluster({
      arcgis,
      policy: {
        defaults: {
          requesters: { users: [USERS.requester, USERS.approver] },
          approvers: { users: [USERS.approver, USERS.requester] },
        },
        locks: { warnBefore: '4s' },
      },
    });
    const web = await cluster.start('web', ['web']);
    const first = await cluster.start('w1', ['worker']);
    const { deploymentId } = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } },
    });
    const taken = await ask(
      cluster,
      web,
      USERS.requester,
      // Long enough to outlast starting three workers on a loaded machine.
      `lock arcgis.prod ${deploymentId} --for 25s --reason "disk swap"`,
    );
    expect(taken).toContain(`:lock: Locked ${deploymentId} on arcgis/prod until`);

    // The worker that took it dies; three others carry on.
    await first.crash();
    await Promise.all(['w2', 'w3', 'w4'].map((name) => cluster!.start(name, ['worker'])));
    const refused = await ask(cluster, web, USERS.approver, `arcgis refresh-deployment ${deploymentId}`);
    expect(refused).toContain(`is locked by <@${USERS.requester}>`);
    expect(refused).toContain('“disk swap”');

    const own = await cluster.request(web, `arcgis refresh-deployment ${deploymentId}`);
    await cluster.approve(web, own, USERS.approver);
    await waitFor(async () => (await cluster!.store.get(own))?.state === 'succeeded', 'the holder’s own run');

    const warnings = () => cluster!.slack.dms(USERS.requester).filter((m) => m.text.includes('Your lock'));
    await waitFor(() => warnings().length > 0, 'the warning', 20_000);
    expect(warnings()[0]!.text).toContain(
      `:hourglass: Your lock on ${deploymentId} on arcgis/prod (“disk swap”) expires`,
    );
    await waitFor(
      async () => !(await ask(cluster!, web, USERS.approver, 'locks')).includes(deploymentId),
      'the lock to expire',
      45_000,
    );
    expect(warnings()).toHaveLength(1);
    const after = await cluster.request(web, `arcgis refresh-deployment ${deploymentId}`);
    expect(after).toMatch(/^op-/);
  });
});
