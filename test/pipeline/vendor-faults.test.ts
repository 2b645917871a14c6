import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeSlackCall } from '../../src/devtools/fake-slack.js';
import { type EceSimulator, startEceSimulator } from '../../src/vendors/ece/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * Transient vendor faults are visible on the live root message, without extra posts: while a call
 * is tried again after a 502/503, the root's state line says which try it is and what the vendor
 * said, and the line goes once a call succeeds. The retry settings are the request's own (here
 * set on the target, with waits of a few ms; ECE's 503s ask for a second with Retry-After).
 */

const RESTART = 'ece.resource.restart';

let ece: EceSimulator;
let bot: Harness;

beforeAll(async () => {
  ece = await startEceSimulator();
});
afterAll(async () => {
  await ece.close();
});
afterEach(async () => {
  ece.setScenario('success');
  ece.clearFaults();
  await bot?.stop();
});

async function startBot(retry: Record<string, unknown>) {
  bot = await startHarness({
    env: { ECE_API_KEY: ece.credentials.apiKey },
    targets: { ece: { prod: { url: ece.url, apiKey: { env: 'ECE_API_KEY' } } } },
    actions: {
      [RESTART]: { targets: { prod: { retry: { initialDelay: '20ms', maxDelay: '50ms', ...retry } } } },
    },
  });
}

async function requestRestart(deploymentId: string): Promise<string> {
  await bot.command(USERS.requester, `ece restart ${deploymentId} kibana`);
  return bot.nextRequestId();
}

/** The root message's edits so far, as the text a person would read in each. */
function rootEdits(id: string): string[] {
  const ts = bot.root(id)!.ts;
  return bot.slack.calls
    .filter((call: FakeSlackCall) => call.method === 'chat.update' && call.args.ts === ts && call.ok)
    .map((call) => `${call.args.text}\n${JSON.stringify(call.args.blocks)}`);
}

/** Waits for the end to be recorded and shown on the root (its last update), and answers the request. */
const ended = async (id: string) => {
  await waitFor(async () => (await bot.opsbot.store.get(id))?.phase === 'done', 'the run to end');
  const done = (await bot.opsbot.store.get(id))!;
  await waitFor(
    () => rootEdits(id).at(-1)?.includes(`: ${done.state}\n`) ?? false,
    'the root to show the end',
  );
  return done;
};

describe('transient vendor faults on the root message', () => {
  it('shows each try of a submit during a 5xx storm, then drops the line once the call goes through', async () => {
    await startBot({});
    const deployment = ece.addDeployment({ resources: [{ kind: 'kibana' }] });
    const id = await requestRestart(deployment.id);
    // The next four calls to ECE answer 503, 502, 503, 502: the read before the restart fails
    // four times, and the fifth try goes through.
    ece.setScenario('5xx-storm');
    await bot.click(USERS.approver, 'approve', id);

    const done = await ended(id);
    expect(done.state).toBe('succeeded');
    expect(done.retrying).toBe('');
    const edits = rootEdits(id);
    const retries = edits.filter((text) => text.includes('Retrying'));
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.join('\n')).toMatch(
      /Retrying \(attempt [2-5] of 6\): ECE is unavailable or busy \(.*HTTP 50[23]\)/,
    );
    // Once the call went through, no edit shows the line any more.
    const lastRetry = edits.findLastIndex((text) => text.includes('Retrying'));
    expect(edits.slice(lastRetry + 1).length).toBeGreaterThan(0);
    expect(edits.slice(lastRetry + 1).join('\n')).not.toContain('Retrying');
    expect(textOf(bot.root(id))).not.toContain('Retrying');
    // No extra posts: nothing in the thread speaks of the retries.
    expect(bot.thread(id).map(textOf).join('\n')).not.toContain('Retrying');
    // Few edits: the approval, one per retry (four at most), the submission and the end.
    expect(edits.length).toBeLessThanOrEqual(7);
  });

  it('fails a submit once it has had its configured number of tries', async () => {
    await startBot({ attempts: 3 });
    const deployment = ece.addDeployment({ resources: [{ kind: 'kibana' }] });
    const id = await requestRestart(deployment.id);
    ece.setScenario('5xx-storm');
    const before = ece.requests.length;
    await bot.click(USERS.approver, 'approve', id);

    const done = await ended(id);
    expect(done.state).toBe('failed');
    expect(done.outcome).toMatch(/^ECE is unavailable or busy/);
    const calls = ece.requests.slice(before).filter((r) => r.path.includes(deployment.id));
    expect(calls.map((r) => r.method)).toEqual(['GET', 'GET', 'GET']);
    expect(rootEdits(id).some((text) => text.includes('Retrying (attempt 3 of 3)'))).toBe(true);
    expect(textOf(bot.root(id))).not.toContain('Retrying');
  });

  it('shows a status read tried again while the run goes on, and drops the line after a good read', async () => {
    await startBot({});
    const deployment = ece.addDeployment({ resources: [{ kind: 'kibana' }] });
    const id = await requestRestart(deployment.id);
    await bot.click(USERS.approver, 'approve', id);
    const { store } = bot.opsbot;
    await waitFor(async () => (await store.get(id))?.phase === 'polling', 'the restart to be followed');

    // A proxy in front of ECE answers the next three reads with its own 502 page.
    ece.inject({
      method: 'GET',
      path: deployment.id,
      times: 3,
      status: 502,
      headers: { 'content-type': 'text/html' },
      body: '<html><body>502 Bad Gateway</body></html>',
    });
    await waitFor(
      () => rootEdits(id).some((text) => text.includes('Retrying (attempt 2, until the deadline): ECE')),
      'the root to show the retry',
    );
    await waitFor(() => {
      const edits = rootEdits(id);
      const lastRetry = edits.findLastIndex((text) => text.includes('Retrying'));
      return edits.slice(lastRetry + 1).some((text) => text.includes('Running'));
    }, 'a root edit showing it running, without the retry line');
    expect((await store.get(id))?.retrying).toBe('');
    const done = await ended(id);
    expect(done.state).toBe('succeeded');
    expect(bot.thread(id).map(textOf).join('\n')).not.toContain('Retrying');
  });
});
