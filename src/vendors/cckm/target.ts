import { z } from 'zod';
import { duration } from '../../config/duration.js';
import { baseTargetSchema, refusePlainHttp, secretField } from '../target-schema.js';
import type { TargetCommon } from '../types.js';

/** One CipherTrust Manager appliance, configured by its address `https://cm-host`. */
export const cckmTargetSchema = baseTargetSchema
  .extend({
    /** A CipherTrust user allowed to run CCKM DSM refreshes. */
    username: z.string().trim().min(1, 'username is missing'),
    password: secretField,
    /** The CipherTrust domain to sign in to. Default: the user's own (root). */
    domain: z.string().trim().min(1).optional(),
    /** The domain the user belongs to, when it differs from `domain`. */
    authDomain: z.string().trim().min(1).optional(),
    /**
     * Absolute lifetime asked for the refresh token (sent in minutes). Default 1 day. Never
     * unlimited: on 2.7 appliances refresh tokens without a lifetime are never deleted and pile up.
     */
    refreshTokenLifetime: duration
      .default(86_400_000)
      .refine((ms) => ms >= 60_000, 'refreshTokenLifetime must be at least 1m (it is sent in minutes)'),
  })
  .strict()
  .superRefine(refusePlainHttp(['url']));

export type CckmTarget = z.infer<typeof cckmTargetSchema> & TargetCommon;

/**
 * The REST root, `https://cm-host/api/`. The config names the appliance; a url already ending in
 * `/api` is accepted as is rather than becoming `/api/api`.
 */
export function apiBaseUrl(target: Pick<CckmTarget, 'url'>): string {
  const site = target.url.replace(/\/+$/, '');
  return /\/api$/i.test(site) ? `${site}/` : `${site}/api/`;
}
