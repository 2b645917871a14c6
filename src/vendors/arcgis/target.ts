import { z } from 'zod';
import { pathSegment } from '../params.js';
import { baseTargetSchema, refusePlainHttp, secretField } from '../target-schema.js';
import type { TargetCommon } from '../types.js';

/** One ArcGIS Enterprise (on Kubernetes) site, configured by its base `https://host/context`. */
export const arcgisTargetSchema = baseTargetSchema
  .extend({
    /** An administrator (default administrator role, or "Security and infrastructure"). */
    username: z.string().trim().min(1, 'username is missing'),
    password: secretField,
    /**
     * What the token is bound to. `referer` (default): opsbot sends the same Referer header on
     * every call. `requestip`: bound to opsbot's address as the server sees it (no proxy between).
     */
    client: z.enum(['referer', 'requestip']).default('referer'),
    /** The Referer a `referer` token is bound to. Default: the target's url. */
    referer: z.url().optional(),
    /** The organization id for refreshMembership. Default: discovered once from `GET {admin}/orgs`. */
    orgId: pathSegment('orgId').optional(),
    /** Token lifetime asked for (the server may cap it). Default 60 minutes. */
    tokenMinutes: z.number().int().min(1).max(20_160).default(60),
  })
  .strict()
  .superRefine(refusePlainHttp(['url']));

export type ArcgisTarget = z.infer<typeof arcgisTargetSchema> & TargetCommon;

/** `https://host/context` with no trailing slash, so `/admin` and `/sharing/rest` append cleanly. */
export function siteUrl(target: Pick<ArcgisTarget, 'url'>): string {
  return target.url.replace(/\/+$/, '');
}
