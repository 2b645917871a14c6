import { DelayedError, type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { section } from '../../src/slack/blocks.js';
import { BASELINE_QUEUE, type BaselineJob } from '../lib/baseline.js';
import { runChild } from '../lib/child.js';

/**
 * The pipeline baseline: the same vendor calls and Slack posts as an approved opsbot refresh,
 * done with bare BullMQ steps and undici and nothing else. Submit, post "submitted", then sleep
 * in Redis (moveToDelayed) and poll until the job ends, posting each new status, then the final
 * reply and the root update. No request record, outbox, pacing, lock or audit trail: the floor.
 */

interface Start {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  pollIntervalMs: number;
  slackApiUrl: string;
  botToken: string;
  arcgis: { url: string; username: string; password: string };
}

const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

runChild(async (message) => {
  const start = message as unknown as Start;
  let token: Promise<string> | undefined;

  const arcgis = async (method: 'GET' | 'POST', path: string, fields: Record<string, string>) => {
    const form = new URLSearchParams({ ...fields, f: 'json' }).toString();
    const url = `${start.arcgis.url}/${path}`;
    const response =
      method === 'GET'
        ? await request(`${url}?${form}`)
        : await request(url, {
            method,
            body: form,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          });
    const body = (await response.body.json()) as Record<string, unknown>;
    if (body.error) throw new Error(`arcgis: ${JSON.stringify(body.error)}`);
    return body;
  };
  /** One token for the process, minted by the first call that needs it. */
  const currentToken = () => {
    token ??= arcgis('POST', 'sharing/rest/generateToken', {
      username: start.arcgis.username,
      password: start.arcgis.password,
      client: 'requestip',
      expiration: '60',
    }).then((answer) => String(answer.token));
    return token;
  };
  const slack = async (method: string, args: Record<string, unknown>) => {
    const response = await request(`${start.slackApiUrl}${method}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${start.botToken}`,
        'content-type': 'application/json; charset=utf-8',
      },
      body: JSON.stringify(args),
    });
    const body = (await response.body.json()) as { ok: boolean; error?: string };
    if (!body.ok) throw new Error(`slack ${method}: ${body.error}`);
  };
  const reply = (data: BaselineJob, text: string) =>
    slack('chat.postMessage', { channel: data.channel, thread_ts: data.rootTs, ...section(text) });

  const step = async (job: Job<BaselineJob>, lockToken?: string) => {
    const data = job.data;
    const sleep = async (next: BaselineJob): Promise<never> => {
      await job.updateData(next);
      await job.moveToDelayed(Date.now() + start.pollIntervalMs, lockToken);
      throw new DelayedError();
    };
    const auth = { token: await currentToken() };
    if (data.phase === 'submit') {
      const answer = await arcgis('POST', `admin/system/deployments/${data.deploymentId}/refresh`, {
        async: 'true',
        ...auth,
      });
      const status = String(answer.jobStatus);
      await reply(data, `:rocket: Submitted to arcgis/prod · job \`${answer.jobID}\`\nStatus *${status}*`);
      return sleep({ ...data, phase: 'poll', jobId: String(answer.jobID), status });
    }
    const status = String((await arcgis('GET', `admin/jobs/${data.jobId}`, auth)).status);
    if (FINAL.has(status)) {
      await reply(
        data,
        `:large_green_circle: *Succeeded*\nVendor job \`${data.jobId}\`, last status *${status}*`,
      );
      await slack('chat.update', {
        channel: data.channel,
        ts: data.rootTs,
        ...section(`*arcgis.deployment.refresh* on \`arcgis/prod\`: ${status}`),
        text: 'arcgis.deployment.refresh on arcgis/prod: succeeded',
      });
      return;
    }
    if (status !== data.status) await reply(data, `:arrows_counterclockwise: Status *${status}*`);
    return sleep({ ...data, status });
  };

  const connection = new Redis(start.redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker<BaselineJob>(BASELINE_QUEUE, step, {
    connection,
    prefix: start.prefix,
    concurrency: start.concurrency,
  });
  worker.on('error', (error) => process.stderr.write(`baseline worker error: ${error.message}\n`));
  worker.on('failed', (_job, error) => process.stderr.write(`baseline step failed: ${error.message}\n`));
  await worker.waitUntilReady();
  return {
    stop: async () => {
      await worker.close();
      connection.disconnect();
    },
  };
});
