import { ErrorCode, type WebAPICallError, type WebClient } from '@slack/web-api';
import { OpsError } from '../errors.js';

/**
 * Members of Slack user groups (`usergroups.users.list`), cached for a minute. Single-flight: any
 * number of callers asking for one group while it is not cached share one call, so a burst of
 * clicks arriving cold costs Slack one lookup per group. A failed lookup is not cached; every
 * caller waiting on it gets an `OpsError` saying which group could not be read and why.
 */
export class GroupMembers {
  readonly #cache = new Map<string, { members: Promise<ReadonlySet<string>>; until: number }>();

  constructor(
    private readonly slack: WebClient,
    private readonly cacheMs = 60_000,
  ) {}

  of(group: string): Promise<ReadonlySet<string>> {
    const cached = this.#cache.get(group);
    if (cached && cached.until > Date.now()) return cached.members;
    // In flight, the entry never looks stale: late callers join the call rather than start one.
    const entry = { members: this.lookup(group), until: Number.POSITIVE_INFINITY };
    this.#cache.set(group, entry);
    entry.members.then(
      () => {
        entry.until = Date.now() + this.cacheMs;
      },
      () => {
        if (this.#cache.get(group) === entry) this.#cache.delete(group);
      },
    );
    return entry.members;
  }

  private async lookup(group: string): Promise<ReadonlySet<string>> {
    try {
      const answer = await this.slack.usergroups.users.list({ usergroup: group });
      return new Set(answer.users ?? []);
    } catch (error) {
      const why = slackFailure(error);
      throw new OpsError(
        'slack.usergroup_lookup',
        `opsbot could not read the members of user group ${group} from Slack (${why}), so it cannot tell who is in it. Nothing was changed; try again in a minute.`,
        { retryable: true, cause: error },
      );
    }
  }
}

/** A few words on why a Slack Web API call failed: `ratelimited`, `HTTP 503`, Slack's own error. */
function slackFailure(error: unknown): string {
  const err = error as Partial<WebAPICallError> & { statusCode?: number; data?: { error?: string } };
  switch (err.code) {
    case ErrorCode.RateLimitedError:
      return 'ratelimited';
    case ErrorCode.HTTPError:
      return `HTTP ${err.statusCode ?? 'error'}`;
    case ErrorCode.PlatformError:
      return err.data?.error ?? 'an error';
    case ErrorCode.RequestError:
      return 'no answer';
    default:
      return 'an unexpected error';
  }
}
