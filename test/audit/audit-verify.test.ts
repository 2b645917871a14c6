import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditChainStore } from '../../src/audit/chain-store.js';
import { createAuditSealer } from '../../src/audit/sealer.js';
import { ACTIONS_QUEUE } from '../../src/jobs/queues.js';
import { createLogger } from '../../src/log.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import {
  arcgisProd,
  type Harness,
  type HarnessOptions,
  startHarness,
  USERS,
  waitFor,
} from '../support/harness.js';
import { expectSealedInOrder, rewriteStream, seals, withField } from './support.js';

/**
 * The audit chain through the whole bot: a real action's records sealed in order by the workers'
 * sealer (one chain however many workers), the chain carried by the JSON log lines, and
 * `/ops audit verify` answering auditors (intact, or where it breaks) and refusing anyone else.
 */

const AUDITOR = 'U0AUDITOR1';

let arcgis: ArcgisSimulator;
const bots: Harness[] = [];

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  for (const bot of bots.splice(0).reverse()) await bot.stop();
});

async function start(options: Partial<HarnessOptions> = {}): Promise<Harness> {
  const bot = await startHarness({
    ...arcgisProd(arcgis),
    auditors: { users: [AUDITOR] },
    audit: { sealEvery: '30ms' },
    ...options,
  });
  bots.push(bot);
  return bot;
}

function chainOf(bot: Harness): AuditChainStore {
  return new AuditChainStore(bot.redis, bot.opsbot.store.auditKey(), 90 * 86_400_000);
}

/** Asks for a refresh, approves it and waits until it succeeded; answers its request id. */
async function refreshApproved(bot: Harness): Promise<string> {
  const deployment = arcgis.addDeployment({
    script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 1 } },
  });
  await bot.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
  const requestId = await bot.nextRequestId();
  await bot.click(USERS.approver, 'approve', requestId);
  await waitFor(async () => (await bot.opsbot.store.get(requestId))?.state === 'succeeded', 'success');
  return requestId;
}

/** Waits until every record written so far is sealed. */
async function untilSealed(bot: Harness): Promise<void> {
  const chain = chainOf(bot);
  await waitFor(async () => (await chain.unsealedCount()) === 0, 'every audit record to be sealed');
}

/** Sends one command and returns the ephemeral answer it got. */

async function metrics(bot: Harness): Promise<string> {
  return (await fetch(`${bot.opsbot.opsUrl}/metrics`)).text();
}

describe('sealing', () => {
  it('seals the records of a whole action in order, and the log lines carry the chain', async () => {
    const bot = await start();
    const requestId = await refreshApproved(bot);
    await untilSealed(bot);

    const stored = await expectSealedInOrder(bot.redis, bot.opsbot.store.auditKey());
    const trail = (await bot.opsbot.store.auditTrail(1000)).filter(
      (record) => record.requestId === requestId,
    );
    expect(trail.map((record) => record.kind)).toEqual(
      expect.arrayContaining(['requested', 'approved', 'vendor-call', 'submitted', 'succeeded']),
    );
    expect(stored.length).toBeGreaterThanOrEqual(trail.length);

    // Every seal is in the logs with its hash, each batch starting from the hash before it.
    const batches = bot.logLines
      .map((line) => JSON.parse(line))
      .filter((line) => line.auditChain)
      .map((line) => line.auditChain as { seq: number; prev: string; records: Array<[string, string]> });
    const logged = new Map(batches.flatMap((batch) => batch.records));
    for (const seal of stored) expect(logged.get(seal.id)).toBe(seal.hash);
    for (const batch of batches) {
      const before = stored.find((seal) => seal.seq === batch.seq - 1);
      expect(batch.prev).toBe(before?.hash ?? '0'.repeat(64));
    }
  });

  it('makes one chain with two workers sealing the same trail', async () => {
    const bot = await start({ audit: { sealEvery: '10ms' } });
    // A second worker on the same Redis and prefix; no command is sent, so its own fake Slack
    // never matters: the two only share the audit trail and the sealing schedule.
    await start({ prefix: bot.prefix, roles: ['worker'], audit: { sealEvery: '10ms' } });
    for (let i = 0; i < 400; i += 1) {
      await bot.opsbot.store.audit(
        { kind: 'vendor-call', text: `GET /jobs/${i} → HTTP 200` },
        'op-abcdef12',
        false,
      );
    }
    await untilSealed(bot);

    const stored = await expectSealedInOrder(bot.redis, bot.opsbot.store.auditKey());
    expect(stored.map((seal) => seal.seq)).toEqual(stored.map((_, i) => i + 1));
    expect(stored.length).toBeGreaterThanOrEqual(400);
  });
});

describe('/ops audit verify', () => {
  it('tells an auditor the chain is intact, with its head, and records the check', async () => {
    const bot = await start();
    await refreshApproved(bot);
    await untilSealed(bot);
    const head = (await seals(bot.redis, chainOf(bot).chainKey)).at(-1)!;

    const answer = await bot.ask(AUDITOR, 'audit verify');

    expect(answer.text).toContain('The audit chain is intact');
    expect(answer.text).toMatch(/records? from <!date\^\d+\^/);
    expect(answer.text).toContain(head.hash);
    const check = (await bot.opsbot.store.auditTrail(5)).find((record) => record.kind === 'audit-verify');
    expect(check).toMatchObject({ actor: AUDITOR, text: expect.stringMatching(/^intact: \d+ records/) });
    expect(await metrics(bot)).toMatch(/^opsbot_audit_verify_failures_total 0$/m);
  });

  it('says where the chain breaks when a record was changed, its stored text escaped', async () => {
    const bot = await start();
    const requestId = await refreshApproved(bot);
    await untilSealed(bot);
    const approval = (await bot.opsbot.store.auditTrail(1000)).find(
      (record) => record.requestId === requestId && record.kind === 'approved',
    )!;
    const auditKey = bot.opsbot.store.auditKey();
    const [changed] = (await seals(bot.redis, chainOf(bot).chainKey)).filter(
      (seal) => Number(seal.id.split('-')[0]) === approval.at,
    );
    await rewriteStream(bot.redis, auditKey, ([id, fields]) => [
      [id, id === changed!.id ? withField(fields, 'kind', '<!channel> approved') : fields],
    ]);

    const answer = await bot.ask(AUDITOR, 'audit verify');

    expect(answer.text).toContain('The audit chain is broken');
    expect(answer.text).toContain(
      `record ${changed!.seq} (\`${changed!.id}\`, &lt;!channel&gt; approved, ${requestId}, <!date^`,
    );
    expect(answer.text).toContain('does not match its hash: it was changed after it was sealed');
    expect(answer.text).not.toContain('<!channel>');
    expect(await metrics(bot)).toMatch(/^opsbot_audit_verify_failures_total 1$/m);
  });

  it('refuses anyone but an auditor, checks nothing, and records the refusal', async () => {
    const bot = await start();

    const answer = await bot.ask(USERS.approver, 'audit verify');

    expect(answer.text).toContain('`/ops audit verify` is for auditors only (`policy.auditors`)');
    expect(answer.text).not.toContain('audit chain');
    const refusal = (await bot.opsbot.store.auditTrail(5)).find((record) => record.kind === 'audit-verify');
    expect(refusal).toMatchObject({ actor: USERS.approver, text: 'refused: not an auditor' });
  });

  it('is listed in help for auditors only', async () => {
    const bot = await start();
    expect((await bot.ask(AUDITOR, 'help')).text).toContain('`/ops audit verify`');
    expect((await bot.ask(USERS.requester, 'help')).text).not.toContain('audit verify');
  });

  it('says exactly what is wrong with a mistyped check', async () => {
    const bot = await start();
    expect((await bot.ask(AUDITOR, 'audit')).text).toContain('verify is missing');
    expect((await bot.ask(AUDITOR, 'audit <!here>')).text).toContain(
      'unknown audit command "&lt;!here&gt;" (audit commands: verify)',
    );
    // Nothing is recorded yet (typing mistakes leave no record), so nothing is sealed.
    expect((await bot.ask(AUDITOR, 'AUDIT Verify')).text).toBe('No audit record is sealed yet.');
  });
});

describe('the unsealed records gauge', () => {
  it('shows how many records wait for the sealer', async () => {
    const bot = await start({ audit: { sealEvery: '1h' }, server: { queueMetricsMaxAge: '0ms' } });
    // The schedule's first run comes at once, before any record; after it, none for an hour.
    const actions = new Queue(ACTIONS_QUEUE, { connection: bot.redis, prefix: bot.prefix });
    await waitFor(async () => {
      const { waiting, active } = await actions.getJobCounts('waiting', 'active');
      return waiting === 0 && active === 0;
    }, 'the first scheduled runs to end');
    await actions.close();
    const chain = chainOf(bot);
    await bot.command(USERS.requester, `arcgis refresh-deployment ${arcgis.addDeployment({}).deploymentId}`);
    await bot.nextRequestId();
    const waiting = await chain.unsealedCount();
    expect(waiting).toBeGreaterThan(0);
    expect(await metrics(bot)).toMatch(new RegExp(`^opsbot_audit_unsealed_records ${waiting}$`, 'm'));

    await createAuditSealer(chain, createLogger({ level: 'silent' }))();
    expect(await metrics(bot)).toMatch(/^opsbot_audit_unsealed_records 0$/m);
  });
});
