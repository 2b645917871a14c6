import { z } from 'zod';
import { excerpt } from '../slack/mrkdwn.js';

/**
 * Value schemas shared by the vendors' argument declarations. Anything that ends up in a URL path
 * must be exactly one plain segment: no `/`, `\`, `%`, `?`, `#`, dots-only names or whitespace,
 * so no typed text can change which resource a call reaches.
 */

const SAFE_SEGMENT = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,127}$/;

/** One URL path segment; `what` names it in errors, `pattern` narrows it to the vendor's id shape. */
export function pathSegment(what: string, pattern?: { regex: RegExp; shape: string }) {
  return z
    .string({ error: `${what} is missing` })
    .trim()
    .min(1, `${what} is missing`)
    .refine((value) => SAFE_SEGMENT.test(value) && value !== '.' && value !== '..', {
      error: (issue) =>
        `${what} "${excerpt(String(issue.input))}" is not a plain id (letters, digits, ".", "_", "-", "~" only)`,
      abort: true,
    })
    .refine((value) => !pattern || pattern.regex.test(value), {
      error: (issue) => `${what} "${excerpt(String(issue.input))}" does not look like ${pattern?.shape}`,
    });
}

export const UUID = {
  regex: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  shape: 'a UUID (8-4-4-4-12 hex digits)',
};

/** A comma-separated list of items, each checked by `item`; duplicates removed, order kept. */
export function commaList<T extends z.ZodType<string, string>>(what: string, item: T, max = 50) {
  return z
    .string({ error: `${what} is missing` })
    .trim()
    .min(1, `${what} is missing`)
    .transform((value) => [
      ...new Set(
        value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(item).min(1, `${what} is missing`).max(max, `at most ${max} ${what} at once`));
}

/** A `--flag` that is either absent or present (never given a value). */
export const flag = z
  .literal(true, { error: 'this flag takes no value' })
  .optional()
  .transform((value) => value === true);

/** A positive whole number given as an option value, e.g. `--limit 20`. */
export function count(what: string, max: number) {
  return z.coerce
    .number({ error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(0, `${what} cannot be negative`)
    .max(max, `${what} can be at most ${max}`);
}
