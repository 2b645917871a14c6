import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeSlackMessage } from '../../src/devtools/fake-slack.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  CHANNEL,
  type Harness,
  OTHER_CHANNEL,
  startHarness,
  textOf,
  USERS,
  waitFor,
} from '../support/harness.js';

/**
 * `/ops status` and `/ops history` over signed HTTP, against requests made the real way in CHANNEL.
 * Requests are private to their channel: there anyone sees them; from OTHER_CHANNEL only their
 * requester, their approvers (the harness's approvers are the approver, the requester and the
 * approvers' user group) and the auditor do. Every answer is ephemeral (through response_url),
 * one short section a phone can show.
 *
 * The requests, oldest first: `done` (requester, prod, succeeded), `staging` (requester, staging,
 * pending), `approvers` (approver, prod, pending).
 */

const AUDITOR = 'U0AUDITOR1';

let arcgis: ArcgisSimulator;
let bot: Harness;
const ids = { done: '', staging: '', approvers: '' };

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
  const target = { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } };
  bot = await startHarness({
    env: { ARCGIS_PASSWORD: arcgis.password },
    targets: { arcgis: { prod: target, staging: target } },
    auditors: { users: [AUDITOR] },
    policy: { channels: [CHANNEL, OTHER_CHANNEL] },
  });
  bot.redis.on('error', () => {});
  const refresh = (target: string) =>
    `arcgis refresh-deployment ${arcgis.addDeployment({ script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } } }).deploymentId} --target ${target}`;

  await bot.command(USERS.requester, refresh('prod'));
  ids.done = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', ids.done);
  await waitFor(
    () =>
      textOf(bot.root(ids.done)).includes('Succeeded') &&
      textOf(bot.thread(ids.done).at(-1)).includes('Succeeded'),
    'the first request to succeed, in its root and its thread',
  );
  await bot.command(USERS.requester, refresh('staging'));
  ids.staging = await bot.nextRequestId();
  await bot.command(USERS.approver, refresh('prod'));
  ids.approvers = await bot.nextRequestId();
});
afterAll(async () => {
  await bot?.stop();
  await arcgis?.close();
});

/** The request ids an answer lists, in order. */
function listed(message: FakeSlackMessage): string[] {
  return [...message.text.matchAll(/`(op-[a-z0-9]+)`/g)].map((match) => match[1]!);
}

function expectPhoneSized(message: FakeSlackMessage): void {
  expect(message.blocks).toHaveLength(1);
  expect(message.text.length).toBeLessThan(3000);
}

describe('/ops status', () => {
  it('shows the requester the state, the timeline and a link to the thread', async () => {
    const answer = await bot.ask(USERS.requester, `status ${ids.done}`);
    const root = bot.root(ids.done)!;
    expect(answer.text).toContain(`*${ids.done}* · *succeeded*`);
    expect(answer.text).toContain('arcgis.deployment.refresh on `arcgis/prod`');
    expect(answer.text).toContain(`asked by <@${USERS.requester}>`);
    expect(answer.text).toContain('*Timeline*');
    expect(answer.text).toContain(`<@${USERS.approver}> approved`);
    expect(answer.text).toMatch(/Vendor job `j\w+`/);
    expect(answer.text).toContain(
      `<https://sandbox.slack.local/archives/${CHANNEL}/p${root.ts.replace('.', '')}|Open the thread>`,
    );
    expectPhoneSized(answer);
  });

  it('shows anyone in the request’s own channel its request', async () => {
    const answer = await bot.ask(USERS.outsider, `status ${ids.staging}`);
    expect(answer.text).toContain(`*${ids.staging}* · *pending*`);
    expect(answer.text).toContain('`arcgis/staging`');
  });

  it('tells an outsider in another channel there is no request they may see, and nothing else', async () => {
    const permalinks = () => bot.slack.calls.filter((call) => call.method === 'chat.getPermalink').length;
    const before = permalinks();
    const answer = await bot.ask(USERS.outsider, `status ${ids.done}`, OTHER_CHANNEL);
    expect(answer.text).toBe(`:warning: no request ${ids.done} that you may see`);
    expect(permalinks()).toBe(before);
    expect(JSON.stringify(answer.blocks)).not.toMatch(/arcgis|Timeline|slack\.local|archives/);
    // The same words as for an id that does not exist: the answer does not tell which it is.
    expect((await bot.ask(USERS.outsider, 'status op-zzzzzz9', OTHER_CHANNEL)).text).toBe(
      ':warning: no request op-zzzzzz9 that you may see',
    );
  });

  it('shows a request in another channel to its requester, its approvers and an auditor', async () => {
    for (const user of [USERS.requester, USERS.groupApprover, AUDITOR]) {
      const answer = await bot.ask(user, `status ${ids.done}`, OTHER_CHANNEL);
      expect(answer.text).toContain(`*${ids.done}* · *succeeded*`);
      expect(answer.text).toContain(`<https://sandbox.slack.local/archives/${CHANNEL}/`);
    }
  });

  it('says clearly when the id is unknown or malformed', async () => {
    expect((await bot.ask(USERS.approver, 'status op-zzzzzz9')).text).toBe(
      ':warning: no request op-zzzzzz9 that you may see',
    );
    const malformed = await bot.ask(USERS.approver, 'status 42');
    expect(malformed.text).toContain('request ids look like op-7k3m9q');
    expect(malformed.text).toContain('Usage: `/ops status <request-id>`');
    expect((await bot.ask(USERS.approver, 'status')).text).toContain('<request-id> is missing');
  });
});

describe('/ops history', () => {
  it('lists anyone in the channel its recent requests, newest first', async () => {
    const answer = await bot.ask(USERS.outsider, 'history');
    expect(answer.text).toContain('Recent requests in this channel');
    expect(listed(answer)).toEqual([ids.approvers, ids.staging, ids.done]);
    expect(answer.text).toContain(`\`${ids.done}\` succeeded · arcgis.deployment.refresh \`prod\``);
    expectPhoneSized(answer);
  });

  it('filters with --mine and --target, and bounds with --limit', async () => {
    expect(listed(await bot.ask(USERS.approver, 'history --mine'))).toEqual([ids.approvers]);
    expect(listed(await bot.ask(USERS.approver, 'history --target staging'))).toEqual([ids.staging]);
    expect(listed(await bot.ask(USERS.approver, 'history --target prod'))).toEqual([ids.approvers, ids.done]);
    expect(listed(await bot.ask(USERS.approver, 'history --limit 2'))).toEqual([ids.approvers, ids.staging]);
    expect(listed(await bot.ask(USERS.approver, 'history --mine --target staging'))).toEqual([]);
    expect((await bot.ask(USERS.approver, 'history --target nowhere')).text).toBe(
      'No requests in this channel.',
    );
  });

  it('never lists a channel’s requests in another channel, even to their requester or an auditor', async () => {
    for (const user of [USERS.outsider, USERS.requester, AUDITOR]) {
      const answer = await bot.ask(user, 'history', OTHER_CHANNEL);
      expect(answer.text).toBe('No requests in this channel.');
    }
    const mine = await bot.ask(USERS.requester, 'history --mine');
    expect(mine.text).toContain('Recent requests of yours in this channel');
    expect(listed(mine)).toEqual([ids.staging, ids.done]);
  });

  it('refuses a bad --limit with the usage', async () => {
    expect((await bot.ask(USERS.approver, 'history --limit 0')).text).toContain('--limit must be at least 1');
    expect((await bot.ask(USERS.approver, 'history --limit 51')).text).toContain('--limit can be at most 50');
    expect((await bot.ask(USERS.approver, 'history --limit lots')).text).toContain(
      '--limit must be a number',
    );
  });

  it('answers every status and history command ephemerally, posting nothing in the channel', async () => {
    const writes = ['chat.postMessage', 'chat.postEphemeral', 'chat.update'];
    const posts = () => bot.slack.calls.filter((call) => writes.includes(call.method)).length;
    const channelMessages = () => bot.slack.messages.filter((m) => !m.ephemeralTo).length;
    const before = { posts: posts(), channelMessages: channelMessages() };
    const answersBefore = bot.slack.calls.filter((call) => call.method === 'response_url').length;
    await bot.ask(USERS.requester, `status ${ids.done}`);
    await bot.ask(USERS.outsider, `status ${ids.done}`, OTHER_CHANNEL);
    await bot.ask(USERS.approver, 'history --limit 5');
    await bot.ask(USERS.outsider, 'history', OTHER_CHANNEL);
    expect({ posts: posts(), channelMessages: channelMessages() }).toEqual(before);
    const answers = bot.slack.calls.filter((call) => call.method === 'response_url').slice(answersBefore);
    expect(answers).toHaveLength(4);
    for (const call of answers) expect(call.args.response_type).toBe('ephemeral');
  });
});
