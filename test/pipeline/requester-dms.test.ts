import { WebClient } from '@slack/web-api';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createQueues } from '../../src/jobs/queues.js';
import { Metrics } from '../../src/observability/metrics.js';
import { RequestLifecycle } from '../../src/requests/lifecycle.js';
import { Policy } from '../../src/requests/policy.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { Outbox } from '../../src/slack/outbox.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import type { JobOutcome } from '../../src/vendors/arcgis/simulator-jobs.js';
import {
  APPROVER_GROUP,
  arcgisProd,
  CHANNEL,
  type Harness,
  type HarnessOptions,
  startHarness,
  textOf,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * The requester hears how their request went, by DM, when `notify.requester` says so: its
 * approval, its rejection, its expiry and the run's end, one message each, linking back to the
 * request in its channel. The DMs go through the request's outbox like every other message, and
 * one Slack refuses (the app's Messages tab is off) is logged and holds nothing else up.
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

const PEOPLE = {
  requesters: { users: [USERS.requester, USERS.approver] },
  approvers: { users: [USERS.approver], groups: [APPROVER_GROUP] },
};

async function startBot(notify: boolean, extra: Partial<HarnessOptions> = {}): Promise<Harness> {
  bot = await startHarness({
    ...arcgisProd(arcgis),
    policy: { defaults: { ...PEOPLE, reminders: false, ...(notify ? { notify: { requester: true } } : {}) } },
    ...extra,
  });
  return bot;
}

async function request(
  polls: Record<string, number> = { SUBMITTED: 1, EXECUTING: 1 },
  outcome: JobOutcome = 'COMPLETED',
) {
  const deployment = arcgis.addDeployment({ script: { outcome, polls } });
  await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
  return bot.nextRequestId();
}

const dms = () => bot.slack.dms(USERS.requester).map(textOf);

/** Waits until the request has ended and every message queued for it has gone to Slack. */
async function settled(requestId: string): Promise<void> {
  await waitFor(async () => (await bot.opsbot.store.get(requestId))?.phase === 'done', 'the request to end');
  await waitFor(
    async () => (await bot.redis.llen(`${bot.prefix}:req:${requestId}:outbox`)) === 0,
    'its outbox to drain',
  );
}

describe('the requester’s DMs', () => {
  it.each<[string, JobOutcome, Record<string, number>, string]>([
    ['succeeds', 'COMPLETED', { SUBMITTED: 1, EXECUTING: 1 }, '*Succeeded*'],
    ['fails', 'FAILED', { SUBMITTED: 1, EXECUTING: 1 }, '*Failed*'],
  ])('tell of the approval and of the end when the run %s, once each', async (_name, outcome, polls, end) => {
    await startBot(true);
    const id = await request(polls, outcome);
    await bot.click(USERS.approver, 'approve', id);
    await settled(id);

    const told = dms();
    expect(told).toHaveLength(2);
    expect(told[0]).toContain(`*Approved* by <@${USERS.approver}>`);
    expect(told[1]).toContain(end);
    for (const text of told) expect(text).toContain(`\`${id}\` in <#${CHANNEL}>`);
  });

  it('tell of a run cancelled while it runs', async () => {
    await startBot(true, {
      actions: { 'arcgis.deployment.refresh': { pollInterval: '50ms', firstPollDelay: '20ms' } },
    });
    const id = await request({ SUBMITTED: 1, EXECUTING: 100_000 });
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'running', 'the run');
    await bot.command(USERS.requester, `cancel ${id}`);
    await settled(id);

    expect(dms()).toHaveLength(2);
    expect(dms()[1]).toContain(`*Cancelled* by <@${USERS.requester}>`);
  });

  it('tell of a run that outlived its deadline', async () => {
    await startBot(true, { actions: { 'arcgis.deployment.refresh': { deadline: '400ms' } } });
    const id = await request({ SUBMITTED: 1, EXECUTING: 100_000 });
    await bot.click(USERS.approver, 'approve', id);
    await settled(id);

    expect(dms()).toHaveLength(2);
    expect(dms()[1]).toContain('*Timed out waiting*');
  });

  it('tell of an expiry', async () => {
    await startBot(true, { approvalTimeout: '300ms' });
    const id = await request();
    await settled(id);

    expect(dms()).toHaveLength(1);
    expect(dms()[0]).toContain('*Expired* · nobody approved it in time');
  });

  it('tell of a rejection and its reason, escaped', async () => {
    await startBot(true);
    const id = await request();
    const decision = await lifecycleBesideTheBot().reject(
      id,
      USERS.approver,
      undefined,
      'not <!here> & not now',
    );
    expect(decision.ok).toBe(true);
    await settled(id);

    expect(dms()).toHaveLength(1);
    expect(dms()[0]).toContain(`*Rejected* by <@${USERS.approver}> · “not &lt;!here&gt; &amp; not now”`);
  });

  it('are not sent when the setting is off', async () => {
    await startBot(false);
    const id = await request();
    await bot.click(USERS.approver, 'approve', id);
    await settled(id);

    expect(textOf(bot.root(id))).toContain('Succeeded');
    expect(dms()).toEqual([]);
    expect(bot.slack.calls.filter((call) => call.args.channel === USERS.requester)).toEqual([]);
  });

  it('refused by Slack (the Messages tab is off) are logged and hold none of the thread’s messages up', async () => {
    await startBot(true, { slackMessagesTab: false });
    const id = await request();
    await bot.click(USERS.approver, 'approve', id);
    await settled(id);

    expect(textOf(bot.root(id))).toContain('Succeeded');
    expect(bot.thread(id).map(textOf).at(-1)).toContain('Succeeded');
    expect(dms()).toEqual([]);
    const refused = bot.slack.calls.filter((call) => call.args.channel === USERS.requester);
    expect(refused.map((call) => call.error)).toEqual(['messages_tab_disabled', 'messages_tab_disabled']);
    const logged = bot.logLines.filter((line) => line.includes('Slack refused a message for good'));
    expect(logged.map((line) => JSON.parse(line).update)).toEqual(['dm-approved', 'dm-end']);
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.filter((event) => event.kind === 'slack-error').map((event) => event.text)).toEqual([
      'Slack refused dm-approved: messages_tab_disabled',
      'Slack refused dm-end: messages_tab_disabled',
    ]);
  });
});

/**
 * A second lifecycle on the bot's Redis state, as another web process has one: rejection has no
 * button yet, so the test decides there what a click would.
 */
function lifecycleBesideTheBot(): RequestLifecycle {
  const config = loadConfig({
    env: { T: 'xoxb-dm-test', S: 'signing-dm-test', P: arcgis.password },
    document: {
      slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
      targets: { arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'P' } } } },
      policy: { channels: [CHANNEL], defaults: PEOPLE },
    },
  });
  const queues = createQueues(bot.redis, bot.prefix);
  const outbox = new Outbox(bot.redis, bot.prefix, queues.slack);
  return new RequestLifecycle({
    store: bot.opsbot.store,
    outbox,
    queues,
    policy: new Policy(config, new WebClient('xoxb-dm-test')),
    locks: new ResourceLocks(bot.redis, bot.prefix),
    log: pino({ level: 'silent' }),
    metrics: new Metrics(),
    deliverNow: (requestId) => outbox.kick(requestId),
  });
}
