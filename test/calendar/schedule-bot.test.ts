import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * Scheduled actions through the whole bot, over signed HTTP: `--at` asks for approval now and
 * runs then (not before); the root says when; `/ops cancel` stops it cleanly before it starts; a
 * time past, too far ahead, or in a freeze that does not hold is refused when asked; in a freeze
 * that holds, it runs when the freeze ends and the thread says so. /metrics counts what waits.
 */

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  bot = await startHarness({
    ...arcgisProd(arcgis),
    server: { queueMetricsMaxAge: '0s' },
    policy: {
      roles: { sre: { users: [USERS.requester, USERS.approver] } },
      freezes: { setBy: ['sre'] },
      schedule: { horizon: '1d' },
    },
  });
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 19)}Z`;
const deployment = () =>
  arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } }).deploymentId;
const refreshes = (id: string) => arcgis.counters.refreshCalls[id] ?? 0;

async function scrape(name: string): Promise<number> {
  const text = await (await fetch(`${bot.opsbot.opsUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
}

describe('scheduled actions', () => {
  it('asks for approval now and runs at its time, once', async () => {
    const target = deployment();
    const runAt = Math.ceil((Date.now() + 4_000) / 1000) * 1000;
    await bot.command(USERS.requester, `arcgis refresh-deployment ${target} --at ${iso(runAt)}`);
    const id = await bot.nextRequestId();
    await waitFor(() => textOf(bot.root(id)).includes('Scheduled for'), 'the schedule on the root');
    expect(textOf(bot.root(id))).toContain(`:alarm_clock: Scheduled for <!date^${runAt / 1000}^`);
    // It must be approved by its time: the approval window ends then at the latest.
    expect((await bot.opsbot.store.get(id))?.expiresAt).toBe(runAt);

    await bot.click(USERS.approver, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'approved', 'the approval');
    expect(await scrape('opsbot_actions_scheduled')).toBe(1);
    expect(refreshes(target)).toBe(0);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'succeeded', 'the run', 20_000);
    const ran = (await bot.opsbot.store.get(id))!;
    expect(ran.startedAt).toBeGreaterThanOrEqual(runAt);
    expect(refreshes(target)).toBe(1);
    expect(await scrape('opsbot_actions_scheduled')).toBe(0);
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline[1]).toMatchObject({
      kind: 'scheduled',
      text: `scheduled for ${iso(runAt).slice(0, 10)} ${iso(runAt).slice(11, 16)} UTC`,
    });
    expect((await bot.ask(USERS.requester, 'history')).text).toContain(`\`${id}\` succeeded`);
  });

  it('is cancelled cleanly before it starts: nothing reaches the vendor', async () => {
    const target = deployment();
    await bot.command(
      USERS.requester,
      `arcgis refresh-deployment ${target} --at ${iso(Date.now() + 600_000)}`,
    );
    const id = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'approved', 'the approval');
    expect((await bot.ask(USERS.requester, `history`)).text).toContain(`\`${id}\` approved`);

    const answer = await bot.ask(USERS.requester, `cancel ${id}`);
    expect(answer.text).toContain(`Asked to cancel \`${id}\``);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'cancelled', 'the cancel');
    const cancelled = (await bot.opsbot.store.get(id))!;
    expect(cancelled.outcome).toBe('cancelled before anything was sent to the vendor');
    await waitFor(
      () => bot.thread(id).some((m) => m.text.includes('it has not started, so it will not run')),
      'the thread',
    );
    expect(refreshes(target)).toBe(0);
  });

  it('refuses a time past, too far ahead, unreadable, or in a freeze that does not hold', async () => {
    const target = deployment();
    const refusal = async (at: string) =>
      (await bot.ask(USERS.requester, `arcgis refresh-deployment ${target} --at ${at}`)).text;
    expect(await refusal(iso(Date.now() - 60_000))).toContain('has passed: give a time ahead');
    expect(await refusal(iso(Date.now() + 2 * 86_400_000))).toContain(
      'is more than 1d ahead (policy.schedule.horizon)',
    );
    expect(await refusal('25:00')).toContain('--at "25:00" is not a time: write HH:MM (in UTC) or ISO 8601');

    await bot.ask(USERS.approver, 'freeze arcgis.prod --for 1h --name window --reason "maintenance"');
    expect(await scrape('opsbot_freezes_active')).toBe(1);
    const frozen = await refusal(iso(Date.now() + 120_000));
    expect(frozen).toContain('arcgis.deployment.refresh on arcgis/prod at <!date^');
    expect(frozen).toContain('is in a change freeze: *window* (arcgis/prod)');
    await bot.ask(USERS.approver, 'unfreeze window');
    expect(await scrape('opsbot_freezes_active')).toBe(0);
  });

  it('runs when a freeze that holds ends, and the thread says so', async () => {
    const target = deployment();
    const frozenAt = Date.now();
    await bot.ask(USERS.approver, 'freeze arcgis --for 5s --hold --name brief --reason "deploy window"');
    await bot.command(USERS.requester, `arcgis refresh-deployment ${target} --at ${iso(Date.now() + 2_000)}`);
    const id = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(
      () => bot.thread(id).some((m) => m.text.includes('Held by change freeze *brief*')),
      'the hold in the thread',
    );
    expect(refreshes(target)).toBe(0);
    await waitFor(
      async () => (await bot.opsbot.store.get(id))?.state === 'succeeded',
      'the run after the freeze',
      20_000,
    );
    // The freeze ended 5 s after it was set, at the earliest.
    expect((await bot.opsbot.store.get(id))!.startedAt).toBeGreaterThanOrEqual(frozenAt + 5_000);
    expect(refreshes(target)).toBe(1);
  });
});
