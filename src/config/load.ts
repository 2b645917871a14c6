import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { EffectivePolicy } from '../policy/model.js';
import { policyProblems } from '../policy/problems.js';
import { resolveActionPolicy } from '../policy/resolve.js';
import { allActions, findVendor, VENDORS } from '../vendors/registry.js';
import type { TargetCommon } from '../vendors/types.js';
import { configSchema, type RawConfig } from './schema.js';
import { resolveSecret, Secret } from './secret.js';

/**
 * Loads `opsbot.yml` (or `OPSBOT_CONFIG`) plus environment overrides into one typed, frozen
 * object. This is the only module that reads `process.env`. Every problem is reported at once,
 * each naming the key and what is wrong.
 */

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`opsbot configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** An action's policy at action level (no target); `Policy.effective` gives it per target. */
export type ResolvedActionPolicy = EffectivePolicy;

/** How to reach Redis, one of three ways; `createRedis` (jobs/queues.ts) builds the client. */
export type RedisConnectionConfig =
  | {
      mode: 'standalone';
      /** Without its password, so it is safe to show. */
      url: string;
      /** The password the configured URL carried, if any. */
      password?: Secret;
    }
  | {
      mode: 'sentinel';
      sentinels: HostPort[];
      masterName: string;
      sentinelPassword?: Secret;
      password?: Secret;
    }
  | { mode: 'cluster'; nodes: HostPort[]; password?: Secret };

export interface HostPort {
  host: string;
  port: number;
}

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface Config extends Omit<RawConfig, 'targets' | 'redis'> {
  redis: RedisConnectionConfig & { prefix: string };
  /** vendor name → target name → validated target (secrets as `Secret`). */
  targets: ReadonlyMap<string, ReadonlyMap<string, TargetCommon>>;
  /** action id → its action-level policy (config over the action's own defaults). */
  actions: ReadonlyMap<string, ResolvedActionPolicy>;
  /** Where the config came from, for start-up logs. */
  source: string;
}

export interface LoadOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Parsed config object instead of a file (tests, sandbox). */
  document?: unknown;
}

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const source = options.document ? '(in-memory document)' : (env.OPSBOT_CONFIG ?? 'opsbot.yml');
  const problems: string[] = [];
  const document = options.document ?? readDocument(source);
  const resolved = resolveSecretRefs(document, env, [], problems);
  applyEnvOverrides(resolved as Record<string, unknown>, env);

  const parsed = configSchema.safeParse(resolved);
  if (!parsed.success) throw new ConfigError([...problems, ...formatIssues(parsed.error.issues, resolved)]);
  const raw = parsed.data;

  const targets = new Map<string, Map<string, TargetCommon>>();
  for (const [vendorName, entries] of Object.entries(raw.targets)) {
    const vendor = findVendor(vendorName);
    if (!vendor) {
      problems.push(
        `targets.${vendorName}: unknown vendor (known: ${VENDORS.map((v) => v.name).join(', ')})`,
      );
      continue;
    }
    const byName = new Map<string, TargetCommon>();
    for (const [targetName, entry] of Object.entries(entries)) {
      if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(targetName)) {
        problems.push(
          `targets.${vendorName}.${targetName}: target names are lowercase letters, digits, _ and -`,
        );
        continue;
      }
      const target = vendor.targetSchema.safeParse(entry);
      if (target.success) {
        const own = target.data as Omit<TargetCommon, 'name'>;
        byName.set(targetName, {
          ...own,
          name: targetName,
          maxResponseBytes: own.maxResponseBytes ?? raw.vendors.maxResponseBytes,
        });
      } else problems.push(...formatIssues(target.error.issues, entry, ['targets', vendorName, targetName]));
    }
    targets.set(vendorName, byName);
  }

  problems.push(
    ...policyProblems(raw.policy, {
      actions: allActions().map(({ vendor, action }) => ({ id: action.id, vendor: vendor.name })),
      targets: new Map(Object.entries(raw.targets).map(([vendor, byName]) => [vendor, Object.keys(byName)])),
    }),
  );

  const redis = redisConnection(raw.redis, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  const actions = new Map<string, ResolvedActionPolicy>(
    allActions().map(({ action }) => [
      action.id,
      resolveActionPolicy(raw.policy, action.id, undefined, raw.vendors.retry),
    ]),
  );
  return deepFreeze({
    ...raw,
    redis: { ...redis, prefix: raw.redis.prefix },
    targets,
    actions,
    source,
  });
}

function redisConnection(
  { url, sentinel, cluster }: RawConfig['redis'],
  problems: string[],
): RedisConnectionConfig {
  if (sentinel) return { mode: 'sentinel', ...sentinel };
  if (cluster) return { mode: 'cluster', ...cluster };
  if (url === undefined) return { mode: 'standalone', url: DEFAULT_REDIS_URL };
  const text = typeof url === 'string' ? url : url.reveal();
  let parsed: URL;
  let password: string;
  try {
    parsed = new URL(text);
    password = decodeURIComponent(parsed.password);
  } catch {
    // Never echo the URL: it may carry the password.
    problems.push('redis.url: is not a valid URL (redis://[user:password@]host:port[/db])');
    return { mode: 'standalone', url: DEFAULT_REDIS_URL }; // unused: the problem stops the load
  }
  if (!password) return { mode: 'standalone', url: text };
  // The password becomes a Secret (never printed, scrubbed from every log line and message);
  // what is left of the URL is safe to show.
  parsed.password = '';
  const source = typeof url === 'string' ? 'redis.url' : url.source;
  return { mode: 'standalone', url: parsed.href, password: new Secret(password, source) };
}

function readDocument(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([
      code === 'ENOENT'
        ? `config file ${path} not found (set OPSBOT_CONFIG to its path; see opsbot.example.yml)`
        : `cannot read config file ${path} (${code})`,
    ]);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError([`${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
}

/** Replaces every `{ env: NAME }` / `{ file: PATH }` object with the Secret it names. */
function resolveSecretRefs(
  node: unknown,
  env: NodeJS.ProcessEnv,
  path: string[],
  problems: string[],
): unknown {
  if (Array.isArray(node))
    return node.map((item, i) => resolveSecretRefs(item, env, [...path, String(i)], problems));
  if (node === null || typeof node !== 'object') return node;
  const entries = Object.entries(node);
  const isRef =
    entries.length === 1 &&
    (entries[0]![0] === 'env' || entries[0]![0] === 'file') &&
    typeof entries[0]![1] === 'string';
  if (isRef) {
    try {
      return resolveSecret(node as { env: string } | { file: string }, env);
    } catch (error) {
      problems.push(`${path.join('.')}: ${(error as Error).message}`);
      return undefined;
    }
  }
  return Object.fromEntries(
    entries.map(([key, value]) => [key, resolveSecretRefs(value, env, [...path, key], problems)]),
  );
}

/** The few settings that deployments usually set per process, from the environment. */
function applyEnvOverrides(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const section = (name: string) => {
    doc[name] ??= {};
    return doc[name] as Record<string, unknown>;
  };
  if (env.REDIS_URL) section('redis').url = env.REDIS_URL;
  if (env.PORT) section('server').port = Number(env.PORT);
  if (env.OPSBOT_PORT_FILE) section('server').portFile = env.OPSBOT_PORT_FILE;
  if (env.OPSBOT_ROLES) doc.roles = env.OPSBOT_ROLES.split(',').map((role) => role.trim());
  if (env.LOG_LEVEL) section('log').level = env.LOG_LEVEL;
}

/**
 * One line per key: the full dotted key, then everything wrong with it, the key named once. A
 * message that starts by naming its own key ("url must be…") drops that repetition. A key whose
 * value is `undefined` held a secret reference that could not be read (YAML has no undefined):
 * that was reported when the reference was resolved, so "is required" would only repeat it.
 */
function formatIssues(issues: z.core.$ZodIssue[], document: unknown, prefix: string[] = []): string[] {
  const byKey = new Map<string, string[]>();
  collect(issues, prefix, document);
  return [...byKey].map(([key, problems]) => `${key}: ${problems.join('; ')}`);

  function collect(list: z.core.$ZodIssue[], at: string[], node: unknown): void {
    for (const issue of list) {
      const path = issue.path.map(String);
      const key = [...at, ...path].join('.') || '(top level)';
      const chosen = issue.code === 'invalid_union' ? unionBranchTaken(issue.errors) : undefined;
      if (chosen) {
        collect(chosen, [...at, ...path], valueAt(node, issue.path));
        continue;
      }
      let problem: string;
      if (issue.code === 'unrecognized_keys') problem = `unknown key(s) ${issue.keys.join(', ')}`;
      else if (issue.code === 'invalid_key' && issue.issues[0]) problem = issue.issues[0].message;
      else if (issue.code === 'invalid_type' && valueAt(node, issue.path) === undefined) {
        if (hasKey(node, issue.path)) continue;
        problem = 'is required';
      } else problem = withoutOwnKey(issue.message, path);
      const problems = byKey.get(key) ?? [];
      if (!problems.includes(problem)) problems.push(problem);
      byKey.set(key, problems);
    }
  }

  function withoutOwnKey(message: string, path: string[]): string {
    for (let from = 0; from < path.length; from += 1) {
      const own = `${path.slice(from).join('.')} `;
      if (
        message.startsWith(own) &&
        /^(is|are|must|should|needs?|cannot|has|have)\b/.test(message.slice(own.length))
      )
        return message.slice(own.length);
    }
    return message;
  }

  function hasKey(node: unknown, path: PropertyKey[]): boolean {
    const parent = valueAt(node, path.slice(0, -1));
    return parent !== null && typeof parent === 'object' && path.at(-1)! in parent;
  }
}

/**
 * When a value has the shape of one branch of a union (say a map rather than a list) but is wrong
 * inside it, that branch's problems say what is wrong; the union's "Invalid input" would not.
 */
function unionBranchTaken(branches: z.core.$ZodIssue[][]): z.core.$ZodIssue[] | undefined {
  const deep = branches.filter(
    (branch) => branch.length > 0 && branch.every((issue) => issue.path.length > 0),
  );
  return deep.length === 1 ? deep[0] : undefined;
}

function valueAt(document: unknown, path: PropertyKey[]): unknown {
  let node = document;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Map)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export type { Secret };
