import { Agent, request } from 'undici';

/**
 * The Slack Web API calls on the delivery path (chat.postMessage, chat.update), over undici with
 * keep-alive. opsbot sends several of these per action; Bolt's WebClient builds each call through
 * fetch, form encoding and its own retry queue, which costs several times more CPU per message.
 * Reads and rarer calls still go through the WebClient.
 *
 * Failures come back as a SlackWriteError that says what to do: wait and send again
 * (`rate-limited`, `transient`) or give up (`permanent`). The token only ever travels in the
 * Authorization header; it is never part of an error.
 */

export type SlackFailureKind = 'rate-limited' | 'transient' | 'permanent';

export class SlackWriteError extends Error {
  constructor(
    readonly kind: SlackFailureKind,
    /** Slack's error code, `HTTP <status>` or `network error`. */
    readonly reason: string,
    /** For `rate-limited`: Slack's Retry-After. */
    readonly retryAfterMs = 0,
  ) {
    super(`Slack: ${reason}`);
    this.name = 'SlackWriteError';
  }
}

/** Slack errors that mean "try again later". */
export const TRANSIENT_SLACK_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

export interface SlackWriterOptions {
  /** Web API base, ending in `/` (`https://slack.com/api/`). */
  apiUrl: string;
  token: string;
  timeoutMs?: number;
  /** Every request body passes through this before it leaves (opsbot scrubs secrets here). */
  scrub?: (json: string) => string;
}

export class SlackWriter {
  readonly #apiUrl: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  readonly #agent: Agent;
  readonly #scrub: (json: string) => string;

  constructor(options: SlackWriterOptions) {
    this.#scrub = options.scrub ?? ((json) => json);
    this.#apiUrl = options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`;
    this.#authorization = `Bearer ${options.token}`;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#agent = new Agent({
      connections: 16,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
  }

  /** Calls a Web API method with a JSON body; answers Slack's reply when it says `ok`. */
  async call<T extends Record<string, unknown>>(method: string, args: Record<string, unknown>): Promise<T> {
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const response = await request(`${this.#apiUrl}${method}`, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/json; charset=utf-8',
        },
        body: this.#scrub(JSON.stringify(args)),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.statusCode;
      headers = response.headers;
      text = await response.body.text();
    } catch {
      // Refused, reset, timed out: Slack may or may not have acted (the caller knows how to tell).
      throw new SlackWriteError('transient', 'network error');
    }
    if (status === 429) {
      const seconds = Number(headers['retry-after'] ?? 1);
      throw new SlackWriteError(
        'rate-limited',
        'ratelimited',
        (Number.isFinite(seconds) ? seconds : 1) * 1000,
      );
    }
    if (status >= 300) throw new SlackWriteError('transient', `HTTP ${status}`);
    let body: { ok?: boolean; error?: string };
    try {
      body = JSON.parse(text) as { ok?: boolean; error?: string };
    } catch {
      throw new SlackWriteError('transient', 'unreadable answer');
    }
    if (body.ok) return body as T;
    const reason = body.error ?? 'unknown_error';
    if (reason === 'ratelimited') throw new SlackWriteError('rate-limited', reason, 1000);
    throw new SlackWriteError(TRANSIENT_SLACK_ERRORS.has(reason) ? 'transient' : 'permanent', reason);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
