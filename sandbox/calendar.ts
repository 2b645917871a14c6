import { Redis } from 'ioredis';
import { StickyLocks } from '../src/calendar/locks.js';
import type { FakeSlack } from '../src/devtools/fake-slack.js';
import { type SlackPeer, sendSlashCommand } from '../src/devtools/slack-requests.js';
import { ResourceLocks } from '../src/requests/resource-lock.js';
import { ALICE, BOB, CHANNEL } from './people.js';

/**
 * The sandbox's calendar, so each part can be tried at once: CipherTrust is in a change freeze for
 * the day (a break-glass override needs @security: Dave), Bob holds a sticky lock on one ECE
 * deployment, and Alice has asked for a refresh scheduled a minute after the sandbox started.
 */

const iso = (ms: number) => `${new Date(ms).toISOString().slice(0, 16)}Z`;

/** `policy.freezes`: who may set them, who approves a break-glass override, and one declared now. */
export function sandboxFreezes(now: number) {
  return {
    setBy: ['sre'],
    overrideBy: 'security',
    windows: [
      {
        name: 'quarter-close',
        scope: 'cckm',
        from: iso(now - 60_000),
        until: iso(now + 86_400_000),
        reason: 'quarter-end key rotation: no DSM changes',
      },
    ],
  };
}

/** Bob's lock on an ECE deployment, taken as `/ops lock` takes one. */
export async function holdBobsLock(
  redisUrl: string,
  prefix: string,
  place: { vendor: string; target: string; resource: string },
): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const locks = new StickyLocks(redis, prefix, new ResourceLocks(redis, prefix));
    await locks.take(
      place,
      { user: BOB.id, reason: 'upgrading Kibana plugins', ms: 8 * 3_600_000, takeOver: false },
      Date.now(),
    );
  } finally {
    redis.disconnect();
  }
}

/** Alice asks, as she would type it, for a refresh that runs a minute from now once approved. */
export async function askForScheduledRefresh(
  bot: SlackPeer,
  slack: FakeSlack,
  command: string,
  text: string,
) {
  await sendSlashCommand(bot, {
    command,
    text: `${text} --at ${new Date(Date.now() + 60_000).toISOString().slice(0, 19)}Z`,
    userId: ALICE.id,
    userName: ALICE.name.toLowerCase(),
    channelId: CHANNEL.id,
    responseUrl: slack.responseUrl(ALICE.id, CHANNEL.id),
  });
}
