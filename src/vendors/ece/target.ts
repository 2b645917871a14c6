import { z } from 'zod';
import { baseTargetSchema, refusePlainHttp, secretField } from '../target-schema.js';
import type { TargetCommon } from '../types.js';

/**
 * One ECE installation. `url` is the coordinator's root, e.g. `https://ece.example.com:12443`
 * (or a reverse proxy's prefix in front of it), WITHOUT `/api/v1`: opsbot adds `/api/v1` itself,
 * so the same url also works in a browser for the admin console. Credentials: exactly one of
 * `apiKey` (preferred by Elastic; sent as `Authorization: ApiKey …`) or `username` + `password`
 * (a built-in account such as `admin`; sent as basic auth). Neither expires mid-flight, so there
 * is no token to renew: a 401 means the configured credentials are wrong or were revoked.
 */
export const eceTargetSchema = baseTargetSchema
  .extend({
    apiKey: secretField.optional(),
    username: z.string().trim().min(1, 'username is empty').optional(),
    password: secretField.optional(),
  })
  .strict()
  .superRefine((target, ctx) => {
    if (/\/api\/v1\/?$/.test(new URL(target.url).pathname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'url must be the ECE root (e.g. https://ece.example.com:12443); opsbot adds /api/v1 itself',
      });
    }
    const basic = target.username !== undefined || target.password !== undefined;
    if (target.apiKey && basic) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either apiKey or username + password, not both',
      });
    } else if (!target.apiKey && !basic) {
      ctx.addIssue({
        code: 'custom',
        message: 'credentials are missing: give apiKey, or username + password',
      });
    } else if (basic && (target.username === undefined || target.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [target.username === undefined ? 'username' : 'password'],
        message: 'username and password go together (basic auth needs both)',
      });
    }
  })
  .superRefine(refusePlainHttp(['url']));

export type EceTarget = z.infer<typeof eceTargetSchema> & TargetCommon;

/** `{url}/api/v1`, the base of every ECE API path (Elastic's API reference). */
export function apiBaseUrl(target: Pick<EceTarget, 'url'>): string {
  return `${target.url.replace(/\/+$/, '')}/api/v1`;
}
