import { Agent, setGlobalDispatcher } from 'undici';
import { sendButtonClick, sendSlashCommand } from '../../src/devtools/slack-requests.js';
import { APPROVE_ACTION } from '../../src/slack/blocks.js';
import { runChild } from '../lib/child.js';
import { openLoop } from '../lib/load.js';

/**
 * The load generator, in a process of its own so the server under test and the fake Slack never
 * share its event loop. It sends signed `/ops` slash commands, or signed Approve clicks, at a fixed
 * rate (open loop) and answers with every latency, measured from the time each request was
 * scheduled.
 */

interface LoadRequest {
  botUrl: string;
  signingSecret: string;
  rate: number;
  durationMs: number;
  userId: string;
  channelId: string;
  texts: string[];
  responseUrls: string[];
}

interface ClickLoad {
  botUrl: string;
  signingSecret: string;
  rate: number;
  durationMs: number;
  userId: string;
  channelId: string;
  /** The approval messages to click Approve on, one per click, in order. */
  messages: Array<{ requestId: string; ts: string }>;
  responseUrls: string[];
}

runChild(async () => {
  // Slack opens many connections; a request never waits for a free socket on our side.
  const agent = new Agent({ connections: 256, keepAliveTimeout: 60_000 });
  setGlobalDispatcher(agent);
  return {
    handlers: {
      load: async (message) => {
        const load = message as unknown as LoadRequest;
        const peer = { botUrl: load.botUrl, signingSecret: load.signingSecret };
        const result = await openLoop({
          rate: load.rate,
          durationMs: load.durationMs,
          send: async (i) => {
            const sent = await sendSlashCommand(peer, {
              command: '/ops',
              text: load.texts[i % load.texts.length]!,
              userId: load.userId,
              channelId: load.channelId,
              responseUrl: load.responseUrls[i % load.responseUrls.length]!,
            });
            return sent.status;
          },
        });
        return { ...result };
      },
      clicks: async (message) => {
        const load = message as unknown as ClickLoad;
        const peer = { botUrl: load.botUrl, signingSecret: load.signingSecret };
        const result = await openLoop({
          rate: load.rate,
          durationMs: load.durationMs,
          send: async (i) => {
            const target = load.messages[i % load.messages.length]!;
            const sent = await sendButtonClick(peer, {
              actionId: APPROVE_ACTION,
              value: target.requestId,
              userId: load.userId,
              channelId: load.channelId,
              messageTs: target.ts,
              responseUrl: load.responseUrls[i % load.responseUrls.length]!,
            });
            return sent.status;
          },
        });
        return { ...result };
      },
    },
    stop: () => agent.close(),
  };
});
