import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { type RedisProcess, startRedisServer } from '../../src/devtools/redis-server.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../src/vendors/arcgis/simulator.js';
import { problemsOf } from '../config/problems.js';
import { type Harness, type HarnessOptions, startHarness, USERS, waitFor } from '../support/harness.js';

/**
 * The HTTP endpoints beside `/slack/events`, called over real HTTP on a bot started from its
 * config: `/healthz`, `/readyz` (with Redis up, and with its own Redis stopped), `/metrics` after
 * real actions, and the queue dashboard behind HTTP Basic authentication.
 */

let arcgis: ArcgisSimulator;
let bot: Harness | undefined;
let privateRedis: RedisProcess | undefined;

beforeAll(async () => {
  arcgis = await startArcgisSimulator();
});
afterAll(async () => {
  await arcgis.close();
});
afterEach(async () => {
  // The bot first, while its Redis still runs: stopping it cleans its keys there.
  await bot?.stop();
  bot = undefined;
  await privateRedis?.destroy();
  privateRedis = undefined;
});

const DASHBOARD_PASSWORD = 'dashboard-pw-7d1e5b0c9a';

async function startBot(extra: Partial<HarnessOptions> = {}): Promise<Harness> {
  bot = await startHarness({
    ...extra,
    env: { ARCGIS_PASSWORD: arcgis.password, ...extra.env },
    targets: {
      arcgis: { prod: { url: arcgis.url, username: arcgis.username, password: { env: 'ARCGIS_PASSWORD' } } },
    },
  });
  return bot;
}

/** A GET to the bot's ops routes (on `server.opsPort` when set), or to `base`. */
async function get(path: string, headers: Record<string, string> = {}, base = bot!.opsbot.opsUrl) {
  const response = await request(`${base}${path}`, { headers });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text };
}

async function getJson(path: string) {
  const answer = await get(path);
  return { status: answer.status, body: JSON.parse(answer.text) as Record<string, unknown> };
}

describe('/healthz and /readyz', () => {
  it('answer 200 while Redis is up and the worker runs', async () => {
    await startBot();
    expect(await getJson('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await getJson('/readyz')).toEqual({
      status: 200,
      body: { status: 'ready', redis: true, worker: true },
    });
  });

  it.each([
    { roles: ['web', 'worker'] as Array<'web' | 'worker'> },
    { roles: ['worker'] as Array<'web' | 'worker'> },
  ])(
    'with roles $roles: /readyz answers 503 with a reason while Redis is unreachable, 200 once it is back',
    async ({ roles }) => {
      privateRedis = await startRedisServer();
      await startBot({ redisUrl: privateRedis.url, roles });
      bot!.redis.on('error', () => {}); // the test's own connection: the outage is the point
      expect((await getJson('/readyz')).status).toBe(200);

      await privateRedis.stop();
      let answer = await getJson('/readyz');
      await waitFor(async () => {
        answer = await getJson('/readyz');
        return answer.status === 503;
      }, '/readyz to report the outage');
      expect(answer.body).toMatchObject({ status: 'not ready', redis: false });
      expect(answer.body.reason).toContain('Redis did not answer');
      // The process itself is fine, and /metrics still answers from what it has.
      expect((await getJson('/healthz')).status).toBe(200);
      expect((await get('/metrics')).status).toBe(200);

      await privateRedis.restart();
      await waitFor(async () => (await getJson('/readyz')).status === 200, '/readyz to recover', 20_000);
    },
  );

  it('with a password in redis.url: connects, and the password is in no log line or answer', async () => {
    privateRedis = await startRedisServer();
    const password = 'redis-url-password-3e9a';
    const admin = new Redis(privateRedis.url);
    await admin.config('SET', 'requirepass', password);
    admin.disconnect();
    // The harness checks, as it stops, that no log line and no Slack call showed the password.
    await startBot({ redisUrl: `redis://:${password}@127.0.0.1:${privateRedis.port}` });
    expect(bot!.secrets).toContain(password);
    const answers = [await get('/readyz'), await get('/healthz'), await get('/metrics')];
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
    for (const answer of answers) expect(answer.text).not.toContain(password);
  });
});

/** One sample of a metric family from Prometheus text, found by name and (some of) its labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('/metrics', () => {
  it('exposes every family, with its labels, after real actions have run', async () => {
    const deployment = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 2 } },
    });
    const slow = arcgis.addDeployment({
      script: { outcome: 'COMPLETED', polls: { SUBMITTED: 1, EXECUTING: 100_000 } },
    });
    // Fresh queue figures at every scrape: this test follows them as they change.
    await startBot({
      actions: { 'arcgis.deployment.refresh': { deadline: '3s' } },
      server: { queueMetricsMaxAge: 0 },
    });
    const action = 'arcgis.deployment.refresh';

    // A Slack 429 on the first message, a vendor 502 on one job poll, one bad command.
    bot!.slack.fail({ method: 'chat.postMessage', times: 1, status: 429, retryAfterSeconds: 1 });
    arcgis.failWithHtml({ path: /\/jobs\//, status: 502, times: 1 });
    await bot!.command(USERS.requester, 'arcgis reboot-everything');
    await bot!.command(USERS.requester, `arcgis refresh-deployment ${deployment.deploymentId}`);
    const done = await bot!.nextRequestId();
    await bot!.click(USERS.approver, 'approve', done);
    await waitFor(async () => (await bot!.opsbot.store.get(done))?.state === 'succeeded', 'success');

    // A deployment ArcGIS does not know: HTTP 200 with an error body, counted by ArcGIS's own code.
    await bot!.command(USERS.requester, 'arcgis refresh-deployment nosuchdeployment00');
    const unknown = await bot!.nextRequestId();
    await bot!.click(USERS.approver, 'approve', unknown);
    await waitFor(async () => (await bot!.opsbot.store.get(unknown))?.state === 'failed', 'the failure');

    // One more, still polling the vendor while we scrape.
    await bot!.command(USERS.requester, `arcgis refresh-deployment ${slow.deploymentId}`);
    const running = await bot!.nextRequestId();
    await bot!.click(USERS.approver, 'approve', running);
    await waitFor(async () => (await bot!.opsbot.store.get(running))?.state === 'running', 'polling');

    // Only the polling action: expiry timers and the reconcile schedule are not actions (the
    // first action's job may still be closing a moment after its final state is stored).
    let scrape = await get('/metrics');
    await waitFor(async () => {
      scrape = await get('/metrics');
      return sample(scrape.text, 'opsbot_actions_in_flight') === 1;
    }, 'one action in flight');
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toContain('text/plain');
    const text = scrape.text;
    expect(sample(text, 'opsbot_requests_total', { action, outcome: 'requested' })).toBe(3);
    expect(sample(text, 'opsbot_requests_total', { action, outcome: 'failed' })).toBe(1);
    expect(sample(text, 'opsbot_requests_total', { action, outcome: 'succeeded' })).toBe(1);
    expect(sample(text, 'opsbot_requests_total', { action: 'none', outcome: 'bad_input' })).toBe(1);
    expect(sample(text, 'opsbot_approval_clicks_total', { result: 'approved' })).toBe(3);
    for (const queue of ['opsbot-actions', 'opsbot-slack', 'opsbot-commands']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed'])
        expect(sample(text, 'opsbot_queue_jobs', { queue, state })).toBeGreaterThanOrEqual(0);
    }
    expect(
      sample(text, 'opsbot_vendor_call_duration_seconds_count', {
        vendor: 'arcgis',
        target: 'prod',
        code: '200',
      }),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sample(text, 'opsbot_vendor_call_duration_seconds_bucket', {
        vendor: 'arcgis',
        code: '200',
        le: '+Inf',
      }),
    ).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'opsbot_vendor_errors_total', { vendor: 'arcgis', code: '502' })).toBe(1);
    expect(sample(text, 'opsbot_vendor_errors_total', { vendor: 'arcgis', code: '404' })).toBe(1);
    expect(sample(text, 'opsbot_slack_rate_limited_total')).toBe(1);
    expect(sample(text, 'opsbot_slack_calls_total', { method: 'chat.postMessage' })).toBeGreaterThan(0);
    expect(sample(text, 'opsbot_action_duration_seconds_count', { action, outcome: 'succeeded' })).toBe(1);

    // The README lists exactly the families served.
    const served = [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]).sort();
    const readme = readFileSync('README.md', 'utf8');
    const operations = readme.slice(
      readme.indexOf('### Health, metrics and logs'),
      readme.indexOf('### Dashboard'),
    );
    expect([...new Set(operations.match(/opsbot_[a-z_]+/g))].sort()).toEqual(served);

    await waitFor(async () => (await bot!.opsbot.store.get(running))?.state === 'timed_out', 'the deadline');
    // Its job ends just after the request's final state is stored.
    let after = '';
    await waitFor(async () => {
      after = (await get('/metrics')).text;
      return sample(after, 'opsbot_actions_in_flight') === 0;
    }, 'nothing in flight');
    expect(sample(after, 'opsbot_action_duration_seconds_count', { action, outcome: 'timed_out' })).toBe(1);
  });
});

describe('/metrics cost to Redis', () => {
  /**
   * The commands Redis receives on the bot's keys (not those its scripts run), as MONITOR shows
   * them. `sent()` answers those received so far, once a marker sent after them has shown too.
   */
  async function watchCommands(harness: Harness) {
    const seen: string[][] = [];
    const monitor = new Redis(inject('redisUrl'), { monitor: true });
    // On a busy Redis (other test files share it), lines can come in the same read as MONITOR's
    // own OK, before ioredis has switched the connection to monitoring: it reports them as
    // errors. They precede everything measured here; a monitor that really fails shows as the
    // marker never coming.
    monitor.on('error', () => {});
    await new Promise((resolve) => monitor.once('monitoring', resolve));
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => arg.startsWith(`${harness.prefix}:`))) seen.push(args);
    });
    let marks = 0;
    return {
      sent: async () => {
        marks += 1;
        const mark = `${harness.prefix}:mark-${marks}`;
        await harness.redis.ping(mark);
        await waitFor(() => seen.some((args) => args[1] === mark), 'MONITOR to show the marker');
        return seen.splice(0).filter((args) => !args[1]?.startsWith(`${harness.prefix}:mark-`));
      },
      stop: () => monitor.disconnect(),
    };
  }

  it('reads the queue figures once for twenty scrapes at once, and not again while they are fresh', async () => {
    // A web process alone: nothing but the scrapes touches its keys.
    const harness = await startBot({ roles: ['web'] });
    const commands = await watchCommands(harness);
    try {
      const burst = await Promise.all(Array.from({ length: 20 }, () => get('/metrics')));
      expect(burst.map((answer) => answer.status)).toEqual(Array(20).fill(200));
      expect(sample(burst[0]!.text, 'opsbot_actions_in_flight')).toBe(0);
      const read = await commands.sent();
      // One read for the twenty: the in-flight count (one script), the job counts of each queue,
      // the audit records waiting for the sealer (one script), and the freezes, sticky locks and
      // scheduled actions (one script).
      expect(read.filter(([, script]) => script?.includes('local n = 0'))).toHaveLength(1);
      for (const queue of ['opsbot-actions', 'opsbot-slack', 'opsbot-commands'])
        expect(read.filter((args) => args.includes(`${harness.prefix}:${queue}:`))).toHaveLength(1);
      expect(read.filter((args) => args.includes(`${harness.prefix}:audit:chain`))).toHaveLength(1);
      expect(read.filter(([, script]) => script?.includes("redis.call('ZCOUNT'"))).toHaveLength(1);
      expect(read).toHaveLength(6);

      for (let i = 0; i < 20; i += 1) expect((await get('/metrics')).status).toBe(200);
      expect(await commands.sent()).toEqual([]);
    } finally {
      commands.stop();
    }
  });
});

describe('server.opsPort', () => {
  it('serves health, metrics and the dashboard there only, and only /slack/events on the public port', async () => {
    await startBot({
      server: { opsPort: 0 },
      env: { DASHBOARD_PASSWORD },
      dashboard: { enabled: true, password: { env: 'DASHBOARD_PASSWORD' } },
    });
    const { url, opsUrl } = bot!.opsbot;
    expect(opsUrl).not.toBe(url);

    const ops = ['/healthz', '/readyz', '/metrics', '/admin/queues/'];
    expect(await Promise.all(ops.map(async (path) => (await get(path, {}, opsUrl)).status))).toEqual([
      200, 200, 200, 401,
    ]);
    expect(await Promise.all(ops.map(async (path) => (await get(path, {}, url)).status))).toEqual([
      404, 404, 404, 404,
    ]);

    // Slack's requests are answered on the public port, and not on the ops one.
    const { status } = await bot!.command(USERS.requester, 'help');
    expect(status).toBe(200);
    const onOps = await request(`${opsUrl}/slack/events`, { method: 'POST', body: 'command=%2Fops' });
    expect(onOps.statusCode).toBe(404);
    await onOps.body.dump();
  });

  it('is refused when it is the public port, or when only its host is set', () => {
    const load = (server: Record<string, unknown>) => () =>
      loadConfig({
        env: { T: 'xoxb-1', S: 'signing-secret' },
        document: {
          slack: { botToken: { env: 'T' }, signingSecret: { env: 'S' } },
          policy: { channels: ['*'] },
          server,
        },
      });
    expect(problemsOf(load({ port: 8080, opsPort: 8080 }))).toEqual([
      'server.opsPort: must differ from server.port (both are 8080)',
    ]);
    expect(problemsOf(load({ opsHost: '127.0.0.1' }))).toEqual([
      'server.opsHost: is set but server.opsPort is not',
    ]);
    expect(load({ port: 8080, opsPort: 9090, opsHost: '10.1.2.3' })().server).toEqual({
      port: 8080,
      host: '0.0.0.0',
      opsPort: 9090,
      opsHost: '10.1.2.3',
      queueMetricsMaxAge: 10_000,
    });
  });
});

describe('queue dashboard', () => {
  const PATH = '/admin/queues';
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });
  const dashboard = (extra: Record<string, unknown> = {}) =>
    startBot({
      env: { DASHBOARD_PASSWORD },
      dashboard: { enabled: true, username: 'ops', password: { env: 'DASHBOARD_PASSWORD' }, ...extra },
    });
  const send = async (method: 'PUT' | 'POST', path: string, headers: Record<string, string>) => {
    const response = await request(`${bot!.opsbot.opsUrl}${path}`, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      body: '{}',
    });
    return { status: response.statusCode, text: await response.body.text() };
  };

  it('asks for credentials, and refuses wrong ones, with 401 and WWW-Authenticate', async () => {
    await dashboard();
    for (const headers of [
      {},
      basic('ops', 'not-the-password'),
      basic('someone', DASHBOARD_PASSWORD),
      basic('ops', `${DASHBOARD_PASSWORD}x`),
      { authorization: 'Bearer whatever' },
    ]) {
      for (const path of [`${PATH}/`, `${PATH}/api/queues`]) {
        const answer = await get(path, headers);
        expect(answer.status).toBe(401);
        expect(answer.headers['www-authenticate']).toBe('Basic realm="opsbot dashboard", charset="UTF-8"');
        expect(answer.text).not.toContain('opsbot-actions');
      }
    }
    expect(bot!.logLines.join('')).toContain('queue dashboard: wrong username or password');
  });

  it('shows every queue, read-only, to the right credentials', async () => {
    await dashboard();
    const page = await get(`${PATH}/`, basic('ops', DASHBOARD_PASSWORD));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.text).toContain(PATH);

    const api = await get(`${PATH}/api/queues`, basic('ops', DASHBOARD_PASSWORD));
    expect(api.status).toBe(200);
    const { queues } = JSON.parse(api.text) as {
      queues: Array<{ name: string; readOnlyMode: boolean; allowRetries: boolean }>;
    };
    expect(queues.map((q) => q.name).sort()).toEqual(['opsbot-actions', 'opsbot-commands', 'opsbot-slack']);
    for (const queue of queues) expect(queue).toMatchObject({ readOnlyMode: true, allowRetries: false });
  });

  it('refuses every change in read-only mode (the default)', async () => {
    await dashboard();
    const auth = basic('ops', DASHBOARD_PASSWORD);
    for (const [method, path] of [
      ['PUT', '/api/queues/opsbot-actions/retry/failed'],
      ['PUT', '/api/queues/opsbot-actions/clean/completed'],
      ['PUT', '/api/queues/opsbot-actions/promote'],
      ['PUT', '/api/queues/opsbot-actions/pause'],
      ['PUT', '/api/queues/opsbot-actions/some-job/remove-unprocessed-children'],
      ['POST', '/api/queues/opsbot-actions/add'],
    ] as const) {
      const answer = await send(method, `${PATH}${path}`, auth);
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.text).toContain('read-only');
    }
    const { queues } = JSON.parse((await get(`${PATH}/api/queues`, auth)).text) as {
      queues: Array<{ isPaused: boolean }>;
    };
    for (const queue of queues) expect(queue.isPaused).toBe(false);
  });

  it('lets an operator act when readOnly is false', async () => {
    await dashboard({ readOnly: false });
    const auth = basic('ops', DASHBOARD_PASSWORD);
    expect((await send('PUT', `${PATH}/api/queues/opsbot-slack/retry/failed`, auth)).status).toBe(200);
    const { queues } = JSON.parse((await get(`${PATH}/api/queues`, auth)).text) as {
      queues: Array<{ readOnlyMode: boolean }>;
    };
    for (const queue of queues) expect(queue.readOnlyMode).toBe(false);
  });

  it('is not served at all unless configured', async () => {
    await startBot();
    expect((await get(`${PATH}/`)).status).toBe(404);
    expect((await get(`${PATH}/api/queues`, basic('admin', 'anything'))).status).toBe(404);
  });
});
