import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `10s`, `15m`, `2h`, `1d` (or a bare number of milliseconds). */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}

/** A duration in config: `15m`, `30s`, `2h` or milliseconds; becomes milliseconds. */
export const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (write e.g. 30s, 15m, 2h)` });
    return z.NEVER;
  }
  return ms;
});

/** A duration that must be more than zero (e.g. a wait before trying again: zero would spin). */
export const positiveDuration = duration.refine((ms) => ms > 0, 'must be more than 0');
