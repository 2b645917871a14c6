import { z } from 'zod';
import { OpsError } from '../../errors.js';
import { commaList, flag, pathSegment, UUID } from '../params.js';
import type { ActionDef, ActionProgress, ParamSpec, TextLine } from '../types.js';
import type { CckmClient, RefreshBody } from './client.js';
import { domainLine, refreshLine } from './format.js';
import type { Domain, Refresh } from './schemas.js';
import { type RefreshMemo, refreshProgress } from './status.js';

/**
 * `/ops cckm refresh <domain-id>[,<domain-id>…]` or `/ops cckm refresh --all`:
 * `POST /api/v1/cckm/dsm/refresh` with `{"domains":[…]}` or `{"synchronize_all":true}` (one or the
 * other, never both: doc), then `GET /api/v1/cckm/dsm/refresh/{id}` until it ends.
 */

export type RefreshArgs = { all: true } | { all: false; domains: string[] };

const params: ParamSpec[] = [
  {
    name: 'domains',
    kind: 'positional',
    label: '<domain-id>[,<domain-id>…]',
    help: 'CCKM DSM domain ids (UUIDs, as listed by CipherTrust), comma-separated',
    optional: true,
  },
  { name: 'all', kind: 'flag', flag: '--all', label: '', help: 'refresh every DSM domain', optional: true },
];

const domainId = pathSegment('domain id', UUID).transform((id) => id.toLowerCase());

const args = z
  // `flag` alone refuses an absent key in zod 4 ("expected nonoptional"); the default covers it.
  .object({ domains: commaList('domain ids', domainId).optional(), all: flag.default(false) })
  .transform((raw, ctx): RefreshArgs => {
    if (raw.all && raw.domains) {
      ctx.addIssue({ code: 'custom', message: 'give DSM domain ids or --all, not both' });
      return z.NEVER;
    }
    if (raw.all) return { all: true };
    if (!raw.domains) {
      ctx.addIssue({
        code: 'custom',
        message: 'name the DSM domains to refresh (<domain-id>[,<domain-id>…]) or use --all for every domain',
      });
      return z.NEVER;
    }
    // Lowercasing happens after commaList drops duplicates; drop the ones it made.
    return { all: false, domains: [...new Set(raw.domains)] };
  });

/** How far the appliance's clock may be behind ours when looking for a refresh we started. */
const CLOCK_SKEW_MS = 60_000;

/** Most domains listed in a dry run or an approval message; the rest are counted. */
const MAX_LISTED = 20;
/** A dry run reads at most this many domains to find the requested ones (10 pages of 100). */
const MAX_DOMAINS_READ = 1_000;

function bodyOf(args: RefreshArgs): RefreshBody {
  return args.all ? { synchronize_all: true } : { domains: args.domains };
}

function refreshIdOf(last: ActionProgress): string {
  const memo = last.memo as Partial<RefreshMemo> | null;
  const id = (memo && typeof memo === 'object' && memo.refreshId) || last.vendorJobId;
  if (!id) throw new OpsError('internal', 'the stored progress of this CCKM refresh has lost its refresh id');
  return id;
}

export const refreshAction: ActionDef<RefreshArgs, CckmClient> = {
  id: 'cckm.dsm.refresh',
  verb: 'refresh',
  summary: 'refresh CCKM DSM domains (keys and metadata from the DSM) and follow it to the end',
  params,
  args,
  examples: ['cckm refresh 6070915c-0ab4-4e7e-bf4d-31dd31214874', 'cckm refresh --all'],
  mode: 'async',
  highRisk: false,
  // Refreshing everything can take hours or days (doc): poll gently and follow for a day by default.
  timing: { pollIntervalMs: 30_000, firstPollDelayMs: 5_000, deadlineMs: 24 * 3_600_000 },

  describe(args) {
    if (args.all) {
      return {
        fields: [{ label: 'Domains', value: 'every CCKM DSM domain (synchronize_all)' }],
        warnings: ['refreshes every DSM domain: this can take hours and loads the DSM servers meanwhile'],
      };
    }
    const shown = args.domains.slice(0, MAX_LISTED).join(', ');
    const more = args.domains.length > MAX_LISTED ? ` and ${args.domains.length - MAX_LISTED} more` : '';
    return {
      fields: [
        {
          label: args.domains.length === 1 ? 'Domain' : `Domains (${args.domains.length})`,
          value: shown + more,
        },
      ],
      warnings: [],
    };
  },

  async start(ctx, args) {
    return refreshProgress(await ctx.client.startRefresh(bodyOf(args), ctx.scope));
  },

  async poll(ctx, _args, last) {
    return refreshProgress(await ctx.client.getRefresh(refreshIdOf(last), ctx.scope));
  },

  async findSubmitted(ctx, args, since) {
    // Newest first; a lost start is at most seconds old, so the first page is enough. The appliance's
    // clock may differ from ours: allow a little skew rather than miss our own refresh.
    const page = await ctx.client.listRefreshes({ skip: 0, limit: 20, sort: '-createdAt' }, ctx.scope);
    const wanted = args.all ? undefined : [...args.domains].sort().join(',');
    const ours = page.resources.find((refresh) => {
      const created = refresh.createdAt ? Date.parse(refresh.createdAt) : Number.NaN;
      if (!(created >= since - CLOCK_SKEW_MS)) return false;
      return wanted === undefined || [...refresh.domains].sort().join(',') === wanted;
    });
    return ours ? refreshProgress(ours) : undefined;
  },

  async cancel(ctx, _args, last) {
    const id = refreshIdOf(last);
    const refresh = await ctx.client.cancelRefresh(id, ctx.scope);
    const abort = refresh.abort ? 'abort requested' : 'abort not confirmed';
    return `CipherTrust took the cancel of refresh ${id}: ${refresh.overall_status ?? 'no status'}, ${abort}`;
  },

  async dryRun(ctx, args) {
    const [domains, running] = await Promise.all([
      readDomains(ctx.client),
      ctx.client.listRefreshes({ skip: 0, limit: 5, overallStatus: 'in_progress', sort: '-createdAt' }),
    ]);
    return {
      call: ctx.client.describeStart(bodyOf(args)),
      currentState: [...domainState(args, domains), ...runningState(running.resources, running.total)],
    };
  },
};

interface DomainList {
  domains: Domain[];
  total: number;
}

async function readDomains(client: CckmClient): Promise<DomainList> {
  const domains: Domain[] = [];
  let total = Number.POSITIVE_INFINITY;
  while (domains.length < Math.min(total, MAX_DOMAINS_READ)) {
    const page = await client.listDomains({ skip: domains.length, limit: 100 });
    domains.push(...page.resources);
    total = page.total ?? domains.length;
    if (page.resources.length === 0) break;
  }
  return { domains, total: Math.max(total, domains.length) };
}

function domainState(args: RefreshArgs, { domains, total }: DomainList): string[] {
  if (args.all) {
    const lines = [`all ${total} CCKM DSM domain${total === 1 ? '' : 's'} would be refreshed:`];
    lines.push(...domains.slice(0, MAX_LISTED).map(domainLine));
    if (total > MAX_LISTED) lines.push(`… and ${total - MAX_LISTED} more`);
    return lines;
  }
  const byId = new Map(domains.map((domain) => [domain.id.toLowerCase(), domain]));
  const unread = total > domains.length ? ` (read the first ${domains.length} of ${total})` : '';
  return args.domains.map((id) => {
    const domain = byId.get(id);
    return domain
      ? domainLine(domain)
      : `\`${id}\` is not a known CCKM DSM domain${unread}: CipherTrust would refuse the refresh`;
  });
}

function runningState(running: Refresh[], total: number | undefined): TextLine[] {
  if (running.length === 0) return ['no refresh in progress'];
  const lines: TextLine[] = running.map((refresh) => ['refresh ', ...refreshLine(refresh)]);
  if (total !== undefined && total > running.length)
    lines.push(`… and ${total - running.length} more in progress`);
  return lines;
}
