import { z } from 'zod';
import { VendorError } from '../../errors.js';
import { type HttpAnswer, parseJsonAnswer } from '../http.js';
import { VENDOR } from './errors.js';

/**
 * The vendor's answers, parsed defensively: only the fields opsbot uses, enums as open strings
 * (Huawei adds values between releases), and `null` accepted wherever Huawei may send it.
 */

const text = z.string().nullish();

/**
 * `POST …/actions/reinstall` → 200 `{"job_id": "…"}` (doc). The id goes into the job URL
 * later, so it must be one plain path segment.
 */
export const reinstallAnswer = z.object({
  job_id: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'a job id of letters, digits, "_" and "-"'),
});

/** A sub-job of `GET /v2/{project_id}/job/{job_id}` (SDK model JobDetailInfo). */
export const subJob = z.object({
  id: text,
  job_id: text,
  job_type: text,
  status: text,
  begin_time: text,
  end_time: text,
  error_code: text,
  error_message: text,
  job_resource_info: z.object({ resource_id: text, resource_name: text }).nullish(),
});
export type SubJob = z.infer<typeof subJob>;

/** `GET /v2/{project_id}/job/{job_id}` (SDK model ShowJobDetailResponse). */
export const jobAnswer = z.object({
  id: text,
  job_type: text,
  begin_time: text,
  end_time: text,
  status: z.string().min(1),
  sub_jobs_total: z.number().nullish(),
  sub_jobs: z.array(subJob).nullish(),
});
export type WorkspaceJob = z.infer<typeof jobAnswer>;

/** `GET /v1/{project_id}/app-servers/{server_id}` (SDK model ShowServerResponse): the fields shown. */
export const serverAnswer = z.object({
  id: text,
  name: text,
  machine_name: text,
  /** UNREGISTER, REGISTERED, MAINTAINING, FREEZE, STOPPED, NONE. */
  status: text,
  maintain_status: z.boolean().nullish(),
  /** ACTIVE, REBUILD, ERROR, SHUTOFF, … (ECS-like steady state). */
  vm_status: text,
  /** rebuilding, rebuild_fail, … or null. */
  task_status: text,
  session_count: z.number().nullish(),
  image_id: text,
  server_group_name: text,
  job_id: text,
  job_type: text,
  job_status: text,
  job_time: text,
});
export type AppServer = z.infer<typeof serverAnswer>;

/** IAM `POST /v3/auth/tokens` body (Keystone v3): the token itself is in `X-Subject-Token`. */
export const tokenAnswer = z.object({
  token: z.object({ expires_at: z.string(), issued_at: z.string().nullish() }),
});

/** Parses a JSON answer with `schema`; a body of another shape is one clear, permanent error. */
export function parseAnswer<T extends z.ZodType>(schema: T, answer: HttpAnswer, what: string): z.infer<T> {
  const parsed = schema.safeParse(parseJsonAnswer(answer, VENDOR));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'the body';
  throw new VendorError(
    `Huawei answered ${what} with HTTP ${answer.status} in an unexpected shape (${where}: ${issue?.message ?? 'invalid'})`,
    {
      vendor: VENDOR,
      vendorCode: 'unexpected-answer',
      httpStatus: answer.status,
      requestId: answer.headers['x-request-id'],
    },
  );
}
