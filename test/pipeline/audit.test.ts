import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, USERS, waitFor } from '../support/harness.js';

/** The audit trail: who asked, who approved, every vendor call and status, the end; in Redis and in the logs. */

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

describe('audit trail', () => {
  it('records the request, the approval, each vendor call and status, and the outcome', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
    });
    bot = await startHarness({
      ...arcgisProd(arcgis),
    });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const requestId = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', requestId);
    await waitFor(async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded', 'success');

    const trail = (await bot.opsbot.store.auditTrail(100)).filter((r) => r.requestId === requestId).reverse();
    const kinds = trail.map((r) => r.kind);
    expect(kinds[0]).toBe('requested');
    expect(trail[0]!.actor).toBe(USERS.requester);
    expect(trail.find((r) => r.kind === 'approved')?.actor).toBe(USERS.approver);
    expect(kinds).toContain('submitted');
    expect(kinds).toContain('status');
    expect(kinds.at(-1)).toBe('succeeded');
    const calls = trail.filter((r) => r.kind === 'vendor-call').map((r) => r.text);
    expect(
      calls.some((t) =>
        t.includes(`POST /arcgis/admin/system/deployments/${deployment.deploymentId}/refresh → HTTP 200`),
      ),
    ).toBe(true);
    expect(calls.some((t) => /GET \/arcgis\/admin\/jobs\/\S+ → HTTP 200/.test(t))).toBe(true);
    for (const text of calls) expect(text).not.toContain('token=');
    // The request's own timeline keeps the submission but not the routine polls.
    const timeline = (await bot.opsbot.store.timeline(requestId)).map((e) => e.text);
    expect(
      timeline.some((t) => t.includes(`/deployments/${deployment.deploymentId}/refresh → HTTP 200`)),
    ).toBe(true);
    expect(timeline.some((t) => /GET \/arcgis\/admin\/jobs\//.test(t))).toBe(false);

    const auditLogs = bot.logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.audit?.requestId === requestId);
    expect(auditLogs.length).toBeGreaterThanOrEqual(trail.length);
    const stored = await bot.opsbot.store.get(requestId);
    const stepLogs = bot.logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.requestId === requestId);
    expect(stepLogs.length).toBeGreaterThan(0);
    for (const line of stepLogs) {
      expect(line.correlationId).toBe(stored?.correlationId);
      // The step's bookkeeping (reads waiting to be audited) stays out of its log lines.
      expect(line).not.toHaveProperty('deferredAudit');
    }
  });
});
