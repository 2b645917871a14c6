import { z } from 'zod';
import { secretField } from '../vendors/target-schema.js';
import { duration } from './duration.js';
import { Secret } from './secret.js';

/**
 * The shape of `opsbot.yml`. Every option is declared here with its default; `load.ts` reads the
 * file, resolves secret references and environment overrides, and validates it with this schema.
 */

const slackId = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}[A-Z0-9]{2,}$`), `must be a Slack ${what} id (${prefix}…)`);

/** Who may do something: Slack user ids and user-group ids. `users: ['*']` means anyone. */
const audience = z
  .object({
    users: z.array(z.union([z.literal('*'), slackId('[UW]', 'user')])).default([]),
    groups: z.array(slackId('S', 'user group')).default([]),
  })
  .strict();
export type Audience = z.infer<typeof audience>;

const actionPolicy = z
  .object({
    /** Who may ask for this action. Default: `policy.defaults.requesters`. */
    requesters: audience.optional(),
    /** Who may approve it. Default: `policy.defaults.approvers`. */
    approvers: audience.optional(),
    /** Approve asks for a confirm dialog, and four eyes apply. Default: the action's own default. */
    highRisk: z.boolean().optional(),
    /** Let the requester approve their own request even when high-risk. Default false. */
    allowSelfApproval: z.boolean().optional(),
    /** Turn the action off entirely. Default true. */
    enabled: z.boolean().default(true),
    /** When another action holds the same resource: `wait` for it (default) or `refuse` at once. */
    whenBusy: z.enum(['wait', 'refuse']).default('wait'),
    pollInterval: duration.optional(),
    firstPollDelay: duration.optional(),
    deadline: duration.optional(),
  })
  .strict();
export type ActionPolicyConfig = z.infer<typeof actionPolicy>;

const redisUrl = z.union([
  z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  secretField,
]);

export const configSchema = z
  .object({
    slack: z
      .object({
        /** Bot token (xoxb-…), always a secret reference. */
        botToken: secretField,
        /** Signing secret for HTTP mode. Required unless `appToken` (Socket Mode) is set. */
        signingSecret: secretField.optional(),
        /** App-level token (xapp-…): when set, opsbot connects with Socket Mode. */
        appToken: secretField.optional(),
        /** Slack Web API base URL; tests and the sandbox point it at a local stand-in. */
        apiUrl: z.url().default('https://slack.com/api/'),
        /** The slash command's name, as registered in the app manifest. */
        command: z
          .string()
          .regex(/^\/[a-z0-9_-]{1,31}$/, 'must look like /ops')
          .default('/ops'),
        /** Known bot ids skip Bolt's first `auth.test` call. */
        botUserId: z.string().optional(),
        botId: z.string().optional(),
        /** Pacing of messages per channel (Slack allows about 1 per second, short bursts). */
        perChannelPerSecond: z.number().positive().default(1),
        burst: z.number().int().positive().default(3),
      })
      .strict()
      .refine((slack) => slack.signingSecret || slack.appToken, {
        message: 'set signingSecret (HTTP mode) or appToken (Socket Mode)',
      }),
    redis: z
      .object({
        url: redisUrl.default('redis://127.0.0.1:6379'),
        /** Key prefix for everything opsbot and BullMQ store; use a hash tag like {opsbot} on Cluster. */
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9{}_-]+$/, 'letters, digits, {}, _ and - only')
          .default('opsbot'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'opsbot' }),
    server: z
      .object({
        port: z.number().int().min(0).max(65535).default(3000),
        host: z.string().default('0.0.0.0'),
      })
      .strict()
      .default({ port: 3000, host: '0.0.0.0' }),
    /** Which halves run in this process: `web` (Slack receiver), `worker` (jobs), or both. */
    roles: z
      .array(z.enum(['web', 'worker']))
      .min(1)
      .default(['web', 'worker']),
    worker: z
      .object({
        /** Action steps run at once per process (waiting between polls does not count). */
        concurrency: z.number().int().positive().default(50),
        /** Slack deliveries at once per process. */
        slackConcurrency: z.number().int().positive().default(20),
        /** Time SIGTERM allows in-flight steps to finish before handing them back. */
        shutdownGrace: duration.default(20_000),
        /**
         * How long a worker's hold on a running step lasts without renewal. After a crash, another
         * worker takes the step over within about this time plus `stalledInterval`.
         */
        lockDuration: duration.default(30_000),
        stalledInterval: duration.default(30_000),
      })
      .strict()
      .default({
        concurrency: 50,
        slackConcurrency: 20,
        shutdownGrace: 20_000,
        lockDuration: 30_000,
        stalledInterval: 30_000,
      }),
    /** Vendor targets by vendor name, then target name; each vendor validates its own entries. */
    targets: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    policy: z
      .object({
        /** Channel ids where /ops may be used; ['*'] for any channel the bot is in. */
        channels: z.array(z.union([z.literal('*'), slackId('[CGD]', 'channel')])).min(1),
        approvalTimeout: duration.default(15 * 60_000),
        defaults: z
          .object({
            requesters: audience.default({ users: [], groups: [] }),
            approvers: audience.default({ users: [], groups: [] }),
          })
          .strict()
          .default({ requesters: { users: [], groups: [] }, approvers: { users: [], groups: [] } }),
        actions: z.record(z.string(), actionPolicy).default({}),
        /** Who may see `/ops history` for everyone and `/ops status` of others' requests. */
        auditors: audience.default({ users: ['*'], groups: [] }),
      })
      .strict(),
    audit: z
      .object({
        /** How long finished requests and the audit trail are kept in Redis. */
        retention: duration.default(90 * 86_400_000),
      })
      .strict()
      .default({ retention: 90 * 86_400_000 }),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type RawConfig = z.infer<typeof configSchema>;
export { Secret };
