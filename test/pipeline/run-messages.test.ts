import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ResourceLocks } from '../../src/requests/resource-lock.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type CckmSimulator, SIM_DOMAINS, startCckmSimulator } from '../../src/vendors/cckm/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * The messages the run path composes, read as Slack renders them: a busy resource (refused, or
 * waited for), a cancel opsbot cannot pass on, and the vendor's answer to a cancel it can.
 * The group `R&D` is a resource whose name needs escaping (Slack sends it as `R&amp;D`).
 */

const GROUPS = 'arcgis.groups.refresh';
const REFRESH = 'arcgis.deployment.refresh';

let arcgis: ArcgisSimulator;
let cckm: CckmSimulator;
let bot: Harness;

beforeAll(async () => {
  [arcgis, cckm] = await Promise.all([startArcgisSimulator(), startCckmSimulator({ domainStepMs: 400 })]);
  arcgis.addGroups('R&D');
});
afterAll(async () => {
  await Promise.all([arcgis.close(), cckm.close()]);
});
afterEach(async () => {
  arcgis.clearFaults();
  cckm.clearFaults();
  await bot?.stop();
});

async function startBot(actions: Record<string, Record<string, unknown>> = {}) {
  bot = await startHarness({
    env: { ARCGIS_PASSWORD: arcgis.password, CCKM_PASSWORD: cckm.credentials.password },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
      cckm: {
        prod: { url: cckm.url, username: cckm.credentials.username, password: { env: 'CCKM_PASSWORD' } },
      },
    },
    actions,
  });
}

async function requestAndApprove(text: string): Promise<string> {
  await bot.command(USERS.requester, text);
  const id = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', id);
  return id;
}

async function ended(id: string) {
  await waitFor(async () => (await bot.opsbot.store.get(id))?.phase === 'done', 'the run to end');
  await waitFor(
    () => bot.thread(id).some((m) => JSON.stringify(m.metadata ?? {}).includes('"final"')),
    'the final reply',
  );
  return (await bot.opsbot.store.get(id))!;
}

const finalReply = (id: string) =>
  textOf(bot.thread(id).find((m) => JSON.stringify(m.metadata ?? {}).includes('"final"')));

describe('messages of the run path', () => {
  it('a resource found busy at submit, on a target whose policy refuses: names the request holding it, in plain text', async () => {
    // Waiting is the action's policy; refusing is prod's own, which the run must follow.
    await startBot({ [GROUPS]: { whenBusy: 'wait', targets: { prod: { whenBusy: 'refuse' } } } });
    // The organization lookup before the refresh is slow: the lock is taken meanwhile.
    arcgis.inject({ method: 'GET', path: /\/admin\/orgs$/, delayMs: 1_500 });
    const id = await requestAndApprove('arcgis refresh-groups R&amp;D');
    await waitFor(() => arcgis.requests.some((r) => /\/admin\/orgs$/.test(r.path)), 'the lookup');
    const locks = new ResourceLocks(bot.redis, bot.prefix);
    await bot.redis.set(locks.key({ vendor: 'arcgis', target: 'prod' }, 'R&D'), 'op-holder1', 'PX', 60_000);

    const done = await ended(id);
    expect(done.state).toBe('failed');
    expect(done.outcome).toBe('`R&D` on arcgis/prod is busy: request `op-holder1` holds it');
    await waitFor(() => textOf(bot.root(id)).includes('Failed'), 'the root to say it failed');
    const shown = `${textOf(bot.root(id))}\n${finalReply(id)}`;
    expect(shown).toContain('`R&amp;D` on arcgis/prod is busy: request `op-holder1` holds it');
    expect(shown).not.toMatch(/holds it[^\n]*(<@|UTC)|asked by/);
    expect(arcgis.counters.groupRefreshes['R&D']).toBeUndefined();
  });

  it('a resource another request holds: the wait names it, who asked and when (a Slack date), the resource escaped', async () => {
    await startBot();
    // The first refresh of R&D is slow: it holds the group's lock while the second is approved.
    arcgis.inject({ method: 'POST', path: 'refreshMembership', delayMs: 2_000 });
    const first = await requestAndApprove('arcgis refresh-groups R&amp;D');
    await waitFor(
      async () => (await bot.opsbot.store.get(first))?.phase === 'submitting',
      'the first refresh',
    );
    const second = await requestAndApprove('arcgis refresh-groups R&amp;D');

    await waitFor(() => bot.thread(second).some((m) => m.text.includes('Waiting')), 'the waiting note');
    const note = textOf(bot.thread(second).find((m) => m.text.includes('Waiting')));
    expect(note).toMatch(
      new RegExp(
        `Waiting: \`${first}\` \\(asked by <@${USERS.requester}>, started <!date\\^\\d+\\^\\{date_short_pretty\\} \\{time\\}\\|[^>]+ UTC>\\) is working on \`R&amp;D\`; this starts when it ends\\.`,
      ),
    );
    expect((await ended(second)).state).toBe('succeeded');
  });

  it('a cancel the vendor cannot take: the outcome says so once, the reply names the job and last status', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 0, EXECUTING: 100 } },
    });
    await startBot({ [REFRESH]: { pollInterval: '20s', firstPollDelay: '20ms' } });
    const id = await requestAndApprove(`arcgis refresh-deployment ${deployment.deploymentId}`);
    await waitFor(async () => (await bot.opsbot.store.get(id))?.reported === 2, 'the EXECUTING status');

    await bot.command(USERS.requester, `cancel ${id}`);

    const done = await ended(id);
    expect(done.outcome).toBe('opsbot stopped following it; arcgis cannot cancel this work, so it may go on');
    const reply = finalReply(id);
    const jobId = done.progress!.vendorJobId!;
    // Once in the reply's text and once in its block.
    expect(reply.split(jobId)).toHaveLength(3);
    expect(reply).toContain(`Vendor job \`${jobId}\``);
    expect(reply).toContain('Last status from arcgis: *EXECUTING*');
    expect(reply).not.toContain('Last known status');
  });

  it("the vendor's answer to a cancel, taken or refused, is shown as written (escaped)", async () => {
    await startBot({ 'cckm.dsm.refresh': { pollInterval: '20s', firstPollDelay: '20ms' } });
    const [domain, other] = SIM_DOMAINS;
    const running = async (text: string) => {
      const id = await requestAndApprove(text);
      await waitFor(async () => (await bot.opsbot.store.get(id))?.phase === 'polling', 'polling');
      return id;
    };
    const cancelReply = async (id: string) => {
      await bot.command(USERS.requester, `cancel ${id}`);
      const fromVendor = (text: string) => /Asked cckm to cancel|cckm did not take the cancel/.test(text);
      await waitFor(() => bot.thread(id).some((m) => fromVendor(m.text)), 'the vendor-cancel reply');
      return textOf(bot.thread(id).find((m) => fromVendor(m.text)));
    };

    const taken = await running(`cckm refresh ${domain!.id}`);
    const refreshId = (await bot.opsbot.store.get(taken))!.progress!.vendorJobId!;
    cckm.inject({
      method: 'POST',
      path: '/cancel',
      status: 200,
      body: {
        id: refreshId,
        overall_status: 'aborting <!channel> & <https://evil.example|here>',
        abort: true,
      },
    });
    const said = await cancelReply(taken);
    expect(said).toContain(
      `Asked cckm to cancel: CipherTrust took the cancel of refresh ${refreshId}: aborting &lt;!channel&gt; &amp; &lt;https://evil.example|here&gt;, abort requested`,
    );
    expect(said).not.toContain('<!channel>');

    const refused = await running(`cckm refresh ${other!.id}`);
    cckm.inject({
      method: 'POST',
      path: '/cancel',
      status: 400,
      body: { code: 3, codeDesc: 'NCERRBadRequest', message: 'not now <!here> & later' },
    });
    const answer = await cancelReply(refused);
    expect(answer).toContain('cckm did not take the cancel: CipherTrust answered HTTP 400 NCERRBadRequest');
    expect(answer).toContain('not now &lt;!here&gt; &amp; later. opsbot keeps following the action.');
    expect(answer).not.toContain('<!here>');
    // The timeline keeps what was said as written: it is escaped where it is shown.
    const timeline = await bot.opsbot.store.timeline(refused);
    expect(timeline.find((event) => event.kind === 'vendor-cancel')?.text).toContain(
      'not now <!here> & later',
    );
  });
});
