import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { type Harness, startHarness, textOf, USERS, waitFor } from '../support/harness.js';

/**
 * A request's reason, end to end: `--reason` is taken into the request, shown on the root, in
 * `/ops status` and kept in the audit trail; policy may require one, or one matching a pattern
 * (per action and per target), and a request without it is refused before anything is recorded.
 * `/ops cancel --reason` passes its reason on.
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

async function startBot(reason?: Record<string, unknown>) {
  const target = { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } };
  bot = await startHarness({
    env: { ARCGIS_PASSWORD: arcgis.password },
    targets: { arcgis: { prod: target, staging: target } },
    actions: reason
      ? {
          'arcgis.deployment.refresh': {
            reason: { required: true },
            targets: { prod: { reason } },
          },
        }
      : {},
  });
}

/** Sends a command and returns the one ephemeral answer it got. */
async function answerTo(user: string, text: string): Promise<string> {
  const before = bot.ephemerals(user).length;
  await bot.command(user, text);
  await waitFor(() => bot.ephemerals(user).length > before, `an answer to "${text}"`);
  return textOf(bot.ephemerals(user).at(-1));
}

const deployment = () => arcgis.addDeployment().deploymentId;

describe('a request with a reason', () => {
  it('shows the reason on the root, in /ops status and in the audit trail', async () => {
    await startBot();
    await bot.command(
      USERS.requester,
      `arcgis refresh-deployment ${deployment()} --target prod --reason “OPS-42 certificate <renewed> & stale”`,
    );
    const id = await bot.nextRequestId();
    const request = await bot.opsbot.store.get(id);
    expect(request?.reason).toBe('OPS-42 certificate <renewed> & stale');

    const root = bot.root(id)!;
    expect(JSON.stringify(root.blocks)).toContain(
      '*Reason*\\nOPS-42 certificate &lt;renewed&gt; &amp; stale',
    );

    const status = await answerTo(USERS.approver, `status ${id}`);
    expect(status).toContain('requested: OPS-42 certificate &lt;renewed&gt; &amp; stale');

    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.find((event) => event.kind === 'requested')).toMatchObject({
      actor: USERS.requester,
      text: 'requested: OPS-42 certificate <renewed> & stale',
    });
    expect(bot.logLines.some((line) => line.includes('requested: OPS-42 certificate'))).toBe(true);
  });

  it('is optional where policy does not ask for one', async () => {
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment()} --target prod`);
    const id = await bot.nextRequestId();
    expect((await bot.opsbot.store.get(id))?.reason).toBeUndefined();
    expect(textOf(bot.root(id))).not.toContain('*Reason*');
  });
});

describe("policy's reason requirement", () => {
  it('refuses a request without a reason where one is required, with an example, and records nothing', async () => {
    await startBot({ pattern: '^OPS-[0-9]+' });
    const id = deployment();
    const answer = await answerTo(USERS.requester, `arcgis refresh-deployment ${id} --target staging`);
    expect(answer).toContain(
      'arcgis.deployment.refresh on arcgis/staging needs a reason: add --reason "…", e.g. `/ops arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --reason "why it is needed"`. Nothing was requested.',
    );
    expect(await bot.redis.zcard(`${bot.prefix}:requests`)).toBe(0);
    expect(bot.slack.messages.filter((m) => !m.ephemeralTo)).toHaveLength(0);
    expect(arcgis.counters.refreshCalls[id]).toBeUndefined();

    await bot.command(
      USERS.requester,
      `arcgis refresh-deployment ${id} --target staging --reason "disk full"`,
    );
    const opened = await bot.nextRequestId();
    expect((await bot.opsbot.store.get(opened))?.reason).toBe('disk full');
  });

  it("refuses a reason that does not match the target's pattern, naming the pattern, and records nothing", async () => {
    await startBot({ pattern: '^OPS-[0-9]+' });
    const command = `arcgis refresh-deployment ${deployment()} --target prod`;
    const missing = await answerTo(USERS.requester, command);
    expect(missing).toContain(
      'arcgis.deployment.refresh on arcgis/prod needs a reason matching `^OPS-[0-9]+`: add --reason "…", e.g. `/ops arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --reason "OPS-123 why it is needed"`',
    );
    const wrong = await answerTo(USERS.requester, `${command} --reason "<!channel> ops-7 lower case"`);
    expect(wrong).toContain(
      'arcgis.deployment.refresh on arcgis/prod needs a reason matching `^OPS-[0-9]+`; "&lt;!channel&gt; ops-7 lower case" does not match it, e.g. `/ops arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --reason "OPS-123 why it is needed"`. Nothing was requested.',
    );
    expect(await bot.redis.zcard(`${bot.prefix}:requests`)).toBe(0);
    expect(bot.slack.messages.filter((m) => !m.ephemeralTo)).toHaveLength(0);

    await bot.command(USERS.requester, `${command} --reason 'OPS-7 it's stuck'`);
    const id = await bot.nextRequestId();
    expect((await bot.opsbot.store.get(id))?.reason).toBe("OPS-7 it's stuck");
  });

  it('needs no reason for a dry run, which changes nothing', async () => {
    await startBot({ pattern: '^OPS-[0-9]+' });
    const answer = await answerTo(
      USERS.requester,
      `arcgis refresh-deployment ${deployment()} --target prod --dry-run`,
    );
    expect(answer).toContain('Dry run');
  });
});

describe('/ops cancel --reason', () => {
  it('withdraws a pending request with the reason on the root and in the audit trail', async () => {
    await startBot();
    await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment()} --target prod`);
    const id = await bot.nextRequestId();

    const answer = await answerTo(USERS.requester, `cancel ${id} --reason "asked for the wrong one"`);
    expect(answer).toContain(`Request \`${id}\` cancelled.`);
    const request = await bot.opsbot.store.get(id);
    expect(request).toMatchObject({
      state: 'cancelled',
      cancelledBy: USERS.requester,
      decisionReason: 'asked for the wrong one',
    });
    await waitFor(() => textOf(bot.root(id)).includes('Cancelled'), 'the root to say cancelled');
    expect(textOf(bot.root(id))).toContain('“asked for the wrong one”');
    const timeline = await bot.opsbot.store.timeline(id);
    expect(timeline.at(-1)).toMatchObject({
      kind: 'cancelled',
      text: 'withdrawn before approval: asked for the wrong one',
    });
  });
});
