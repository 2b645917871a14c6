import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STOPPED_WAITING } from '../../src/jobs/run/follow.js';
import type { AuditRecord } from '../../src/requests/store.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * What a request leaves in Redis: a record that stays in Redis's compact hash encoding whatever
 * the length of its values, every field back through the store, every audit record with who and
 * when, and its timeline.
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

describe('request records', () => {
  it('stay compact through a whole action and keep every field and audit record', async () => {
    // Given a refresh whose summary, response_url, progress and outcome are all longer than the
    // 64 bytes a compact (listpack) hash value may hold: it times out while the job executes.
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 100_000 } },
    });
    bot = await startHarness({
      ...arcgisProd(arcgis),
      actions: { 'arcgis.deployment.refresh': { deadline: '400ms' } },
    });

    // When it is asked for, approved, run and ended.
    const { responseUrl } = await bot.command(
      USERS.requester,
      `arcgis refresh-deployment ${deployment.deploymentId}`,
    );
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(() => textOf(bot.root(requestId)).includes('Timed out waiting'), 'the timeout');

    // Then the record is still a listpack hash…
    const { store } = bot.opsbot;
    expect(await bot.redis.object('ENCODING', store.key(requestId))).toBe('listpack');
    // …its long fields are kept once each, however often they were rewritten (progress, each poll)…
    const long = await bot.redis.lrange(store.longKey(requestId), 0, -1);
    expect(long.filter((_, i) => i % 2 === 0).sort()).toEqual([
      'args',
      'followUp',
      'outcome',
      'progress',
      'quorum',
      'responseUrl',
      'summary',
    ]);

    // …and every field comes back, the long ones included.
    const request = (await store.get(requestId))!;
    expect(request).toMatchObject({
      id: requestId,
      state: 'timed_out',
      requester: USERS.requester,
      approver: USERS.approver,
      highRisk: false,
      args: { deploymentId: deployment.deploymentId },
      responseUrl,
      followUp: { remindAt: expect.any(Number) },
      // Which status the last poll saw depends on how fast the machine got there; either is fine.
      progress: { status: expect.stringMatching(/^(SUBMITTED|EXECUTING)$/), outcome: 'running' },
      phase: 'done',
    });
    expect(request.outcome).toBe(STOPPED_WAITING);
    for (const long of [
      JSON.stringify(request.summary),
      responseUrl,
      JSON.stringify(request.progress),
      request.outcome!,
    ])
      expect(long.length).toBeGreaterThan(64);
    expect(JSON.stringify(request.summary)).toContain(deployment.deploymentId);
    for (const field of [
      'createdAt',
      'decidedAt',
      'startedAt',
      'submittedAt',
      'deadlineAt',
      'finishedAt',
    ] as const)
      expect(request[field]).toBeGreaterThan(0);

    // …and the audit trail holds every record the JSON log has, each with who and when.
    const trail = (await store.auditTrail(1000)).filter((record) => record.requestId === requestId);
    const logged = bot.logLines
      .map((line) => JSON.parse(line) as { audit?: AuditRecord })
      .flatMap((line) => (line.audit?.requestId === requestId ? [line.audit] : []));
    const what = (record: AuditRecord) => `${record.kind} | ${record.actor ?? ''} | ${record.text}`;
    const inOrder = (records: AuditRecord[]) =>
      [...records].sort((a, b) => what(a).localeCompare(what(b)) || a.at - b.at);
    const stored = inOrder(trail);
    expect(stored.map(what)).toEqual(inOrder(logged).map(what));
    inOrder(logged).forEach((log, i) => {
      expect(Math.abs(stored[i]!.at - log.at)).toBeLessThan(1000);
    });
    expect(stored.map((record) => record.kind)).toEqual(
      expect.arrayContaining(['requested', 'approved', 'running', 'submitted', 'vendor-call', 'timed_out']),
    );

    // …and the request's timeline is those records in order, without the routine job reads.
    const routineRead = (record: AuditRecord) => / GET \S+ → HTTP [23]\d\d /.test(record.text);
    expect(await store.timeline(requestId)).toEqual(
      [...trail]
        .reverse()
        .filter((record) => !routineRead(record))
        .map(({ requestId: _, ...event }) => event),
    );

    // …and once its last messages are delivered, none of its keys outlives the retention period.
    const keys = async () => bot.redis.keys(`${store.key(requestId)}*`);
    const lasting = async () => {
      const found = await keys();
      const ttls = await Promise.all(found.map((key) => bot.redis.pttl(key)));
      return found.filter((_, i) => ttls[i] === -1 || ttls[i]! > store.retentionMs);
    };
    await waitFor(async () => (await lasting()).length === 0, 'every key of the finished request to expire');
    expect((await keys()).length).toBeGreaterThanOrEqual(4);
  });
});
