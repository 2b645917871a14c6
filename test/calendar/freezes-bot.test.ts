import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  arcgisProd,
  CHANNEL,
  type Harness,
  OTHER_CHANNEL,
  startHarness,
  textOf,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * Change freezes through the whole bot, over signed HTTP: a declared freeze refuses a request at
 * once; a break-glass override opens it with one more approval rule, from the freeze's override
 * role; a freeze set from Slack while a request waits makes Approve refuse, until it is lifted.
 *
 * Roles: @sre (the requester and the approver) may set freezes; @cab (the group approver, listed by
 * id, and the outsider, who approves nothing else) approves overrides. `quarter-end` freezes the ArcGIS group refresh for the life of this test.
 */

let arcgis: ArcgisSimulator;
let bot: Harness;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  bot = await startHarness({
    ...arcgisProd(arcgis),
    policy: {
      channels: [CHANNEL, OTHER_CHANNEL],
      roles: {
        sre: { users: [USERS.requester, USERS.approver] },
        cab: { users: [USERS.groupApprover, USERS.outsider] },
      },
      freezes: {
        setBy: ['sre'],
        overrideBy: 'cab',
        windows: [
          {
            name: 'quarter-end',
            scope: 'arcgis.groups.refresh',
            from: '2020-01-01T00:00',
            until: '2100-01-01T00:00',
            reason: 'quarter-end close',
          },
        ],
      },
    },
  });
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

async function clickAnswer(user: string, requestId: string): Promise<string> {
  const before = bot.ephemerals(user).length;
  expect(await bot.click(user, 'approve', requestId)).toBe(200);
  await waitFor(() => bot.ephemerals(user).length > before, 'the answer to the click');
  return bot.ephemerals(user)[before]!.text;
}

const posts = () => bot.slack.calls.filter((call) => call.method === 'chat.postMessage').length;

describe('change freezes', () => {
  it('refuses a request in a declared freeze at once, with its name, reason and end', async () => {
    const before = posts();
    const answer = await bot.ask(USERS.requester, 'arcgis refresh-groups cartographers');
    expect(answer.text).toContain(
      ':warning: arcgis.groups.refresh on arcgis/prod is in a change freeze: *quarter-end* (arcgis.groups.refresh on arcgis) until <!date^4102444800^',
    );
    expect(answer.text).toContain('“quarter-end close”');
    expect(answer.text).toContain(
      'To ask anyway, add `--override --reason "…"`: the request then also needs an approval from @cab.',
    );
    expect(posts()).toBe(before);
  });

  it('opens a break-glass override that needs an approval from the override role too', async () => {
    const refused = await bot.ask(USERS.requester, 'arcgis refresh-groups cartographers --override');
    expect(refused.text).toContain('a break-glass override needs a reason: add `--reason "…"`');

    await bot.command(
      USERS.requester,
      'arcgis refresh-groups cartographers --override --reason "OPS-7 urgent fix"',
    );
    const id = await bot.nextRequestId();
    await waitFor(() => textOf(bot.root(id)).includes('Break-glass'), 'the break-glass line on the root');
    const root = textOf(bot.root(id));
    expect(root).toContain('*Break-glass* during change freeze *quarter-end*');
    expect(root).toContain('OPS-7 urgent fix');
    expect(root).toContain('still needs approvers and @cab (break-glass)');

    // The requester's own approval never counts on a break-glass override, though it would here otherwise.
    expect(await clickAnswer(USERS.requester, id)).toContain('Nothing was changed');
    expect(await clickAnswer(USERS.approver, id)).toContain(
      'Your approval counts: 1 of 2 · still needs @cab (break-glass)',
    );
    expect((await bot.opsbot.store.get(id))?.state).toBe('pending');
    await bot.click(USERS.groupApprover, 'approve', id);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'succeeded', 'the override to run');
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline).toContainEqual(
      expect.objectContaining({
        kind: 'break-glass',
        actor: USERS.requester,
        text: 'break-glass override of change freeze quarter-end: OPS-7 urgent fix',
      }),
    );
  });

  it('quotes a mistyped scope or time short and escaped, every part of it', async () => {
    const scope = await bot.ask(USERS.requester, 'freeze arcgis.<!channel>@prod --for 1h --reason "x"');
    expect(scope.text).toContain('no action arcgis.&lt;!channel&gt;');
    const time = await bot.ask(
      USERS.requester,
      'freeze arcgis --until 2026-12-05T16:30<!channel> --reason "x"',
    );
    expect(time.text).toContain('"2026-12-05T16:30&lt;!channel&gt;" is not a time');
    const at = await bot.ask(
      USERS.requester,
      'arcgis refresh-groups cartographers --at 2026-12-05T16:30<!here>',
    );
    expect(at.text).toContain('--at "2026-12-05T16:30&lt;!here&gt;" is not a time');
    for (const answer of [scope, time, at]) expect(answer.text).not.toMatch(/<!(channel|here)>/);
  });

  it('counts the override role among a break-glass request’s approvers: they may cancel it and see it', async () => {
    await bot.command(USERS.requester, 'arcgis refresh-groups analysts --override --reason "OPS-8 fix"');
    const id = await bot.nextRequestId();
    // The outsider approves nothing but as @cab: here that makes them one of its approvers.
    const seen = await bot.ask(USERS.outsider, `status ${id}`, OTHER_CHANNEL);
    expect(seen.text).toContain(`*${id}*`);
    const cancelled = await bot.ask(USERS.outsider, `cancel ${id} --reason "not now"`);
    expect(cancelled.text).not.toContain('only the requester or an approver');
    await waitFor(async () => (await bot.opsbot.store.get(id))?.state === 'cancelled', 'the cancel');
  });

  it('refuses the click when a freeze set from Slack starts while a request waits, until it is lifted', async () => {
    const { deploymentId } = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1 } },
    });
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deploymentId}`);
    const id = await bot.nextRequestId();

    expect((await bot.ask(USERS.outsider, 'freeze arcgis.prod --for 1h --reason "nope"')).text).toContain(
      'only @sre may set or lift change freezes.',
    );
    const set = await bot.ask(
      USERS.approver,
      'freeze arcgis.prod --for 1h --name storage --reason "storage <migration>"',
    );
    expect(set.text).toContain(':snowflake: Change freeze set: *storage* (arcgis/prod) until <!date^');
    expect(set.text).toContain('“storage &lt;migration&gt;” · set by <@U0APPROVE1>');
    expect((await bot.ask(USERS.approver, 'freezes')).text).toContain('*storage* (arcgis/prod)');
    expect((await bot.ask(USERS.requester, 'help')).text).toContain('*Change freezes in effect*');

    const refusal = await clickAnswer(USERS.approver, id);
    expect(refusal).toContain(':warning: Approval refused: change freeze storage until ');
    expect(refusal).toContain(
      '(storage &lt;migration&gt;) started; approve it once it ends, or ask again with --override',
    );
    expect((await bot.opsbot.store.get(id))?.state).toBe('pending');
    await waitFor(
      () => textOf(bot.root(id)).includes('Approval refused: change freeze storage'),
      'the refusal on the root',
    );

    expect((await bot.ask(USERS.approver, 'unfreeze storage')).text).toContain(
      'Change freeze *storage* lifted.',
    );
    expect((await bot.ask(USERS.approver, 'unfreeze quarter-end')).text).toContain(
      'is declared in the config',
    );
    await bot.click(USERS.approver, 'approve', id);
    await waitFor(
      async () => (await bot.opsbot.store.get(id))?.state === 'succeeded',
      'the request to run once lifted',
    );
    const audit = await bot.opsbot.store.auditTrail(50);
    expect(audit.map((record) => record.kind)).toEqual(expect.arrayContaining(['freeze', 'unfreeze']));
    expect(audit.find((record) => record.kind === 'freeze')?.text).toMatch(
      /^froze arcgis\/prod until \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC as storage: storage <migration>$/,
    );
    expect(bot.root(id)?.channel).toBe(CHANNEL);
  });
});
