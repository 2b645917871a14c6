import { z } from 'zod';
import { positiveDuration } from '../../config/duration.js';
import { pathSegment } from '../params.js';
import { baseTargetSchema, refusePlainHttp, secretField } from '../target-schema.js';
import { KNOWN_REGIONS, regionEndpoint, regionIamEndpoint } from './regions.js';

/**
 * One Workspace target: a region and the project in it, and one of Huawei's two ways to
 * authenticate API calls (an IAM user's token, or AK/SK request signing).
 */

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

const tokenAuth = z
  .object({
    type: z.literal('token'),
    /** IAM user name. */
    user: z.string().min(1, 'the IAM user name is missing'),
    password: secretField,
    /** Account (domain) name that owns the IAM user. */
    domain: z.string().min(1, 'the account (domain) name is missing'),
  })
  .strict();

const akskAuth = z
  .object({
    type: z.literal('aksk'),
    accessKey: secretField,
    secretKey: secretField,
  })
  .strict();

export const workspaceTargetSchema = baseTargetSchema
  .extend({
    /** Service endpoint; by default derived from `region` (see regions.ts). */
    url: httpUrl.optional(),
    /** Region id, e.g. `ap-southeast-1`. */
    region: z
      .string()
      .regex(/^[a-z]{2}-[a-z]+(-[a-z]+)?-\d+$/, 'must be a Huawei region id such as ap-southeast-1'),
    /** The region's project id: every API path carries it, and IAM tokens are scoped to it. */
    projectId: pathSegment('projectId', {
      regex: /^[0-9a-fA-F]{32}$/,
      shape: 'a Huawei project id (32 hex digits)',
    }),
    /** IAM endpoint; default `https://iam.<region>.myhuaweicloud.com`. */
    iamUrl: httpUrl.optional(),
    /**
     * How long to wait after a 409 (the server is busy with another job) before trying the call
     * again, when Workspace sends no Retry-After. Default 30 s (errors.ts BUSY_WAIT_MS).
     */
    busyWait: positiveDuration.optional(),
    auth: z.discriminatedUnion('type', [tokenAuth, akskAuth], {
      error: 'auth.type must be "token" (IAM user and password) or "aksk" (access key and secret key)',
    }),
  })
  .strict()
  .refine((target) => target.url !== undefined || regionEndpoint(target.region) !== undefined, {
    path: ['region'],
    error: (issue) =>
      `region "${(issue.input as { region?: string }).region}" is not in opsbot's Workspace region table ` +
      `(known: ${KNOWN_REGIONS.join(', ')}); set url to the service endpoint to use another region`,
  })
  // The region table's endpoints are all https://; a configured url or iamUrl may not be.
  .superRefine(refusePlainHttp(['url', 'iamUrl']));

export type WorkspaceTarget = z.infer<typeof workspaceTargetSchema> & { name: string };

/** The service endpoint: the configured `url`, else the region's endpoint from the table. */
export function workspaceBaseUrl(target: Pick<WorkspaceTarget, 'url' | 'region'>): string {
  const url = target.url ?? regionEndpoint(target.region);
  if (!url) throw new Error(`region ${target.region} has no known Workspace endpoint and no url is set`);
  return url;
}

export function iamBaseUrl(target: Pick<WorkspaceTarget, 'iamUrl' | 'region'>): string {
  return target.iamUrl ?? regionIamEndpoint(target.region);
}
