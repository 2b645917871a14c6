import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createQueues, ESCALATE_JOB, type Queues, REMIND_JOB } from '../../src/jobs/queues.js';
import { createFollowUp, followUpJobIds } from '../../src/jobs/remind-request.js';
import { Outbox } from '../../src/slack/outbox.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  APPROVER_GROUP,
  arcgisProd,
  type Harness,
  startHarness,
  textOf,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * Reminders and escalation through the whole bot. Rules: one approval from @sre (the approver,
 * listed by id) and one from @security (a user group); the requester never counts. A reminder
 * half way, an escalation to @leads at four fifths of the (15 minute) window: the tests bring the
 * delayed jobs forward with BullMQ's own `promote` rather than wait for them.
 */

const LEAD = 'U0LEADER01';
const LEADS_GROUP = 'S0LEADSGRP';

let arcgis: ArcgisSimulator;
let bot: Harness;
let queues: Queues;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  await queues?.close();
  await bot?.stop();
});

async function startBot(): Promise<Harness> {
  bot = await startHarness({
    ...arcgisProd(arcgis),
    policy: {
      roles: {
        sre: { users: [USERS.approver] },
        security: { groups: [APPROVER_GROUP] },
        leads: { users: [LEAD], groups: [LEADS_GROUP] },
      },
      defaults: {
        requesters: { users: [USERS.requester] },
        approvals: [{ role: 'sre' }, { role: 'security' }],
        requesterMayApprove: 'never',
        reminders: { after: 0.5, escalateAfter: 0.8, escalateTo: 'leads' },
      },
    },
  });
  queues = createQueues(bot.redis, bot.prefix);
  return bot;
}

async function request(): Promise<string> {
  const deployment = arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } });
  await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
  return bot.nextRequestId();
}

/** Runs a delayed reminder or escalation job now, and waits for a worker to finish it. */
async function fireNow(jobId: string): Promise<void> {
  const job = await queues.actions.getJob(jobId);
  if (!job) throw new Error(`no job ${jobId}`);
  await job.promote();
  await waitFor(async () => (await job.getState()) === 'completed', `${jobId} to complete`);
}

const replies = (requestId: string, word: string) =>
  bot.thread(requestId).filter((message) => textOf(message).includes(word));

describe('reminders', () => {
  it('are armed when the request opens, at their shares of the approval window', async () => {
    await startBot();
    const id = await request();
    const opened = (await bot.opsbot.store.get(id))!;
    const window = opened.expiresAt - opened.createdAt;
    expect(opened.followUp?.remindAt).toBe(opened.createdAt + window / 2);
    expect(opened.followUp?.escalation?.at).toBe(opened.createdAt + (window * 4) / 5);
    const [remind, escalate] = followUpJobIds(id);
    expect(await (await queues.actions.getJob(remind!))?.getState()).toBe('delayed');
    expect(await (await queues.actions.getJob(escalate!))?.getState()).toBe('delayed');
  });

  it('mention only the rules still short, a group as a subteam, and never whoever approved', async () => {
    await startBot();
    const id = await request();
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.votes.length === 1, 'the @sre approval');

    await fireNow(`remind-${id}`);
    await waitFor(() => replies(id, 'Reminder').length === 1, 'the reminder');

    const reminder = textOf(replies(id, 'Reminder')[0]);
    expect(reminder).toContain('1 of 2 · still needs @security');
    expect(reminder).toContain(`@security: <!subteam^${APPROVER_GROUP}>`);
    expect(reminder).not.toContain(USERS.approver);
    expect(reminder).not.toContain(USERS.requester);
    expect(reminder).not.toContain('@sre:');
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.filter((event) => event.kind === 'reminder').map((event) => event.text)).toEqual([
      'reminded: 1 of 2 · still needs @security',
    ]);
  });

  it('are posted once however often their job runs again', async () => {
    await startBot();
    const id = await request();
    const followUp = createFollowUp({
      store: bot.opsbot.store,
      outbox: new Outbox(bot.redis, bot.prefix, queues.slack),
      log: pino({ level: 'silent' }),
    });
    // Two workers that both think they hold the job (one lost its lock in a long pause), then
    // the job itself, then a retry of it after a crash.
    await Promise.all([followUp(id, 'reminder'), followUp(id, 'reminder')]);
    await fireNow(`remind-${id}`);
    await followUp(id, 'reminder');
    await fireNow(`escalate-${id}`);
    await waitFor(() => replies(id, 'Escalation').length === 1, 'the escalation');

    expect(replies(id, 'Reminder')).toHaveLength(1);
  });

  it('escalate later, naming the escalation role and mentioning its people', async () => {
    await startBot();
    const id = await request();
    await fireNow(`remind-${id}`);
    await fireNow(`escalate-${id}`);
    await waitFor(() => replies(id, 'Escalation').length === 1, 'the escalation');

    const thread = bot.thread(id).map(textOf);
    expect(thread).toHaveLength(2);
    expect(thread[0]).toContain('Reminder');
    expect(thread[1]).toContain(`@leads: <!subteam^${LEADS_GROUP}> <@${LEAD}> please find an approver`);
    expect(thread[1]).toContain('0 of 2 · still needs @sre and @security');
  });

  it('are disarmed once the request is decided, and a reminder job that runs anyway posts nothing', async () => {
    await startBot();
    const id = await request();
    // Withdrawn with one approval of two: its rules are still short, so only its state says no.
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.votes.length === 1, 'the @sre approval');
    await bot.click(USERS.requester, 'cancel', id);
    expect(await bot.submitModal(USERS.requester, {})).toMatchObject({ closed: true });
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'cancelled', 'the withdrawal');
    await waitFor(async () => {
      const left = await Promise.all(followUpJobIds(id).map((jobId) => queues.actions.getJob(jobId)));
      return left.every((job) => job === undefined);
    }, 'the reminder jobs to be removed');

    // Ones that were already running when the request was decided.
    await queues.actions.add(REMIND_JOB, { requestId: id }, { jobId: `remind-${id}` });
    await queues.actions.add(ESCALATE_JOB, { requestId: id }, { jobId: `escalate-${id}` });
    for (const jobId of followUpJobIds(id)) {
      await waitFor(
        async () => (await (await queues.actions.getJob(jobId))?.getState()) === 'completed',
        `the late ${jobId} job`,
      );
    }
    expect(bot.thread(id)).toEqual([]);
    expect(textOf(bot.root(id))).toContain('Cancelled');
  });
});
