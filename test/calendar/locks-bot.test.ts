import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { arcgisProd, type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * Sticky locks through the whole bot, over signed HTTP: a lock refuses others' requests when asked
 * and at approval, saying who holds it, for how long, why and until when; its holder's own
 * requests run; an approver takes it over; it warns its holder once shortly before it expires, and
 * then lets go by itself.
 *
 * The requester and the approver may both request and approve (the harness's defaults); the
 * outsider neither.
 */

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  bot = await startHarness({
    ...arcgisProd(arcgis),
    server: { queueMetricsMaxAge: '0s' },
    policy: { locks: { maxDuration: '2h', warnBefore: '1s' } },
    // Refusing, not waiting, when busy: the approval re-check must still let the holder's own
    // request through their lock.
    actions: { 'arcgis.deployment.refresh': { whenBusy: 'refuse' } },
  });
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

const deployment = () =>
  arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } } }).deploymentId;
/** The lock warnings a user got by DM. */
const dms = (user: string) => bot.slack.dms(user).filter((message) => message.text.startsWith(':hourglass:'));
/** What a user was told by DM about their lock being taken over or released by someone else. */
const moved = (user: string) =>
  bot.slack.dms(user).filter((message) => /^:(un)?lock: Your lock/.test(message.text));

describe('sticky locks', () => {
  it('refuses others when asked and at approval, lets its holder run, and hands over to an approver', async () => {
    const locked = deployment();
    const taken = await bot.ask(
      USERS.requester,
      `lock arcgis.prod ${locked} --for 1h --reason "debugging <the> node"`,
    );
    expect(taken.text).toContain(`:lock: Locked ${locked} on arcgis/prod until <!date^`);
    expect(taken.text).toContain('Others’ actions on it are refused until then; yours pass.');

    const refused = await bot.ask(USERS.approver, `arcgis refresh-deployment ${locked}`);
    expect(refused.text).toContain(
      `:lock: ${locked} on arcgis/prod is locked by <@${USERS.requester}> (for 0m, until <!date^`,
    );
    expect(refused.text).toContain(
      '“debugging &lt;the&gt; node”. Nothing was requested: ask again once it is unlocked.',
    );
    expect((await bot.ask(USERS.approver, 'locks')).text).toContain(
      `${locked} on arcgis/prod is locked by <@${USERS.requester}>`,
    );
    const metrics = await (await fetch(`${bot.opsbot.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/^opsbot_sticky_locks 1$/m);

    // The holder's own request passes the lock, and runs while it is held.
    await bot.command(USERS.requester, `arcgis refresh-deployment ${locked}`);
    const own = await bot.nextRequestId();
    await bot.click(USERS.approver, 'approve', own);
    await waitFor(
      async () => (await bot.opsbot.store.get(own))?.state === 'succeeded',
      'the holder’s request to run',
    );

    // A lock taken while someone else's request waits for approval refuses the click.
    const later = deployment();
    await bot.command(USERS.approver, `arcgis refresh-deployment ${later}`);
    const waiting = await bot.nextRequestId();
    await bot.ask(USERS.requester, `lock arcgis.prod --for 30m --reason "whole target"`);
    await bot.click(USERS.requester, 'approve', waiting);
    await waitFor(
      () => textOf(bot.root(waiting)).includes('Approval refused: all of arcgis/prod is locked by user'),
      'the refusal on the root',
    );
    expect((await bot.opsbot.store.get(waiting))?.state).toBe('pending');

    // An approver of the target may take it over; the audit trail says from whom.
    const takeover = await bot.ask(
      USERS.approver,
      'lock arcgis.prod --for 10m --reason "urgent fix" --take-over',
    );
    expect(takeover.text).toContain(`(taken over from <@${USERS.requester}>)`);
    // Its holder is told, never left to find it gone.
    await waitFor(() => moved(USERS.requester).length === 1, 'the DM to the previous holder');
    expect(moved(USERS.requester)[0]!.text).toMatch(
      new RegExp(
        `^:lock: Your lock on all of arcgis/prod \\(“whole target”\\) was taken over by <@${USERS.approver}> until <!date\\^\\d+\\^[^>]+>: “urgent fix”\\.$`,
      ),
    );
    const audit = await bot.opsbot.store.auditTrail(20);
    expect(audit.find((record) => record.kind === 'lock-takeover')).toMatchObject({
      actor: USERS.approver,
      text: expect.stringContaining(
        `took over the lock of user ${USERS.requester} on all of arcgis/prod until`,
      ),
    });
    expect((await bot.ask(USERS.approver, 'unlock arcgis.prod')).text).toBe(
      ':unlock: Unlocked all of arcgis/prod.',
    );
    // An approver may release someone else's lock; its holder is told (and nobody is told of
    // their own release above).
    expect((await bot.ask(USERS.approver, `unlock arcgis.prod ${locked}`)).text).toBe(
      `:unlock: Unlocked ${locked} on arcgis/prod.`,
    );
    await waitFor(() => moved(USERS.requester).length === 2, 'the DM about the release');
    expect(moved(USERS.requester)[1]!.text).toBe(
      `:unlock: Your lock on ${locked} on arcgis/prod (“debugging &lt;the&gt; node”) was released by <@${USERS.approver}>.`,
    );
    expect(moved(USERS.approver)).toEqual([]);
    expect(audit.map((record) => record.kind)).toEqual(expect.arrayContaining(['lock']));
  });

  it('refuses a lock longer than policy.locks.maxDuration, and one by someone who may not request there', async () => {
    expect((await bot.ask(USERS.requester, 'lock arcgis.prod --for 3h --reason "long"')).text).toContain(
      'a lock may be held for 2h at most (policy.locks.maxDuration)',
    );
    expect((await bot.ask(USERS.outsider, 'lock arcgis.prod --for 1h --reason "x"')).text).toContain(
      'you may not lock arcgis/prod: you may request none of its actions here.',
    );
    expect((await bot.ask(USERS.requester, 'lock arcgis.prod --for 1h')).text).toContain(
      '--reason "…" is required',
    );
  });

  it('warns its holder once shortly before it expires, then lets go by itself', async () => {
    const short = deployment();
    await bot.ask(USERS.requester, `lock arcgis.prod ${short} --for 3s --reason "brief"`);
    await waitFor(() => dms(USERS.requester).length > 0, 'the warning');
    const [warning] = dms(USERS.requester);
    expect(warning!.text).toContain(
      `:hourglass: Your lock on ${short} on arcgis/prod (“brief”) expires <!date^`,
    );
    await waitFor(
      async () => !(await bot.ask(USERS.approver, 'locks')).text.includes(short),
      'the lock to expire',
    );
    expect(dms(USERS.requester)).toHaveLength(1);
    await bot.command(USERS.approver, `arcgis refresh-deployment ${short}`);
    await bot.nextRequestId();
  });
});
