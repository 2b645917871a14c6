import { z } from 'zod';

const UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Parses `300B`, `512KiB`, `1MiB`, `2GiB` (or a bare number of bytes) into a whole number of bytes. */
function parseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kib|mib|gib)?$/i.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNITS[(match[2] ?? 'b').toLowerCase()]!);
}

/** A size in config: bytes, or `512KiB`, `1MiB`, `2GiB`; becomes a positive number of bytes. */
export const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = typeof value === 'number' ? value : parseSize(value);
  if (bytes === undefined || !Number.isInteger(bytes) || bytes < 1) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a size (write a number of bytes, or e.g. 512KiB, 1MiB)`,
    });
    return z.NEVER;
  }
  return bytes;
});

const SHOWN_UNITS = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
] as const;

/** A size as a person reads it: `1 MiB`, `1.5 KiB`, `300 bytes`. */
export function formatSize(bytes: number): string {
  const [unit, factor] = SHOWN_UNITS.find(([, factor]) => bytes >= factor) ?? ['bytes', 1];
  const amount = bytes / factor;
  return `${Number.isInteger(amount) ? amount : amount.toFixed(1)} ${unit}`;
}
