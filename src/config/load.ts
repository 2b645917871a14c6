import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { allActions, findVendor, VENDORS } from '../vendors/registry.js';
import type { ActionTiming, TargetCommon } from '../vendors/types.js';
import { type Audience, configSchema, type RawConfig } from './schema.js';
import { resolveSecret, type Secret } from './secret.js';

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

export interface ResolvedActionPolicy {
  enabled: boolean;
  requesters: Audience;
  approvers: Audience;
  highRisk: boolean;
  allowSelfApproval: boolean;
  whenBusy: 'wait' | 'refuse';
  cancelInFlight: 'requester-or-approver' | 'approvers';
  timing: ActionTiming;
}

/** How to reach Redis, one of three ways; `createRedis` (jobs/queues.ts) builds the client. */
export type RedisConnectionConfig =
  | { mode: 'standalone'; url: string }
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
  /** action id → effective policy (config over the action's own defaults). */
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
      if (target.success)
        byName.set(targetName, { ...(target.data as object), name: targetName } as TargetCommon);
      else problems.push(...formatIssues(target.error.issues, entry, ['targets', vendorName, targetName]));
    }
    targets.set(vendorName, byName);
  }

  const actions = new Map<string, ResolvedActionPolicy>();
  const known = new Set(allActions().map(({ action }) => action.id));
  for (const id of Object.keys(raw.policy.actions)) {
    if (!known.has(id))
      problems.push(`policy.actions.${id}: unknown action (known: ${[...known].join(', ')})`);
  }
  for (const { action } of allActions()) {
    const own = raw.policy.actions[action.id];
    actions.set(action.id, {
      enabled: own?.enabled ?? true,
      requesters: own?.requesters ?? raw.policy.defaults.requesters,
      approvers: own?.approvers ?? raw.policy.defaults.approvers,
      highRisk: own?.highRisk ?? action.highRisk,
      allowSelfApproval: own?.allowSelfApproval ?? false,
      whenBusy: own?.whenBusy ?? 'wait',
      cancelInFlight: own?.cancelInFlight ?? 'requester-or-approver',
      timing: {
        pollIntervalMs: own?.pollInterval ?? action.timing.pollIntervalMs,
        deadlineMs: own?.deadline ?? action.timing.deadlineMs,
        firstPollDelayMs:
          own?.firstPollDelay ?? action.timing.firstPollDelayMs ?? action.timing.pollIntervalMs,
      },
    });
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    ...raw,
    redis: { ...redisConnection(raw.redis), prefix: raw.redis.prefix },
    targets,
    actions,
    source,
  });
}

function redisConnection({ url, sentinel, cluster }: RawConfig['redis']): RedisConnectionConfig {
  if (sentinel) return { mode: 'sentinel', ...sentinel };
  if (cluster) return { mode: 'cluster', ...cluster };
  return {
    mode: 'standalone',
    url: url === undefined ? DEFAULT_REDIS_URL : typeof url === 'string' ? url : url.reveal(),
  };
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

/** One line per issue: the full dotted key, then what is wrong with it. */
function formatIssues(issues: z.core.$ZodIssue[], document: unknown, prefix: string[] = []): string[] {
  return issues.map((issue) => {
    const key = [...prefix, ...issue.path.map(String)].join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') return `${key}: unknown key(s) ${issue.keys.join(', ')}`;
    if (issue.code === 'invalid_type' && valueAt(document, issue.path) === undefined)
      return `${key}: is required`;
    return `${key}: ${issue.message}`;
  });
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
