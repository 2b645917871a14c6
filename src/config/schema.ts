import { z } from 'zod';
import { calendarSettings } from '../calendar/schema.js';
import { DEFAULT_RETRY, policySchema, RETRY_FIELDS } from '../policy/schema.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../vendors/http.js';
import { secretField } from '../vendors/target-schema.js';
import { duration } from './duration.js';
import { Secret } from './secret.js';
import { size } from './size.js';

/**
 * The shape of `opsbot.yml`. Every option is declared here with its default; `load.ts` reads the
 * file, resolves secret references and environment overrides, and validates it with this schema.
 */

const redisUrl = z.union([
  z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  secretField,
]);

/** A Redis node or Sentinel as `host:port` (IPv6 in brackets: `[::1]:6379`). */
const hostPort = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/, 'must be host:port')
  .transform((value) => {
    const at = value.lastIndexOf(':');
    return { host: value.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(value.slice(at + 1)) };
  })
  .refine(({ port }) => port >= 1 && port <= 65535, 'port must be 1-65535');

/**
 * The hash tag of a key starting with `prefix`, by Redis Cluster's rule: the text between the
 * first `{` and the next `}`, if not empty (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags).
 */
function hashTagOf(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}

const redisSection = z
  .object({
    /** Standalone Redis (the default): a redis:// or rediss:// URL, or a secret reference to one. */
    url: redisUrl.optional(),
    /** Redis behind Sentinel: opsbot asks the Sentinels where the master is and follows failovers. */
    sentinel: z
      .object({
        /** Sentinels to ask, as host:port; list several so one being down does not matter. */
        sentinels: z.array(hostPort).min(1),
        /** The master's name as the Sentinels know it (`sentinel monitor <name> …`). */
        masterName: z.string().min(1),
        /** Password of the Sentinels themselves (their `requirepass`), if they have one. */
        sentinelPassword: secretField.optional(),
        /** Password of the master and replicas, if they have one. */
        password: secretField.optional(),
      })
      .strict()
      .optional(),
    /** Redis Cluster: a few nodes to start from; the rest are discovered. Needs a hash-tagged prefix. */
    cluster: z
      .object({
        nodes: z.array(hostPort).min(1),
        /** Password of the cluster nodes, if they have one. */
        password: secretField.optional(),
      })
      .strict()
      .optional(),
    /** Key prefix for everything opsbot and BullMQ store; on Cluster it must hold a hash tag like {opsbot}. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9{}_-]+$/, 'letters, digits, {}, _ and - only')
      .default('opsbot'),
  })
  .strict()
  .superRefine((redis, ctx) => {
    const modes = [
      redis.url && 'url (or REDIS_URL)',
      redis.sentinel && 'sentinel',
      redis.cluster && 'cluster',
    ].filter(Boolean);
    if (modes.length > 1)
      ctx.addIssue({
        code: 'custom',
        message: `set only one of url, sentinel and cluster (got ${modes.join(' and ')})`,
      });
    // Every Lua script and MULTI of opsbot and BullMQ touches several keys, which Cluster only
    // allows within one hash slot: the shared hash tag in the prefix puts all keys in one slot.
    if (redis.cluster && !hashTagOf(redis.prefix))
      ctx.addIssue({
        code: 'custom',
        path: ['prefix'],
        message: `must contain a hash tag such as {opsbot} when redis.cluster is set, so that all keys share one slot (got "${redis.prefix}")`,
      });
  });

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
        /** Pacing of chat.update, workspace-wide (Slack's Tier 3: about 50 a minute). */
        updatesPerMinute: z.number().positive().default(50),
      })
      .strict()
      .refine((slack) => slack.signingSecret || slack.appToken, {
        message: 'set signingSecret (HTTP mode) or appToken (Socket Mode)',
      }),
    /** Where Redis is: `url` (standalone, default redis://127.0.0.1:6379), `sentinel` or `cluster`. */
    redis: redisSection.default({ prefix: 'opsbot' }),
    server: z
      .object({
        port: z.number().int().min(0).max(65535).default(3000),
        host: z.string().default('0.0.0.0'),
        /**
         * A second listener for `/healthz`, `/readyz`, `/metrics` and the dashboard, which are then
         * served only there: the port Slack reaches serves `/slack/events` alone. Default: none,
         * everything on `port`.
         */
        opsPort: z.number().int().min(0).max(65535).optional(),
        /** Where the ops listener binds (e.g. 127.0.0.1 or an internal address). Default: `host`. */
        opsHost: z.string().optional(),
        /**
         * How old the queue figures in `/metrics` may be before a scrape reads them from Redis
         * again; scrapes in between (and concurrent ones) cost Redis nothing. Default 10 s.
         */
        queueMetricsMaxAge: duration.default(10_000),
        /** A file the bound port is written to once listening (port 0 picks a free one); removed on stop. */
        portFile: z.string().min(1).optional(),
      })
      .strict()
      .superRefine((server, ctx) => {
        if (server.opsHost !== undefined && server.opsPort === undefined)
          ctx.addIssue({ code: 'custom', path: ['opsHost'], message: 'is set but server.opsPort is not' });
        if (server.opsPort !== undefined && server.opsPort !== 0 && server.opsPort === server.port)
          ctx.addIssue({
            code: 'custom',
            path: ['opsPort'],
            message: `must differ from server.port (both are ${server.port})`,
          });
      })
      .default({ port: 3000, host: '0.0.0.0', queueMetricsMaxAge: 10_000 }),
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
        /**
         * How often the reconciler looks for requests left short of an end (a lost or failed run
         * job, an expiry job that never fired, a deadline no step enforced). One run at a time
         * across all workers.
         */
        reconcileEvery: duration.default(15_000),
      })
      .strict()
      .default({
        concurrency: 50,
        slackConcurrency: 20,
        shutdownGrace: 20_000,
        lockDuration: 30_000,
        stalledInterval: 30_000,
        reconcileEvery: 15_000,
      }),
    /** Options for every vendor target; a target may set its own (`targets.<vendor>.<name>.…`). */
    vendors: z
      .object({
        /**
         * The largest answer read from a vendor: past it opsbot stops reading (never buffering the
         * whole body) and the call fails with a vendor error saying so.
         */
        maxResponseBytes: size.default(DEFAULT_MAX_RESPONSE_BYTES),
        /**
         * How a vendor call that failed on the way is tried again, for every action; an action or
         * a target may set its own (`policy.….retry`). See RETRY_FIELDS.
         */
        retry: z
          .object({
            attempts: RETRY_FIELDS.attempts.default(DEFAULT_RETRY.attempts),
            initialDelay: RETRY_FIELDS.initialDelay.default(DEFAULT_RETRY.initialDelay),
            maxDelay: RETRY_FIELDS.maxDelay.default(DEFAULT_RETRY.maxDelay),
          })
          .strict()
          .default(DEFAULT_RETRY),
      })
      .strict()
      .default({ maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES, retry: DEFAULT_RETRY }),
    /** Vendor targets by vendor name, then target name; each vendor validates its own entries. */
    targets: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /**
     * Roles, channel bindings and per-action, per-target rules (see src/policy/schema.ts); the
     * time zone, change freezes, sticky locks and schedules (src/calendar/schema.ts).
     */
    policy: policySchema.extend(calendarSettings),
    audit: z
      .object({
        /** How long finished requests and the audit trail are kept in Redis. */
        retention: duration.default(90 * 86_400_000),
        /**
         * How often new audit records are sealed into the hash chain (src/audit/sealer.ts). One run
         * at a time across all workers; records wait at most about this long to be sealed.
         */
        sealEvery: duration.pipe(z.number().min(10, 'must be at least 10ms')).default(5_000),
      })
      .strict()
      .default({ retention: 90 * 86_400_000, sealEvery: 5_000 }),
    /** The BullMQ dashboard (bull-board). Off unless enabled; always behind HTTP Basic auth. */
    dashboard: z
      .object({
        enabled: z.boolean().default(false),
        /** Where it is served, beside `/metrics` (on `server.opsPort` when that is set). */
        path: z
          .string()
          .regex(/^(\/[A-Za-z0-9_-]+)+$/, 'must be a path such as /admin/queues')
          .refine(
            (path) => !/^\/(slack|healthz|readyz|metrics)(\/|$)/.test(path),
            'must not overlap /slack/events, /healthz, /readyz or /metrics',
          )
          .default('/admin/queues'),
        username: z
          .string()
          .regex(/^[^:\s]+$/, 'must not be empty or contain ":" or spaces')
          .default('admin'),
        /** A secret reference; required when enabled. */
        password: secretField.optional(),
        /** Retry, clean, remove, promote, pause and add are hidden and refused. Default true. */
        readOnly: z.boolean().default(true),
      })
      .strict()
      .refine((dashboard) => !dashboard.enabled || dashboard.password, {
        path: ['password'],
        message:
          'is required when dashboard.enabled is true (a secret reference, { env: NAME } or { file: PATH })',
      })
      .default({ enabled: false, path: '/admin/queues', username: 'admin', readOnly: true }),
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
