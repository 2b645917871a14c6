import type { Logger } from 'pino';
import type { z } from 'zod';
import type { CallScope, VendorCallObserver, VendorHttp } from './http.js';

/**
 * The contract between a vendor folder and the rest of opsbot. A vendor is one folder under
 * `src/vendors/<name>/` exporting a `VendorModule` and one line in `registry.ts`; the command
 * grammar, help, approval messages, the job state machine and the sandbox are all derived from it.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One word of an `/ops` command line, declared once: the parser and the help both read it. */
export interface ParamSpec {
  /** Key in the raw argument object handed to the action's zod schema. */
  name: string;
  /**
   * `positional`: the next bare word; `flag`: `--name` alone means true;
   * `option`: `--name value` or `--name=value`.
   */
  kind: 'positional' | 'flag' | 'option';
  /** For flags and options: the spelling, e.g. `--cancel-pending`. */
  flag?: string;
  /** Placeholder in usage lines, e.g. `<deployment-id>`. */
  label: string;
  /** One line for help. */
  help: string;
  optional?: boolean;
}

/** A moment in a line of text (epoch ms): Slack shows it in each reader's own time zone. */
export interface Instant {
  at: number;
}

/**
 * A line of plain text for people (vendor words are never markup: see slack/mrkdwn.ts). A time in
 * it is an `Instant`, never a formatted string, so that it reads in every reader's time zone.
 */
export type TextLine = string | ReadonlyArray<string | Instant>;

/** A line of "what will happen" for the approval message and dry runs. */
export interface Field {
  label: string;
  value: string;
}

export interface ActionSummary {
  fields: Field[];
  /** Shown prominently in the approval message (e.g. "the system disk is wiped"). */
  warnings: string[];
}

/** Where an action stands, as the vendor tells it, normalized for the job state machine. */
export interface ActionProgress {
  /** The vendor's id for the work it started (job id, plan attempt, refresh id), shown in the thread. */
  vendorJobId?: string | undefined;
  /** Normalized outcome; anything but `running` ends the action. */
  outcome: 'running' | 'succeeded' | 'failed' | 'cancelled';
  /** The vendor's own status word (`EXECUTING`, `in_progress`); a change is posted in the thread. */
  status: string;
  /** One line about this status (current plan step, sub-job state); a change is posted too. */
  detail?: string | undefined;
  /** Lines for the final message: the vendor's result, error messages, per-item results. */
  result?: TextLine[] | undefined;
  /** Warnings to say once (e.g. those the vendor returned with a 202), shown with ⚠️; facts go in `detail`. */
  notes?: string[] | undefined;
  /** Opaque state the action needs for its next poll; stored durably between polls. */
  memo: Json;
}

/** What `--dry-run` shows: no mutation, just what would happen and how things stand now. */
export interface DryRunReport {
  /** The exact call that would be made, secrets masked: `POST https://…/refresh (f=json, token=••••)`. */
  call: string;
  /** How the thing stands now, where the vendor can tell (one line each). */
  currentState: TextLine[];
}

/** A read-only answer (e.g. `cckm refresh-status`): shown at once, ephemerally, no approval. */
export interface ReadAnswer {
  title: string;
  lines: TextLine[];
  /** e.g. "showing 1–10 of 42 · next page: --skip 10" */
  footer?: string | undefined;
}

export interface ActionContext<Client> {
  client: Client;
  /** The configured target's name (`prod`). */
  target: string;
  log: Logger;
  /** In a run step: the request its vendor calls are made for; pass it to every client call. */
  scope?: CallScope | undefined;
}

export interface ActionTiming {
  /** Time between polls. */
  pollIntervalMs: number;
  /** Give up following (not the vendor's work) after this long. */
  deadlineMs: number;
  /** Wait before the first poll (some vendors need a moment before the job is visible). */
  firstPollDelayMs?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds actions of every vendor; each vendor's own code is fully typed.
export interface ActionDef<Args = any, Client = any> {
  /** Stable id used in policy and audit: `ece.resource.restart`. */
  id: string;
  /** The word after the vendor name in `/ops <vendor> <verb>`. */
  verb: string;
  summary: string;
  params: ParamSpec[];
  /** Validates the raw words (`Record<name, string | true>`) into typed arguments. */
  args: z.ZodType<Args>;
  /** Command lines after the slash command, e.g. `ece restart 3f5a…c1 kibana`. */
  examples: string[];
  /** `async`: start then poll; `sync`: the start call is the whole action; `read`: no approval. */
  mode: 'async' | 'sync' | 'read';
  /** Default for policy when the config does not say. */
  highRisk: boolean;
  timing: ActionTiming;
  describe(args: Args): ActionSummary;
  /**
   * The resource this action changes, for the one-action-per-resource lock (e.g. the ECE
   * deployment id). Default: the first positional argument. Read-only actions take no lock.
   */
  lockKey?(args: Args): string;
  /** Performs the mutating vendor call. Called at most once per approved request. */
  start?(ctx: ActionContext<Client>, args: Args): Promise<ActionProgress>;
  /** Reads the vendor's job once. Must not mutate anything. */
  poll?(ctx: ActionContext<Client>, args: Args, last: ActionProgress): Promise<ActionProgress>;
  dryRun?(ctx: ActionContext<Client>, args: Args): Promise<DryRunReport>;
  read?(ctx: ActionContext<Client>, args: Args): Promise<ReadAnswer>;
  /**
   * After a start call whose answer was lost (opsbot crashed during it, or the connection broke
   * after sending), looks for the work it may have created at or after `since` (epoch ms), so it
   * can be followed instead of being sent again. Undefined: no sign of it at the vendor.
   */
  findSubmitted?(ctx: ActionContext<Client>, args: Args, since: number): Promise<ActionProgress | undefined>;
  /** Asks the vendor to stop the work it started, where it can. Returns what the vendor said. */
  cancel?(ctx: ActionContext<Client>, args: Args, last: ActionProgress): Promise<string>;
}

export interface ClientDeps {
  /** A new HTTP client for this target (its TLS and timeouts), at `baseUrl` or the target's url. */
  http(options?: { baseUrl?: string; requestIdHeader?: string }): VendorHttp;
  log: Logger;
  /** Clock, so simulators and tests can compress time. */
  now(): number;
}

export interface TargetCommon {
  name: string;
  tls?: { caFile?: string | undefined; insecureSkipVerify?: boolean | undefined } | undefined;
  timeouts?: { connectMs?: number | undefined; requestMs?: number | undefined } | undefined;
  allowInsecureHttp?: boolean | undefined;
  /** The largest answer read from this target (the config loader fills in `vendors.maxResponseBytes`). */
  maxResponseBytes?: number | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: as for ActionDef, the registry mixes vendors.
export interface VendorModule<Target extends TargetCommon = any, Client = any> {
  /** The first word after `/ops` and the key under `targets:` in the config file. */
  name: string;
  title: string;
  /** One configured target; secret fields are `Secret` instances (see config/secret.ts). */
  targetSchema: z.ZodType<Omit<Target, 'name'>>;
  /** The target's main URL (for the HTTP client); may be derived (Huawei's region table). */
  baseUrl(target: Target): string;
  createClient(target: Target, deps: ClientDeps): Client;
  // biome-ignore lint/suspicious/noExplicitAny: each action has its own argument type.
  actions: ActionDef<any, Client>[];
}

export type { VendorCallObserver };
