import { z } from 'zod';
import { duration } from '../config/duration.js';
import { Secret } from '../config/secret.js';

/** A credential field: the config loader has already turned `{ env }`/`{ file }` into a Secret. */
export const secretField = z.instanceof(Secret, {
  error:
    'must be a secret reference, { env: NAME } or { file: PATH }; secrets are never written in the config file',
});

/** TLS options for one target only: nothing here changes how any other target is reached. */
export const tlsSchema = z
  .object({
    caFile: z.string().min(1).optional(),
    insecureSkipVerify: z.boolean().optional(),
  })
  .strict()
  .optional();

export const timeoutsSchema = z
  .object({
    connect: duration.optional(),
    request: duration.optional(),
  })
  .strict()
  .optional()
  .transform((value) => (value ? { connectMs: value.connect, requestMs: value.request } : undefined));

/** Fields every target has; a vendor extends this with its own. */
export const baseTargetSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  tls: tlsSchema,
  timeouts: timeoutsSchema,
});
