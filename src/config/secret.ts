import { readFileSync } from 'node:fs';

/**
 * A credential read from the environment or a file. It never prints itself: `String(secret)`,
 * `JSON.stringify(secret)` and `util.inspect(secret)` all give `[secret]`, so a secret that slips
 * into a log line or an error message is harmless. Only `reveal()` gives the value, and only the
 * code that puts it on the wire calls it.
 */
export class Secret {
  readonly #value: string;
  /** Where it came from, e.g. `env:ARCGIS_PASSWORD`; safe to show. */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
    rememberConfigured(value);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `[secret ${this.source}]`;
  }
}

/**
 * Values shorter than this are not scrubbed: masking every "admin" or "12345" in vendor text would
 * garble messages more than it protects.
 */
const MIN_SCRUBBED_LENGTH = 6;

/** Every configured secret value loaded by this process (a handful, read once at start). */
const configuredValues = new Set<string>();

/**
 * Minted secret values by slot (`cckm/prod/jwt`): the current one first, then the one it replaced.
 * A slot never holds more, so a token minted every five minutes for months costs two entries,
 * not tens of thousands (each of which every scrubbed message would be searched for).
 */
const mintedValues = new Map<string, readonly string[]>();

function rememberConfigured(value: string): void {
  if (value.length < MIN_SCRUBBED_LENGTH) return;
  configuredValues.add(value);
  // Log lines are JSON: a password with a quote or a backslash appears there escaped.
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) configuredValues.add(escaped);
}

/**
 * Also scrub a value that is a secret but not configured: a minted token, an encoded credential.
 * `slot` names what it is, one per vendor target and kind of token (`cckm/prod/jwt`); a new
 * value replaces the slot's previous one, which is still kept because text about a call made
 * with it may be on its way out. A process has one client per target, hence one writer per slot.
 */
export function registerSecretValue(slot: string, value: string): void {
  if (value.length < MIN_SCRUBBED_LENGTH) return;
  const held = mintedValues.get(slot);
  if (held?.[0] === value) return;
  mintedValues.set(slot, [value, ...(held ?? []).slice(0, 1)]);
}

/** How many secret values are remembered for scrubbing (to check the count stays bounded). */
export function rememberedSecretCount(): number {
  let count = configuredValues.size;
  for (const held of mintedValues.values()) count += held.length;
  return count;
}

/** Replaces every known secret value in `text` with a mask: the last line of defence. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const value of configuredValues) out = mask(out, value);
  for (const held of mintedValues.values()) for (const value of held) out = mask(out, value);
  return out;
}

function mask(text: string, value: string): string {
  return text.includes(value) ? text.split(value).join('••••') : text;
}

export type SecretRef = { env: string } | { file: string };

/** Reads a secret reference; throws a message naming the reference, never the value. */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv): Secret {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') throw new Error(`environment variable ${ref.env} is not set`);
    return new Secret(value, `env:${ref.env}`);
  }
  let value: string;
  try {
    value = readFileSync(ref.file, 'utf8').trim();
  } catch (error) {
    throw new Error(
      `cannot read secret file ${ref.file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (value === '') throw new Error(`secret file ${ref.file} is empty`);
  return new Secret(value, `file:${ref.file}`);
}
