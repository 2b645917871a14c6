import { WebClient } from '@slack/web-api';
import type { Cluster, Redis } from 'ioredis';
import { Calendar } from '../../src/calendar/calendar.js';
import { loadConfig } from '../../src/config/load.js';
import type { Queues } from '../../src/jobs/queues.js';
import { Policy } from '../../src/requests/policy.js';
import { ResourceLocks } from '../../src/requests/resource-lock.js';

/**
 * The calendar of a minimal config (no freezes, no roles), on a test's own Redis keys: for tests
 * that build run or lifecycle dependencies by hand and meet no freeze or sticky lock.
 */
export function emptyCalendar(redis: Redis | Cluster, prefix: string, queues: Queues): Calendar {
  const config = loadConfig({
    env: { SLACK_BOT_TOKEN: 'xoxb-calendar-test', SLACK_SIGNING_SECRET: 'calendar-test-secret' },
    document: {
      slack: { botToken: { env: 'SLACK_BOT_TOKEN' }, signingSecret: { env: 'SLACK_SIGNING_SECRET' } },
      policy: { channels: ['*'] },
    },
  });
  const policy = new Policy(config, new WebClient('xoxb-calendar-test'));
  return new Calendar({ redis, prefix, config, policy, locks: new ResourceLocks(redis, prefix), queues });
}
