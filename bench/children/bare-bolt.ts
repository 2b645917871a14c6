import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, ExpressReceiver, LogLevel } from '@slack/bolt';
import express from 'express';
import { runChild } from '../lib/child.js';

/**
 * The ingress baseline: a bare Bolt app on the same ExpressReceiver (same signature check, same
 * body parsing) whose `/ops` handler only acknowledges. Anything the bot adds shows up against it.
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
  app.command('/ops', async ({ ack }) => {
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
