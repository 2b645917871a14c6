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
/** Why it is asked for (shown with the request, kept in the audit trail): actions that change something. */
export const REASON_PARAM: ParamSpec = {
  name: 'reason',
  kind: 'option',
  flag: '--reason',
  label: '"<text>"',
  help: 'why: shown with the request and kept in the audit trail (some actions require one)',
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

export type RawArgs = Record<string, string | true>;

/** One word of a command line. */
export interface Word {
  text: string;
  /** Written in quotes from its first character: always a value, never an option name. */
  quoted: boolean;
}

/**
 * The closing quotes each opening quote accepts. Slack's clients turn typed quotes into smart
 * ones (`“…”`, `‘…’`), and some keyboards type `”` at both ends; any quote of the same kind closes.
 */
const CLOSING_QUOTES: Record<string, string> = {
  '"': '"”“',
  '“': '”“"',
  '”': '”“"',
  "'": "'’",
  '‘': "’‘'",
};

/**
 * The words of a command line, as the person typed them. Quoted text is one word: `"two words"`,
 * `'…'`, `“…”`, `‘…’`, also as an option's value (`--reason="two words"`). A quote opens only at
 * the start of a word (or right after `--option=`) and closes only at the end of one, so an
 * apostrophe inside a word (`don't`) or inside quoted text (`'it's stuck'`) is just a character.
 * Slack sends `&`, `<` and `>` of the command text escaped (`&amp;`, `&lt;`, `&gt;`); they are
 * decoded here, once, so that every echo escapes what was typed exactly once (slack/mrkdwn.ts).
 */
export function tokenize(text: string): Word[] {
  // Slack may send non-breaking and other wide spaces; ids never need them, reasons read the same.
  const line = text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/[\u00a0\u2000-\u200b]/g, ' ');
  const words: Word[] = [];
  let i = 0;
  while (i < line.length) {
    if (isSpace(line[i])) {
      i += 1;
      continue;
    }
    const start = i;
    let word = '';
    while (i < line.length && !isSpace(line[i])) {
      const char = line[i]!;
      const closers = CLOSING_QUOTES[char];
      const opens = i === start || (line[i - 1] === '=' && word.startsWith('--'));
      if (!closers || !opens) {
        word += char;
        i += 1;
        continue;
      }
      const end = closingQuote(line, i + 1, closers);
      if (end < 0) {
        throw new InputError(
          `a quote is not closed: ${char}${excerpt(line.slice(i + 1).trim())} (end the quoted text with ${closers[0]})`,
        );
      }
      word += line.slice(i + 1, end);
      i = end + 1;
    }
    words.push({ text: word, quoted: CLOSING_QUOTES[line[start]!] !== undefined });
  }
  return words;
}

/** Where quoted text opened before `from` ends: a closing quote that ends a word; -1 if none does. */
function closingQuote(line: string, from: number, closers: string): number {
  for (let end = from; end < line.length; end += 1) {
    if (closers.includes(line[end]!) && (end + 1 === line.length || isSpace(line[end + 1]))) return end;
  }
  return -1;
}

function isSpace(char: string | undefined): boolean {
  return char !== undefined && /\s/.test(char);
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
  words: Word[],
  shape: Pick<CommandShape, 'words' | 'params'>,
  usage: string,
): RawArgs {
  const raw: RawArgs = {};
  const positional = shape.params.filter((param) => param.kind === 'positional');
  const byFlag = new Map(shape.params.filter((param) => param.flag).map((param) => [param.flag!, param]));
  let next = 0;
  for (let i = 0; i < words.length; i += 1) {
    const { text: word, quoted } = words[i]!;
    if (!quoted && word.startsWith('--')) {
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
        const next = eq > 0 ? undefined : words[++i];
        const value = eq > 0 ? word.slice(eq + 1) : next?.text;
        // A bare `--word` after an option is the next option, not its value; a quoted one is a value.
        if (value === undefined || value === '' || (next && !next.quoted && value.startsWith('--'))) {
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

/** Validates bound words (or one of them) with its schema; the problems become the message. */
export function validateArgs<T>(schema: z.ZodType<T>, raw: unknown, usage: string): T {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const messages = [...new Set(result.error.issues.map((issue) => issue.message))];
  throw new InputError(messages.join('; '), usage);
}
