import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  APPROVER_GROUP,
  arcgisProd,
  type Harness,
  startHarness,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * A Slack user-group lookup that fails while someone clicks Approve: the clicker is told which
 * group could not be read and why (not that Redis is down), nothing changes, and the next click,
 * once Slack answers again, approves.
 */

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  bot = await startHarness(arcgisProd(arcgis));
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

describe('an approval click while Slack will not list a group’s members', () => {
  it('says what failed, changes nothing, and works once Slack answers', async () => {
    const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();

    bot.slack.fail({ method: 'usergroups.users.list', status: 429 });
    expect(await bot.click(USERS.groupApprover, 'approve', requestId)).toBe(200);
    await waitFor(() => bot.ephemerals(USERS.groupApprover).length === 1, 'an answer to the click');
    expect(bot.ephemerals(USERS.groupApprover)[0]!.text).toBe(
      `:warning: opsbot could not read the members of user group ${APPROVER_GROUP} from Slack (ratelimited), so it cannot tell who is in it. Nothing was changed; try again in a minute.`,
    );
    expect((await bot.opsbot.store.get(requestId))?.state).toBe('pending');

    await bot.click(USERS.groupApprover, 'approve', requestId);
    await waitFor(
      async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded',
      'the approved run',
    );
  });
});
