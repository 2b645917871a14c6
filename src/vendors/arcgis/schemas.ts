import { z } from 'zod';
import { VendorError } from '../../errors.js';
import { VENDOR } from './errors.js';

/**
 * The answers opsbot reads, as the Enterprise Administrator API documents them. Only the fields
 * opsbot uses are required; everything else passes through untouched, because each release adds
 * fields and a new field must never break a running action.
 */

/** `generateToken`: `{"token","expires" (epoch ms),"ssl"}`. */
export const tokenAnswer = z.looseObject({
  token: z.string().min(1),
  expires: z.number(),
  ssl: z.boolean().optional(),
});

/**
 * `POST …/deployments/{id}/refresh`. With `async=true` (10.9.1+): `{"jobsUrl","jobID","jobStatus"}`
 * (note the capitals, unlike the job resource). On 10.9.0 the call ignores `async` and answers
 * `{"status":"success"}` when the refresh is done.
 */
export const refreshAnswer = z
  .looseObject({
    jobID: z.string().min(1).optional(),
    jobsUrl: z.string().optional(),
    jobStatus: z.string().optional(),
    status: z.string().optional(),
  })
  .refine((answer) => answer.jobID !== undefined || answer.status !== undefined, { path: ['jobID'] });

/** The job resource `GET {admin}/jobs/{jobId}`: `jobid`/`status`, lower case this time. */
export const jobResource = z.looseObject({
  jobid: z.string().optional(),
  status: z.string().min(1),
  starttime: z.number().optional(),
  endtime: z.number().optional(),
  updatedtime: z.number().optional(),
  operationURI: z.string().optional(),
  /** Operation-specific, opaque; may carry `messages`, `error`, `status`. */
  result: z.unknown().optional(),
});
export type JobResource = z.infer<typeof jobResource>;

/** `GET {admin}/system/deployments/{id}/status` (10.9+). */
export const deploymentStatus = z.looseObject({
  name: z.string().optional(),
  id: z.string().optional(),
  currentState: z.string().optional(),
  readyReplicas: z.number().optional(),
  totalReplicas: z.number().optional(),
});
export type DeploymentStatus = z.infer<typeof deploymentStatus>;

/** `GET {admin}/system/deployments` (10.9+): every microservice with its id and name. */
export const deploymentList = z.looseObject({
  deployments: z.array(
    z.looseObject({ deploymentId: z.string(), name: z.string().optional(), type: z.string().optional() }),
  ),
});
export type DeploymentSummary = z.infer<typeof deploymentList>['deployments'][number];

/** `GET {admin}/orgs`: `{"organizations":["0123456789ABCDEF"]}`. */
export const organizations = z.looseObject({ organizations: z.array(z.string()) });

/** A synchronous operation's answer, e.g. `refreshMembership`: `{"status":"success"}`. */
export const statusAnswer = z.looseObject({ status: z.string() });

/** Validates an answer, or says which operation answered something unexpected (no body echoed). */
export function parseAnswer<T extends z.ZodType>(schema: T, body: unknown, operation: string): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const where = result.error.issues[0]?.path.join('.') || 'the answer';
  throw new VendorError(
    `ArcGIS gave an unexpected answer to ${operation} (${where} is missing or malformed)`,
    {
      vendor: VENDOR,
      vendorCode: 'unexpected-answer',
    },
  );
}
