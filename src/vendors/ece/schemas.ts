import { z } from 'zod';

/**
 * What opsbot reads from ECE answers (Elastic's API reference, `BasicFailedReply`,
 * `DeploymentResourceCommandResponse`, `<Kind>ResourceInfo`). Objects are loose: ECE adds fields
 * between versions, and the five resource kinds share only the fields below. Everything but ids
 * is optional, so a field missing in some version degrades a message instead of failing a job.
 */

export const KINDS = ['kibana', 'apm', 'appsearch', 'enterprise_search', 'integrations_server'] as const;
export type EceKind = (typeof KINDS)[number];

/** `BasicFailedReply`: `{"errors":[{"code","message","fields"?}]}`. */
export const failedReplySchema = z.looseObject({
  errors: z.array(z.looseObject({ code: z.string(), message: z.string().optional() })).min(1),
});

/** 202 of `_restart`: `{}` or `{"warnings":[{"code","message"?}]}`. */
export const commandReplySchema = z.looseObject({
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string().optional() })).optional(),
});

const infoLogSchema = z.looseObject({
  timestamp: z.string().optional(),
  stage: z.string().optional(),
  message: z.string(),
  failure_type: z.string().optional(),
});

/** `ClusterPlanStepInfo`: status ∈ success|warning|error|pending, stage ∈ starting|in_progress|completed. */
export const planStepSchema = z.looseObject({
  step_id: z.string(),
  started: z.string().optional(),
  completed: z.string().optional(),
  duration_in_millis: z.number().optional(),
  status: z.string(),
  stage: z.string(),
  info_log: z.array(infoLogSchema).optional(),
});
export type PlanStep = z.infer<typeof planStepSchema>;

/** One plan attempt (`KibanaClusterPlanInfo` and its siblings for the other kinds). */
export const planAttemptSchema = z.looseObject({
  plan_attempt_id: z.string().optional(),
  plan_attempt_name: z.string().optional(),
  healthy: z.boolean().optional(),
  attempt_start_time: z.string().optional(),
  attempt_end_time: z.string().optional(),
  plan_attempt_log: z.array(planStepSchema).optional(),
  warnings: z.array(z.looseObject({ code: z.string(), message: z.string().optional() })).optional(),
  error: z
    .looseObject({
      timestamp: z.string().optional(),
      message: z.string().optional(),
      failure_type: z.string().optional(),
    })
    .optional(),
});
export type PlanAttempt = z.infer<typeof planAttemptSchema>;

/** `GET /deployments/{id}/{kind}/{refId}`: `pending` exists only while a plan runs. */
export const resourceInfoSchema = z.looseObject({
  id: z.string(),
  ref_id: z.string(),
  info: z.looseObject({
    status: z.string().optional(),
    healthy: z.boolean().optional(),
    plan_info: z
      .looseObject({
        healthy: z.boolean().optional(),
        current: planAttemptSchema.optional(),
        pending: planAttemptSchema.optional(),
        history: z.array(planAttemptSchema).optional(),
      })
      .optional(),
  }),
});
export type ResourceInfo = z.infer<typeof resourceInfoSchema>;
