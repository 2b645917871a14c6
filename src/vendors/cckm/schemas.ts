import { z } from 'zod';
import { pathSegment } from '../params.js';

/**
 * CipherTrust answers, parsed defensively: only what opsbot reads is checked, unknown fields are
 * ignored, and fields the docs show but a version may omit are optional.
 */

/** `POST /api/v1/auth/tokens/` (doc): `{"jwt","duration":300,"token_type","refresh_token","refresh_token_id"}`. */
export const tokenAnswerSchema = z.object({
  jwt: z.string().min(1),
  /** Seconds the JWT lives; 300 unless the appliance says otherwise. */
  duration: z.number().positive().optional(),
  /** Present on the password grant; a refresh grant may send it again or leave it out. */
  refresh_token: z.string().min(1).optional(),
});
export type TokenAnswer = z.infer<typeof tokenAnswerSchema>;

/** `abort` is a boolean in the docs; a string "true" is read the same rather than rejected. */
const looseBoolean = z
  .union([z.boolean(), z.string(), z.null()])
  .optional()
  .transform((value) => value === true || value === 'true');

/**
 * One DSM refresh (doc): `{"id","uri","createdAt","updatedAt","completed_at"?,"overall_status",
 * "detailed_status":{"<domainId>":"domain synchronized successfully"},"domains":[…],"abort":false}`.
 * The id goes back into URL paths (poll, cancel), so it must be one plain segment.
 */
export const refreshSchema = z.object({
  id: pathSegment('refresh id'),
  overall_status: z.string().optional(),
  detailed_status: z
    .record(z.string(), z.unknown())
    .nullish()
    .transform((value) => value ?? {}),
  domains: z
    .array(z.string())
    .nullish()
    .transform((value) => value ?? []),
  abort: looseBoolean,
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  completed_at: z.string().nullish(),
});
export type Refresh = z.infer<typeof refreshSchema>;

/** Paged list, as every CipherTrust collection: `{"skip","limit","total","resources":[…]}`. */
function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    skip: z.number().optional(),
    limit: z.number().optional(),
    total: z.number().optional(),
    resources: z
      .array(item)
      .nullish()
      .transform((value) => value ?? []),
  });
}

export const refreshPageSchema = pageOf(refreshSchema);
export type RefreshPage = z.infer<typeof refreshPageSchema>;

/** A CCKM DSM domain resource (`GET /api/v1/cckm/dsm/domains`); its `id` is what a refresh takes. */
export const domainSchema = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
});
export type Domain = z.infer<typeof domainSchema>;

export const domainPageSchema = pageOf(domainSchema);
export type DomainPage = z.infer<typeof domainPageSchema>;
