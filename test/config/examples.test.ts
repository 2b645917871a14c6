import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';

/**
 * Every example config a person may start from (`examples/<vendor>.yml`, `opsbot.example.yml`)
 * is valid as shipped once the secrets it names are there, in HTTP mode and, after the one edit
 * its comments ask for, in Socket Mode.
 */

const EXAMPLES = [
  ...readdirSync('examples')
    .filter((name) => name.endsWith('.yml'))
    .map((name) => join('examples', name)),
  'opsbot.example.yml',
];

/**
 * The document with a value for every secret it references: each `{ env: NAME }` gets NAME in the
 * returned environment, each `{ file: PATH }` a file of its own (the example's paths are where a
 * deployment keeps them, not on this machine).
 */
function withSecrets(document: unknown): { document: unknown; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-example-secrets-'));
  let files = 0;
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (node === null || typeof node !== 'object') return node;
    const ref = node as { env?: unknown; file?: unknown };
    if (typeof ref.env === 'string') {
      env[ref.env] = `value-of-${ref.env}`;
      return node;
    }
    if (typeof ref.file === 'string') {
      const path = join(dir, `secret-${++files}`);
      writeFileSync(path, 'a-secret-from-a-file\n');
      return { file: path };
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, visit(value)]));
  };
  return { document: visit(document), env };
}

/** The example's text after the Socket Mode edit it describes: signingSecret out, appToken in. */
function inSocketMode(text: string): string {
  const lines = text.split('\n');
  const signing = lines.findIndex((line) => /^\s+signingSecret:/.test(line));
  const appToken = lines.findIndex((line) => /^\s+# appToken: /.test(line));
  expect(signing, 'an active slack.signingSecret line').toBeGreaterThan(-1);
  expect(appToken, 'a commented-out slack.appToken line').toBeGreaterThan(-1);
  lines[appToken] = lines[appToken]!.replace('# appToken:', 'appToken:');
  lines.splice(signing, 1);
  return lines.join('\n');
}

describe('the example configs', () => {
  it.each(EXAMPLES)('%s is valid in HTTP mode with only its own secrets set', (path) => {
    const { document, env } = withSecrets(parse(readFileSync(path, 'utf8')));
    const config = loadConfig({ document, env });
    expect(config.slack.signingSecret?.reveal()).toBe('value-of-SLACK_SIGNING_SECRET');
    expect(config.slack.appToken).toBeUndefined();
  });

  it.each(EXAMPLES)('%s is valid in Socket Mode after its one-line edit, with no signing secret', (path) => {
    const { document, env } = withSecrets(parse(inSocketMode(readFileSync(path, 'utf8'))));
    expect(env).not.toHaveProperty('SLACK_SIGNING_SECRET');
    const config = loadConfig({ document, env });
    expect(config.slack.appToken?.reveal()).toBe('value-of-SLACK_APP_TOKEN');
    expect(config.slack.signingSecret).toBeUndefined();
  });

  it('has one small example per vendor, each naming that vendor alone', () => {
    const vendors = EXAMPLES.filter((path) => path.startsWith('examples/')).map((path) =>
      Object.keys((parse(readFileSync(path, 'utf8')) as { targets: object }).targets),
    );
    expect(vendors.flat().sort()).toEqual(['arcgis', 'cckm', 'ece', 'workspace']);
    for (const names of vendors) expect(names).toHaveLength(1);
  });
});
