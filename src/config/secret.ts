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
    knownSecretValues.add(value);
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

/** Every secret value loaded by this process, so outgoing text can be scrubbed of them. */
const knownSecretValues = new Set<string>();

/** Also scrub values that are secrets but not configured (minted tokens, signatures). */
export function registerSecretValue(value: string): void {
  if (value.length >= 6) knownSecretValues.add(value);
}

/** Replaces every known secret value in `text` with a mask: the last line of defence. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const value of knownSecretValues) {
    if (value.length >= 6 && out.includes(value)) out = out.split(value).join('••••');
  }
  return out;
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
