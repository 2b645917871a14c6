import { z } from 'zod';
import { duration, positiveDuration } from '../config/duration.js';

/**
 * The shape of the `policy` section of `opsbot.yml`: roles, channel bindings, defaults, per-action
 * and per-target settings, auditors. Every option is declared here with its default; references
 * between them (role names, action ids, target names) are checked by `problems.ts`, and
 * `resolve.ts` turns one action on one target into its effective policy.
 */

const slackId = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}[A-Z0-9]{2,}$`), `must be a Slack ${what} id (${prefix}…)`);

export const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'role names are lowercase letters, digits, _ and - (e.g. sre)');

/** Slack user ids and user-group ids. `users: ['*']` means anyone. */
const members = z
  .object({
    users: z.array(z.union([z.literal('*'), slackId('[UW]', 'user')])).default([]),
    groups: z.array(slackId('S', 'user group')).default([]),
  })
  .strict();
export type MembersConfig = z.infer<typeof members>;

/**
 * Who may do something: inline `{ users, groups }` (the flat configuration), or a list of role
 * names declared under `policy.roles` (anyone in any of them).
 */
const audience = z.union([members, z.array(roleName).min(1, 'list at least one role')], {
  error: 'must be { users: [...], groups: [...] } or a list of role names',
});
export type AudienceConfig = z.infer<typeof audience>;

/** One approval rule: `count` different people from `role` (default 1). */
const approvalRule = z
  .object({
    role: roleName,
    count: z.number().int().min(1, 'must be at least 1').default(1),
  })
  .strict();
export type ApprovalRuleConfig = z.infer<typeof approvalRule>;

/**
 * How a vendor call that failed on the way (a 5xx, a timeout, a refused connection, a busy
 * server) is tried again: `vendors.retry` holds every key with its default; a policy level may
 * set any of them (`retry`), each key falling back to the level above.
 */
export const RETRY_FIELDS = {
  /**
   * Tries of a call that surely never reached the vendor (the submit, and the search for a lost
   * submission), the first one included. Status reads are tried again until the deadline.
   */
  attempts: z.number().int().min(1, 'must be at least 1 (the first try)'),
  /** The wait after the first failure; each next wait doubles (jittered: half to all of it). */
  initialDelay: positiveDuration,
  /** The longest wait between two tries. */
  maxDelay: positiveDuration,
};

export type RetrySettings = { [K in keyof typeof RETRY_FIELDS]: z.output<(typeof RETRY_FIELDS)[K]> };

/** `vendors.retry` unless configured: up to 5 tries after the first, 1 s·2ⁿ apart, at most 60 s. */
export const DEFAULT_RETRY: RetrySettings = { attempts: 6, initialDelay: 1_000, maxDelay: 60_000 };

/** Where in the approval window the reminder comes when none is configured: half way. */
export const DEFAULT_REMINDER_AFTER = 0.5;

/** A point in the approval window, as a share of it: 0.5 is half way, 0.8 is four fifths in. */
const windowShare = z
  .number()
  .gt(0, 'must be a share of the approval window above 0 (0.5 is half way)')
  .lt(1, 'must be a share of the approval window below 1 (0.5 is half way)');

/**
 * Reminders while a request waits: one thread reply at `after` mentioning the approval rules still
 * short (their groups and listed people), and optionally an escalation reply at `escalateAfter`
 * mentioning `escalateTo` (a role name, a list of them, or `{ users, groups }`). `false`: none.
 */
const reminders = z.union(
  [
    z.literal(false),
    z
      .object({
        after: windowShare.default(DEFAULT_REMINDER_AFTER),
        escalateAfter: windowShare.optional(),
        escalateTo: z.union([roleName.transform((name) => [name]), audience]).optional(),
      })
      .strict()
      .superRefine((value, ctx) => {
        if (value.escalateAfter !== undefined && value.escalateTo === undefined)
          ctx.addIssue({ code: 'custom', path: ['escalateTo'], message: 'is required with escalateAfter' });
        if (value.escalateTo !== undefined && value.escalateAfter === undefined)
          ctx.addIssue({ code: 'custom', path: ['escalateAfter'], message: 'is required with escalateTo' });
        if (value.escalateAfter !== undefined && value.escalateAfter <= value.after)
          ctx.addIssue({
            code: 'custom',
            path: ['escalateAfter'],
            message: `must come after the reminder (after: ${value.after})`,
          });
      }),
  ],
  { error: 'must be false, or { after, escalateAfter, escalateTo }' },
);
export type RemindersConfig = z.infer<typeof reminders>;

export const REQUESTER_MAY_APPROVE = ['never', 'not-for-high-risk', 'allowed'] as const;
export type RequesterMayApprove = (typeof REQUESTER_MAY_APPROVE)[number];

/**
 * The settings that may differ per target, per action or for all actions (`policy.defaults`).
 * None has a default here: a level that leaves one out takes it from the level above, and the
 * action's own declaration last (see `resolve.ts`).
 */
const settings = {
  /** Who may ask for the action. Default: nobody. */
  requesters: audience.optional(),
  /** Flat form of the approval rules: one approval from this audience. Default: nobody. */
  approvers: audience.optional(),
  /** Approval rules, all of which must be met; a person counts once, toward one rule. */
  approvals: z.array(approvalRule).min(1, 'list at least one rule').optional(),
  /** Approve asks for a confirm dialog. Default: the action's own default. */
  highRisk: z.boolean().optional(),
  /** Whether the requester's own approval counts. Default `not-for-high-risk` (four eyes there). */
  requesterMayApprove: z
    .enum(REQUESTER_MAY_APPROVE, {
      error: (issue) =>
        `must be ${REQUESTER_MAY_APPROVE.join(', ')} (got ${JSON.stringify(issue.input)?.slice(0, 40)})`,
    })
    .optional(),
  /** Older spelling: `true` is `requesterMayApprove: allowed`, `false` is `not-for-high-risk`. */
  allowSelfApproval: z.boolean().optional(),
  /** Whether a request must give a reason, and a pattern it must match (e.g. a ticket id). */
  reason: z
    .object({
      required: z.boolean().default(false),
      pattern: z.string().refine(isRegExp, 'is not a valid regular expression').optional(),
    })
    .strict()
    .optional(),
  /** Turn the action off. Default true. */
  enabled: z.boolean().optional(),
  /** When another action holds the same resource: `wait` for it (default) or `refuse` at once. */
  whenBusy: z.enum(['wait', 'refuse']).optional(),
  /**
   * Who may `/ops cancel` it once approved: the requester or an approver (default), or only an
   * approver (a second pair of eyes on stopping it too, e.g. for a vendor-side cancel).
   */
  cancelInFlight: z.enum(['requester-or-approver', 'approvers']).optional(),
  /** Reminders of the approvals still needed, and an escalation. Default: a reminder half way. */
  reminders: reminders.optional(),
  /** Who hears of the request's decision and end by DM: `requester`. Default: nobody. */
  notify: z
    .object({ requester: z.boolean().default(false) })
    .strict()
    .optional(),
  pollInterval: duration.optional(),
  /** Wait before the first poll. Default: a configured `pollInterval`, else the action's own. */
  firstPollDelay: duration.optional(),
  deadline: duration.optional(),
  /** Retry settings for this level (see RETRY_FIELDS); a key left out comes from the level above. */
  retry: z.object(RETRY_FIELDS).partial().strict().optional(),
};

const targetPolicy = z.object(settings).strict();
export type PolicySettings = z.infer<typeof targetPolicy>;

const actionPolicy = z
  .object({
    ...settings,
    /** Settings for one target of the action's vendor, over the action's (`prod`, `staging`). */
    targets: z.record(z.string(), targetPolicy).default({}),
  })
  .strict();
export type ActionPolicyConfig = z.infer<typeof actionPolicy>;

const channelKey = z
  .string()
  .regex(/^(\*|[CGD][A-Z0-9]{2,})$/, 'must be a Slack channel id (C…, G… or D…) or "*"');

/**
 * What may be asked in one channel. Patterns: `'*'`, `vendor.*` or an exact id; actions by action
 * id (`ece.resource.restart`), targets as `vendor.target` (`arcgis.prod`).
 */
const binding = z
  .object({
    actions: z.array(z.string().min(1)).min(1, 'list at least one action pattern').default(['*']),
    targets: z.array(z.string().min(1)).min(1, 'list at least one target pattern').default(['*']),
  })
  .strict();
export type BindingConfig = z.infer<typeof binding>;

/** A list of channel ids (every action and target there), or channel id (or '*') → binding. */
const channels = z.union(
  [
    z.array(channelKey).min(1, 'list at least one channel id, or "*"'),
    z
      .record(channelKey, binding)
      .refine((map) => Object.keys(map).length > 0, 'bind at least one channel, or "*"'),
  ],
  {
    error:
      'must be a list of channel ids (or ["*"]), or a map of channel id (or "*") to { actions, targets }',
  },
);
export type ChannelsConfig = z.infer<typeof channels>;

export const policySchema = z
  .object({
    /** Named sets of people, declared once and used wherever an audience is expected. */
    roles: z.record(roleName, members).default({}),
    /** Where /ops may be used, and what may be asked there. */
    channels,
    approvalTimeout: duration.default(15 * 60_000),
    /** Settings for every action, under each action's own. */
    defaults: targetPolicy.default({}),
    actions: z.record(z.string(), actionPolicy).default({}),
    /**
     * Who may read requests outside their channel (`/ops status` of any request). Default nobody:
     * a request is seen in its own channel, by its requester and by its approvers.
     */
    auditors: audience.default({ users: [], groups: [] }),
  })
  .strict();
export type PolicyConfig = z.infer<typeof policySchema>;

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
