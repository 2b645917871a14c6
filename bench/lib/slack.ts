import { type FakeSlack, type FakeSlackMessage, startFakeSlack } from '../../src/devtools/fake-slack.js';

/**
 * The Slack side of the bench: the fake Slack Web API from src/devtools, the identities every
 * measurement uses, and a watcher that timestamps what arrives (approval messages, root updates)
 * and counts the Web API calls made.
 */

export const BENCH_SLACK = {
  botToken: 'xoxb-bench-0123456789abcdef',
  signingSecret: 'bench-signing-secret-0123456789',
  botId: 'B0OPSBOT1',
  botUserId: 'UOPSBOT01',
} as const;

export const REQUESTER = 'U0BENCHREQ';
export const APPROVER = 'U0BENCHAPR';
export const CHANNEL = 'C0BENCH001';

export function startBenchSlack(rateLimit?: { perSecond: number; burst: number }): Promise<FakeSlack> {
  return startFakeSlack({ botToken: BENCH_SLACK.botToken, botUserId: BENCH_SLACK.botUserId, rateLimit });
}

export interface RootMessage {
  requestId: string;
  ts: string;
  channel: string;
  postedAt: number;
  /** Times the root was edited, and when it last was. */
  updates: number;
  lastUpdateAt: number;
  text: string;
}

/** Follows the approval messages (thread roots) as they are posted and edited. */
export class SlackWatch {
  readonly byRequest = new Map<string, RootMessage>();
  readonly byTs = new Map<string, RootMessage>();
  /** Roots whose text ends with `finalText`, with the time the update arrived. */
  readonly finished = new Map<string, number>();
  /** Texts of the ephemeral (response_url) messages users were shown. */
  readonly ephemerals: string[] = [];
  readonly #stop: () => void;
  #onRoot: ((root: RootMessage) => void) | undefined;

  constructor(
    readonly slack: FakeSlack,
    private readonly finalText = ': succeeded',
  ) {
    this.#stop = slack.onChange((message) => this.#see(message));
  }

  /** Called once for every new approval message (until replaced; `undefined` stops it). */
  onRoot(listener: ((root: RootMessage) => void) | undefined): void {
    this.#onRoot = listener;
  }

  get roots(): number {
    return this.byRequest.size;
  }

  close(): void {
    this.#stop();
  }

  #see(message: FakeSlackMessage): void {
    if (message.ephemeralTo) {
      this.ephemerals.push(message.text);
      return;
    }
    if (message.thread_ts) return;
    const known = this.byTs.get(message.ts);
    if (known) {
      known.updates += 1;
      known.lastUpdateAt = Date.now();
      known.text = message.text;
      if (message.text.endsWith(this.finalText) && !this.finished.has(known.requestId)) {
        this.finished.set(known.requestId, known.lastUpdateAt);
      }
      return;
    }
    const requestId =
      (message.metadata as { event_payload?: { request_id?: string } } | undefined)?.event_payload
        ?.request_id ?? message.ts;
    const root: RootMessage = {
      requestId,
      ts: message.ts,
      channel: message.channel,
      postedAt: Date.now(),
      updates: 0,
      lastUpdateAt: 0,
      text: message.text,
    };
    this.byRequest.set(requestId, root);
    this.byTs.set(message.ts, root);
    this.#onRoot?.(root);
  }
}

/** Web API writes (chat.postMessage and chat.update) received, accepted and refused with 429. */
export function writeCalls(slack: FakeSlack): {
  attempts: number;
  accepted: number;
  /** Accepted chat.postMessage calls (the ones Slack limits per channel). */
  acceptedPosts: number;
  rateLimited: number;
  failed: number;
} {
  let attempts = 0;
  let accepted = 0;
  let acceptedPosts = 0;
  let rateLimited = 0;
  for (const call of slack.calls) {
    if (call.method !== 'chat.postMessage' && call.method !== 'chat.update') continue;
    attempts += 1;
    if (call.ok) accepted += 1;
    if (call.ok && call.method === 'chat.postMessage') acceptedPosts += 1;
    if (call.ok) continue;
    if (call.error === 'ratelimited') rateLimited += 1;
  }
  return { attempts, accepted, acceptedPosts, rateLimited, failed: attempts - accepted - rateLimited };
}
