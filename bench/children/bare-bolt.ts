import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, ExpressReceiver, LogLevel } from '@slack/bolt';
import express from 'express';
import { APPROVE_ACTION, rootMessage } from '../../src/slack/blocks.js';
import { refreshDeployment } from '../../src/vendors/arcgis/refresh-deployment.js';
import { runChild } from '../lib/child.js';

/**
 * The ingress baselines: a bare Bolt app on the same ExpressReceiver (same signature check, same
 * body parsing) whose `/ops` handler only acknowledges, or with `post`, acknowledges and then
 * posts an approval message of the same shape as opsbot's with Bolt's own client: the floor for
 * the full command path, without request records, queues or pacing. Its Approve button handler
 * only acknowledges: the floor for the approval-click path.
 */
runChild(async (start) => {
  const web = express();
  web.disable('x-powered-by');
  const receiver = new ExpressReceiver({
    signingSecret: String(start.signingSecret),
    endpoints: '/slack/events',
    app: web,
    logLevel: LogLevel.WARN,
  });
  const app = new App({
    token: String(start.botToken),
    botId: String(start.botId),
    botUserId: String(start.botUserId),
    receiver,
    logLevel: LogLevel.WARN,
    clientOptions: { slackApiUrl: String(start.slackApiUrl), retryConfig: { retries: 0 } },
  });
  app.command('/ops', async ({ command, ack, client }) => {
    await ack();
    if (!start.post) return;
    const deploymentId = command.text.split(' ').at(-1) ?? '';
    const now = Date.now();
    const message = rootMessage(
      {
        id: `bare-${now}`,
        actionId: refreshDeployment.id,
        vendor: 'arcgis',
        target: 'prod',
        args: { deploymentId },
        summary: refreshDeployment.describe({ deploymentId }),
        channel: command.channel_id,
        requester: command.user_id,
        createdAt: now,
        expiresAt: now + 15 * 60_000,
        highRisk: false,
        state: 'pending',
        version: 1,
        phase: 'queued',
        reported: 0,
        faults: 0,
        fence: 0,
        votes: [],
        correlationId: 'bare',
      },
      command.command,
    );
    await client.chat.postMessage({ channel: command.channel_id, ...message });
  });
  // The click baseline: an Approve button handler that only acknowledges.
  app.action(APPROVE_ACTION, async ({ ack }) => {
    await ack();
  });
  const server = createServer(web);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ready: { url: `http://127.0.0.1:${port}` },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
});
