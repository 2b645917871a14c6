import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeSlackMessage } from '../../src/devtools/fake-slack.js';
import {
  deliver,
  signButtonClick,
  signSlashCommand,
  slackRetryHeaders,
} from '../../src/devtools/slack-requests.js';
import { STOPPED_WAITING } from '../../src/jobs/run/follow.js';
import type { OpsRequest, RequestState } from '../../src/requests/types.js';
import { APPROVE_ACTION } from '../../src/slack/blocks.js';
import {
  type ArcgisSimulator,
  type JobScript,
  startArcgisSimulator,
} from '../../src/vendors/arcgis/simulator.js';
import type { BotProcess } from '../support/bot-process.js';
import { CHANNEL, textOf, USERS, waitFor } from '../support/harness.js';
import { type Cluster, checkInvariant, startCluster } from './cluster.js';

/**
 * Fault injection on opsbot's peers, with real processes on a real Redis: Slack answering 429,
 * 500 and dropping connections for a while; the vendor answering 5xx storms, permanent errors and
 * never answering at all; and Slack delivering the same signed request several times. Every test
 * ends on the invariant: each approved action reaches exactly one final state with exactly one
 * vendor submission, and every thread update arrives once, in order, under a root that shows the
 * final state.
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
  arcgis.clearFaults();
  await cluster?.stop();
  cluster = undefined;
});

const CHAT_WRITES = ['chat.postMessage', 'chat.update'];

/** Asks for one refresh per script, approves them all, and returns request id → deployment id. */
async function startActions(c: Cluster, web: BotProcess, scripts: JobScript[]): Promise<Map<string, string>> {
  const deployments = new Map<string, string>();
  for (const script of scripts) {
    const { deploymentId } = arcgis.addDeployment({ script });
    deployments.set(await c.request(web, `arcgis refresh-deployment ${deploymentId}`), deploymentId);
  }
  for (const id of deployments.keys()) expect(await c.approve(web, id)).toBe(200);
  return deployments;
}

/** Waits until every request is done and its closing reply has reached Slack. */
async function untilFinished(c: Cluster, ids: string[], timeoutMs = 60_000): Promise<OpsRequest[]> {
  await waitFor(
    async () => (await c.requests(ids)).every((r) => r.phase === 'done'),
    'every action to end',
    timeoutMs,
  );
  await waitFor(
    () => ids.every((id) => c.updateKeys(id).at(-1) === 'final'),
    'every closing reply',
    timeoutMs,
  );
  return c.requests(ids);
}

/** The root converges to the final state: its text names it and it has no buttons left. */
async function expectRootsFinal(c: Cluster, ids: string[], state: RequestState): Promise<void> {
  const plain = state.replace('_', ' ');
  await waitFor(
    () => ids.every((id) => c.root(id)?.text.endsWith(`: ${plain}`) === true),
    `every root message to show "${plain}"`,
    30_000,
  );
  for (const id of ids) expect(JSON.stringify(c.root(id)?.blocks)).not.toContain(APPROVE_ACTION);
}

const callsTo = (path: string, method = 'GET') =>
  arcgis.requests.filter((r) => r.method === method && r.path.includes(path)).length;
const jobRequests = () => callsTo('/admin/jobs/');
const submissionsReceived = (deploymentId: string) => callsTo(`/deployments/${deploymentId}/refresh`, 'POST');
const failedSlackWrites = (error: string) =>
  cluster!.slack.calls.filter((c) => CHAT_WRITES.includes(c.method) && c.error === error).length;

describe('peers misbehaving, with real processes', { timeout: 150_000 }, () => {
  it('delivers every update once, in order, through a Slack storm of 429s, 500s and dropped connections', async () => {
    cluster = await startCluster({ arcgis });
    const web = await cluster.start('web', ['web']);
    await cluster.start('worker-a', ['worker']);
    await cluster.start('worker-b', ['worker']);
    // Long enough to be running through the storm; the UNAVAILABLE blip adds two more updates.
    const script: JobScript = {
      outcome: 'COMPLETED',
      polls: { SUBMITTED: 2, EXECUTING: 30 },
      unavailableOnPolls: [4],
    };
    const deployments = new Map<string, string>();
    for (let i = 0; i < 4; i += 1) {
      const { deploymentId } = arcgis.addDeployment({ script });
      deployments.set(await cluster.request(web, `arcgis refresh-deployment ${deploymentId}`), deploymentId);
    }
    const ids = [...deployments.keys()];

    // Slack misbehaving for a while ("minutes", scaled to seconds), one way after another: rate
    // limited with Retry-After, then 500s, then unreachable until the actions have all ended.
    cluster.slack.fail({ method: CHAT_WRITES, status: 429, retryAfterSeconds: 1, forMs: 3_000 });
    cluster.slack.fail({ method: CHAT_WRITES, status: 500, forMs: 2_500 });
    cluster.slack.fail({ method: CHAT_WRITES, drop: 'before', forMs: 600_000 });
    for (const id of ids) expect(await cluster.approve(web, id)).toBe(200);
    await waitFor(
      async () =>
        failedSlackWrites('dropped') > 0 && (await cluster!.requests(ids)).every((r) => r.phase === 'done'),
      'every action to end while Slack is unreachable',
      60_000,
    );
    // Nothing of any thread has reached Slack yet: it is all waiting in the outboxes.
    expect(ids.map((id) => cluster!.updateKeys(id))).toEqual(ids.map(() => []));
    // Slack is back, but loses the answers of its first 4 writes after doing them.
    cluster.slack.clearFaults();
    cluster.slack.fail({ method: CHAT_WRITES, drop: 'after', times: 4 });

    const requests = await untilFinished(cluster, ids, 90_000);
    expect(requests.map((r) => r.state)).toEqual(ids.map(() => 'succeeded'));
    checkInvariant(cluster, arcgis, requests, (r) => deployments.get(r.id)!);
    for (const id of ids) {
      expect(cluster.updateKeys(id)).toEqual([
        'submitted',
        'progress-2',
        'progress-3',
        'progress-4',
        'final',
      ]);
    }
    await expectRootsFinal(cluster, ids, 'succeeded');
    // Root updates queued while Slack was away were coalesced: one clean chat.update per root, to
    // the final state (a write whose answer was lost is repeated, and counted apart).
    for (const request of requests) {
      const updates = cluster.slack.calls.filter(
        (c) => c.method === 'chat.update' && c.args.ts === request.rootTs && c.ok && !c.error,
      );
      expect(updates.map((c) => String(c.args.text))).toEqual([
        'arcgis.deployment.refresh on arcgis/prod: succeeded',
      ]);
    }
    // Each kind of fault really happened, and was retried rather than dropped.
    expect(failedSlackWrites('ratelimited')).toBeGreaterThanOrEqual(2);
    expect(failedSlackWrites('http_500')).toBeGreaterThanOrEqual(2);
    expect(failedSlackWrites('answer_dropped')).toBe(4);
    // Retry-After is honoured, whichever process delivers next: after a 429, the same thread's next
    // write comes at least Retry-After later. (A loaded machine can only make the gap longer.)
    const writes = cluster.slack.calls.filter((c) => CHAT_WRITES.includes(c.method));
    const threadOf = (c: (typeof writes)[number]) => String(c.args.thread_ts ?? c.args.ts);
    for (const [i, limited] of writes.entries()) {
      if (limited.error !== 'ratelimited') continue;
      const next = writes.slice(i + 1).find((c) => threadOf(c) === threadOf(limited));
      if (next) expect(next.at - limited.at).toBeGreaterThanOrEqual(1_000);
    }

    // Messages whose answers are lost are looked for before being sent again, and a failed look-up
    // (Slack's read methods have rate limits of their own) is tried again, never taken as "not
    // there": an approval message and a thread reply are each posted once.
    cluster.slack.fail({ method: 'chat.postMessage', drop: 'after', times: 2 });
    cluster.slack.fail({ method: 'conversations.history', status: 500 });
    cluster.slack.fail({ method: 'conversations.replies', status: 429, retryAfterSeconds: 1 });
    const { deploymentId } = arcgis.addDeployment({ script: { polls: { SUBMITTED: 1, EXECUTING: 1 } } });
    const lateId = await cluster.request(web, `arcgis refresh-deployment ${deploymentId}`);
    const rootTs = async () => (await cluster!.store.get(lateId))?.rootTs;
    await waitFor(async () => (await rootTs()) !== undefined, 'the lost approval message to be found');
    const roots = cluster.slack.messages.filter(
      (m) =>
        !m.thread_ts &&
        (m.metadata as { event_payload?: { request_id?: string } })?.event_payload?.request_id === lateId,
    );
    expect(roots.map((m) => m.ts)).toEqual([await rootTs()]);
    expect(await cluster.approve(web, lateId)).toBe(200);
    const [late] = await untilFinished(cluster, [lateId]);
    expect(failedSlackWrites('answer_dropped')).toBe(6);
    expect(cluster.slack.calls.filter((c) => c.method.startsWith('conversations.') && !c.ok)).toHaveLength(2);
    checkInvariant(cluster, arcgis, [late!], () => deploymentId);
  });

  it('rides out a vendor 5xx storm on submit and polls, and fails a permanent error at once', async () => {
    cluster = await startCluster({ arcgis });
    const bot = await cluster.start('bot', ['web', 'worker']);
    // Before the refresh reaches the vendor: a 429 with Retry-After and 503 pages from the ingress.
    arcgis.inject({
      path: '/refresh',
      method: 'POST',
      status: 429,
      headers: { 'retry-after': '1' },
      body: '',
    });
    arcgis.failWithHtml({ path: '/refresh', method: 'POST', status: 503, times: 4 });
    // Job polls: 503s, 502s and dropped connections, 10 in a row before any poll gets through.
    arcgis.failWithHtml({ path: '/admin/jobs/', status: 503, times: 4 });
    arcgis.failWithHtml({ path: '/admin/jobs/', status: 502, times: 4 });
    arcgis.inject({ path: '/admin/jobs/', reset: true, times: 2 });
    const readsBefore = arcgis.counters.jobReads;
    const jobsBefore = jobRequests();
    const script: JobScript = { outcome: 'COMPLETED', polls: { SUBMITTED: 2, EXECUTING: 4 } };
    const deployments = await startActions(cluster, bot, [script, script, script, script]);
    const ids = [...deployments.keys()];

    const requests = await untilFinished(cluster, ids);
    expect(requests.map((r) => r.state)).toEqual(ids.map(() => 'succeeded'));
    checkInvariant(cluster, arcgis, requests, (r) => deployments.get(r.id)!);
    await expectRootsFinal(cluster, ids, 'succeeded');
    // All 5 refused submissions were tried again; each action reached the vendor once.
    const received = [...deployments.values()].reduce((n, d) => n + submissionsReceived(d), 0);
    expect(received).toBe(ids.length + 5);
    // All 10 failed polls were tried again.
    expect(jobRequests() - jobsBefore - (arcgis.counters.jobReads - readsBefore)).toBe(10);

    // Permanent errors, as ArcGIS sends them (HTTP 200, JSON error body): no retry, the vendor's
    // code and message in the thread.
    const refused = arcgis.addDeployment();
    arcgis.inject({
      path: `/deployments/${refused.deploymentId}/refresh`,
      method: 'POST',
      status: 200,
      body: {
        error: {
          code: 400,
          messageCode: 'DEPLOY_0017',
          message: 'Unable to refresh the deployment.',
          details: ['The deployment is being updated by another operation.'],
        },
      },
    });
    const refusedId = await cluster.request(bot, `arcgis refresh-deployment ${refused.deploymentId}`);
    await cluster.approve(bot, refusedId);
    await waitFor(() => cluster!.updateKeys(refusedId).at(-1) === 'final', 'the refusal in the thread');
    const refusal = (await cluster.store.get(refusedId))!;
    expect(refusal.state).toBe('failed');
    expect(refusal.outcome).toContain('DEPLOY_0017');
    expect(refusal.outcome).toContain('The deployment is being updated by another operation.');
    expect(submissionsReceived(refused.deploymentId)).toBe(1);
    expect(cluster.updateKeys(refusedId)).toEqual(['final']);
    expect(textOf(cluster.thread(refusedId)[0])).toContain('DEPLOY_0017');
    await expectRootsFinal(cluster, [refusedId], 'failed');

    const forbidden = arcgis.addDeployment({ script: { polls: { SUBMITTED: 5 } } });
    arcgis.inject({
      path: '/admin/jobs/',
      status: 200,
      body: {
        error: { code: 403, message: 'You do not have permissions to access this resource.', details: [] },
      },
    });
    const forbiddenId = await cluster.request(bot, `arcgis refresh-deployment ${forbidden.deploymentId}`);
    const pollsBefore = jobRequests();
    await cluster.approve(bot, forbiddenId);
    const [ended] = await untilFinished(cluster, [forbiddenId]);
    expect(ended!.state).toBe('failed');
    expect(ended!.outcome).toContain('error 403, You do not have permissions');
    expect(jobRequests() - pollsBefore).toBe(1);
    checkInvariant(cluster, arcgis, [ended!], () => forbidden.deploymentId);
    await expectRootsFinal(cluster, [forbiddenId], 'failed');
  });

  it('times out calls the vendor never answers, retries polls, and never sends a hung submission again', async () => {
    cluster = await startCluster({ arcgis, vendorTimeouts: { connect: '2s', request: '2s' } });
    const bot = await cluster.start('bot', ['web', 'worker']);
    const hungSubmit = arcgis.addDeployment();
    arcgis.inject({ path: `/deployments/${hungSubmit.deploymentId}/refresh`, method: 'POST', hang: true });
    arcgis.inject({ path: '/admin/jobs/', hang: true, times: 4 });
    const readsBefore = arcgis.counters.jobReads;
    const jobsBefore = jobRequests();
    const script: JobScript = { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 3 } };
    const deployments = await startActions(cluster, bot, [script, script, script]);
    const ids = [...deployments.keys()];
    const hungId = await cluster.request(bot, `arcgis refresh-deployment ${hungSubmit.deploymentId}`);
    await cluster.approve(bot, hungId);

    const requests = await untilFinished(cluster, ids);
    expect(requests.map((r) => r.state)).toEqual(ids.map(() => 'succeeded'));
    checkInvariant(cluster, arcgis, requests, (r) => deployments.get(r.id)!);
    await expectRootsFinal(cluster, ids, 'succeeded');
    expect(jobRequests() - jobsBefore - (arcgis.counters.jobReads - readsBefore)).toBe(4);
    expect(bot.logs.join('\n')).toMatch(
      /polling the vendor failed.*did not answer in time|did not answer in time.*polling the vendor failed/,
    );

    // The submission may have been received: it is reported as such, never sent a second time.
    const [hung] = await untilFinished(cluster, [hungId]);
    expect(hung!.state).toBe('unknown');
    expect(hung!.outcome).toContain('did not answer in time');
    expect(hung!.outcome).toContain('may or may not have reached the vendor');
    expect(submissionsReceived(hungSubmit.deploymentId)).toBe(1);
    expect(cluster.updateKeys(hungId)).toEqual(['final']);
    await expectRootsFinal(cluster, [hungId], 'unknown');
  });

  // A timeout, reset or 502 on the token call that precedes a submission means the refresh itself
  // was never sent: the submission is retried rather than reported as maybe-sent.
  it('retries a submission whose token call hung, since the refresh itself was never sent', async () => {
    cluster = await startCluster({ arcgis, vendorTimeouts: { request: '2s' } });
    const bot = await cluster.start('bot', ['web', 'worker']);
    // A fresh process has no token: its first submission mints one, and that call never answers.
    arcgis.inject({ path: '/sharing/rest/generateToken', hang: true });
    const deployments = await startActions(cluster, bot, [{ polls: { SUBMITTED: 1, EXECUTING: 1 } }]);

    const requests = await untilFinished(cluster, [...deployments.keys()]);
    expect(requests.map((r) => r.state)).toEqual(['succeeded']);
    checkInvariant(cluster, arcgis, requests, (r) => deployments.get(r.id)!);
  });

  it('ends "timed out waiting" with the last known status when the vendor hangs past the deadline', async () => {
    cluster = await startCluster({ arcgis, deadline: '4s', vendorTimeouts: { request: '2s' } });
    const bot = await cluster.start('bot', ['web', 'worker']);
    const deployments = await startActions(cluster, bot, [{ polls: { SUBMITTED: 1000 } }]);
    const [id] = [...deployments.keys()];
    // Every poll hangs from the start: the last status opsbot knows is the one submit returned.
    arcgis.inject({ path: '/admin/jobs/', hang: true, times: 1000 });

    const [request] = await untilFinished(cluster, [id!]);
    expect(request!.state).toBe('timed_out');
    expect(request!.outcome).toBe(STOPPED_WAITING);
    checkInvariant(cluster, arcgis, [request!], () => deployments.get(id!)!);
    const closing = textOf(cluster.thread(id!).at(-1));
    expect(closing).toContain('Timed out waiting');
    expect(closing).toContain('Last status from arcgis: *SUBMITTED* · refresh queued');
    await expectRootsFinal(cluster, [id!], 'timed_out');
  });

  it('approves and submits once when the same signed click is delivered again and again', async () => {
    cluster = await startCluster({ arcgis });
    const bot = await cluster.start('bot', ['web', 'worker']);
    const { deploymentId } = arcgis.addDeployment({ script: { polls: { SUBMITTED: 1, EXECUTING: 3 } } });
    const id = await cluster.request(bot, `arcgis refresh-deployment ${deploymentId}`);
    const click = signButtonClick(cluster.peer(bot), {
      actionId: APPROVE_ACTION,
      value: id,
      userId: USERS.approver,
      channelId: CHANNEL,
      messageTs: cluster.root(id)!.ts,
      responseUrl: cluster.slack.responseUrl(USERS.approver, CHANNEL),
    });
    const peer = cluster.peer(bot);

    const answers = await Promise.all([
      deliver(peer, click),
      deliver(peer, click, slackRetryHeaders(1, 'http_timeout')),
      deliver(peer, click, slackRetryHeaders(2, 'http_error')),
      deliver(peer, click, slackRetryHeaders(3, 'connection_failed')),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    const [request] = await untilFinished(cluster, [id]);
    // A replay long after the end changes nothing either.
    expect((await deliver(peer, click, slackRetryHeaders(1, 'http_timeout'))).status).toBe(200);
    await waitFor(() => ephemeralsTo(cluster!, USERS.approver).length === 4, 'the replays to be answered');

    expect(request!.state).toBe('succeeded');
    checkInvariant(cluster, arcgis, [request!], () => deploymentId);
    const approvals = (await cluster.store.timeline(id)).filter((e) => e.kind === 'approved');
    expect(approvals).toHaveLength(1);
    const rootUpdates = cluster.slack.calls
      .filter((call) => call.method === 'chat.update' && call.ok && call.args.ts === request!.rootTs)
      .map((call) => String(call.args.text));
    expect(new Set(rootUpdates).size).toBe(rootUpdates.length);
    await expectRootsFinal(cluster, [id], 'succeeded');
  });

  // Each delivery of one slash command carries the same trigger_id, which opsbot claims in Redis
  // before handling it: repeats are acknowledged and otherwise ignored.
  it('opens one request when Slack delivers the same slash command three times', async () => {
    cluster = await startCluster({ arcgis });
    const bot = await cluster.start('bot', ['web', 'worker']);
    const peer = cluster.peer(bot);
    const command = (deploymentId: string) =>
      signSlashCommand(peer, {
        command: '/ops',
        text: `arcgis refresh-deployment ${deploymentId}`,
        userId: USERS.requester,
        channelId: CHANNEL,
        responseUrl: cluster!.slack.responseUrl(USERS.requester, CHANNEL),
      });
    const { deploymentId } = arcgis.addDeployment({ script: { polls: { SUBMITTED: 1, EXECUTING: 2 } } });
    const retried = command(deploymentId);

    // As Slack retries: the same body and signature, with its retry headers.
    expect((await deliver(peer, retried)).status).toBe(200);
    expect((await deliver(peer, retried, slackRetryHeaders(1, 'http_timeout'))).status).toBe(200);
    expect((await deliver(peer, retried, slackRetryHeaders(2, 'http_timeout'))).status).toBe(200);
    // A different command afterwards: once its approval message is out, the retries have been handled.
    const later = arcgis.addDeployment();
    expect((await deliver(peer, command(later.deploymentId))).status).toBe(200);
    const asked = async (id: string) =>
      (await cluster!.store.recentInChannel(CHANNEL, 50)).filter(
        (r) => (r.args as { deploymentId?: string }).deploymentId === id,
      );
    await waitFor(
      async () => (await asked(later.deploymentId)).some((r) => r.rootTs !== undefined),
      'the later approval message',
    );
    await waitFor(
      async () => (await cluster!.store.recentInChannel(CHANNEL, 50)).every((r) => r.rootTs !== undefined),
      'every approval message',
    );

    const opened = await asked(deploymentId);
    expect(opened).toHaveLength(1);
    const id = opened[0]!.id;
    expect(await cluster.approve(bot, id)).toBe(200);
    const [request] = await untilFinished(cluster, [id]);
    checkInvariant(cluster, arcgis, [request!], () => deploymentId);
  });
});

function ephemeralsTo(c: Cluster, user: string): FakeSlackMessage[] {
  return c.slack.messages.filter((m) => m.ephemeralTo === user);
}
