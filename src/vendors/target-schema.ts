import { z } from 'zod';
import { duration } from '../config/duration.js';
import { Secret } from '../config/secret.js';
import { size } from '../config/size.js';

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
  /**
   * Allow plain http:// to a host other than this machine, credentials and all. Default false;
   * logged as a warning at start when set.
   */
  allowInsecureHttp: z.boolean().optional(),
  /** The largest answer read from this target. Default: `vendors.maxResponseBytes`. */
  maxResponseBytes: size.optional(),
});

/**
 * Refuses the target's URLs named by `keys` when they are plain http:// to another machine,
 * unless the target sets `allowInsecureHttp`: every call carries the vendor's credentials (a
 * password, an API key, a token), which would cross the network in clear. Traffic to this
 * machine's loopback never leaves it (the simulators, the sandbox, a local TLS proxy).
 */
export function refusePlainHttp<Target extends { allowInsecureHttp?: boolean | undefined }>(
  keys: ReadonlyArray<keyof Target & string>,
) {
  return (target: Target, ctx: z.RefinementCtx): void => {
    if (target.allowInsecureHttp) return;
    for (const key of keys) {
      const value = target[key];
      if (typeof value !== 'string' || !URL.canParse(value)) continue;
      const url = new URL(value);
      if (url.protocol !== 'http:' || isLoopback(url.hostname)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message:
          'http:// sends credentials in clear; use https://, or set allowInsecureHttp: true on this target',
      });
    }
  };
}

/** 127.0.0.0/8, ::1 and `localhost`, as a parsed URL spells them. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
