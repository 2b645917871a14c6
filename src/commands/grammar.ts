import type { z } from 'zod';
import { InputError } from '../errors.js';
import { excerpt } from '../slack/mrkdwn.js';
import type { ParamSpec } from '../vendors/types.js';

/**
 * The `/ops` grammar: words, `--flag` and `--option value` (or `--option=value`), checked against
 * declared `ParamSpec`s and validated by the command's own zod schema. Nothing here knows about
 * any particular command; usage lines and help are derived from the same declarations.
 */

export interface CommandShape {
  /** Words naming the command after the slash command, e.g. `['ece', 'restart']`. */
  words: string[];
  params: ParamSpec[];
  args: z.ZodType;
}

/** Options every vendor action understands, handled by the pipeline rather than the vendor. */
export const TARGET_PARAM: ParamSpec = {
  name: 'target',
  kind: 'option',
  flag: '--target',
  label: '<name>',
  help: 'which configured instance (needed when the vendor has several)',
  optional: true,
};
export const DRY_RUN_PARAM: ParamSpec = {
  name: 'dryRun',
  kind: 'flag',
  flag: '--dry-run',
  label: '',
  help: 'show what would be called and how things stand now; changes nothing',
  optional: true,
};

export const REASON_PARAM: ParamSpec = {
  name: 'reason',
  kind: 'option',
  flag: '--reason',
  label: '"<text>"',
  help: 'why, in quotes (shown with the request and kept in the audit trail)',
  optional: true,
};
/** When an action that changes something runs: it asks for approval now and runs then. */
export const AT_PARAM: ParamSpec = {
  name: 'at',
  kind: 'option',
  flag: '--at',
  label: '<time>',
  help: 'run it later: HH:MM in this channel’s time zone, or ISO 8601 (2026-12-05T16:30Z)',
  optional: true,
};
/** Break-glass: ask for an action a change freeze covers, with one more approval (src/calendar/). */
export const OVERRIDE_PARAM: ParamSpec = {
  name: 'override',
  kind: 'flag',
  flag: '--override',
  label: '',
  help: 'break-glass during a change freeze: needs --reason and an approval from the freeze’s override role',
  optional: true,
};

export type RawArgs = Record<string, string | true>;

/**
 * The words of a command line, as the person typed them. Slack sends `&`, `<` and `>` of the
 * command text escaped (`&amp;`, `&lt;`, `&gt;`); they are decoded here, once, so that every echo
 * escapes what was typed exactly once (slack/mrkdwn.ts). Text in double quotes is one word
 * (`--reason "weekend deploy"`); Slack clients often turn `"` into “ and ”, which count the same.
 * An unclosed quote is refused, so a reason is never silently cut short.
 */
export function tokenize(text: string): string[] {
  // Slack may send non-breaking spaces; ids never need them.
  const decoded = text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[\u00a0\u2000-\u200b]/g, ' ')
    .trim();
  const words: string[] = [];
  const word = /([^\s"\u201c\u201d]*)(?:["\u201c]([^"\u201d]*)["\u201d])?/y;
  let at = 0;
  let current = '';
  while (at < decoded.length) {
    if (/\s/.test(decoded[at]!)) {
      if (current) words.push(current);
      current = '';
      at += 1;
      continue;
    }
    word.lastIndex = at;
    const match = word.exec(decoded)!;
    if (match[0] === '') throw new InputError('a quote is not closed: write "…" around the text');
    current += match[1]! + (match[2] ?? '');
    at = word.lastIndex;
    if (match[2] !== undefined && current === '') words.push('');
  }
  if (current) words.push(current);
  return words;
}

export function usageOf(command: string, shape: Pick<CommandShape, 'words' | 'params'>): string {
  const parts = shape.params.map((param) => {
    const word =
      param.kind === 'positional'
        ? param.label
        : param.kind === 'flag'
          ? param.flag!
          : `${param.flag} ${param.label}`;
    return param.optional ? `[${word}]` : word;
  });
  return [command, ...shape.words, ...parts].join(' ');
}

/** Maps the words after the command name onto the declared params (no validation of values yet). */
export function bindWords(
  words: string[],
  shape: Pick<CommandShape, 'words' | 'params'>,
  usage: string,
): RawArgs {
  const raw: RawArgs = {};
  const positional = shape.params.filter((param) => param.kind === 'positional');
  const byFlag = new Map(shape.params.filter((param) => param.flag).map((param) => [param.flag!, param]));
  let next = 0;
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i]!;
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      // Option names are case-insensitive; their values keep their case.
      const param = byFlag.get((eq > 0 ? word.slice(0, eq) : word).toLowerCase());
      if (!param) {
        const known = [...byFlag.keys()].join(', ') || 'none';
        throw new InputError(
          `unknown option "${excerpt(eq > 0 ? word.slice(0, eq) : word)}" for \`${shape.words.join(' ')}\` (options: ${known})`,
          usage,
        );
      }
      const name = param.flag!;
      if (param.name in raw) throw new InputError(`${name} is given twice`, usage);
      if (param.kind === 'flag') {
        if (eq > 0) throw new InputError(`${name} takes no value`, usage);
        raw[param.name] = true;
      } else {
        const value = eq > 0 ? word.slice(eq + 1) : words[++i];
        if (value === undefined || value === '' || value.startsWith('--')) {
          throw new InputError(`${name} needs a value: ${name} ${param.label}`, usage);
        }
        raw[param.name] = value;
      }
      continue;
    }
    const param = positional[next++];
    if (!param) throw new InputError(`unexpected extra word "${excerpt(word)}"`, usage);
    raw[param.name] = word;
  }
  const missing = positional.slice(next).find((param) => !param.optional);
  if (missing) throw new InputError(`${missing.label} is missing`, usage);
  return raw;
}

/** Validates bound words with the command's schema; the first problem becomes the message. */
export function validateArgs<T>(schema: z.ZodType<T>, raw: RawArgs, usage: string): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const messages = [...new Set(result.error.issues.map((issue) => issue.message))];
  throw new InputError(messages.join('; '), usage);
}
