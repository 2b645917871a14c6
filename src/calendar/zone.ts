import { z } from 'zod';
import { checkZone } from './time.js';

/** An IANA time zone name in the config (`Europe/Berlin`, `UTC`), checked with the time library. */
export const timeZone = z.string().superRefine((name, ctx) => {
  try {
    checkZone(name);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
