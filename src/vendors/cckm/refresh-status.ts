import { z } from 'zod';
import { excerpt } from '../../slack/mrkdwn.js';
import { count } from '../params.js';
import type { ActionDef, ParamSpec } from '../types.js';
import type { CckmClient } from './client.js';
import { refreshLine } from './format.js';
import { normalizeStatus, REFRESH_STATUSES, type RefreshStatus } from './status.js';

/**
 * `/ops cckm refresh-status [--status in_progress|completed|failed] [--skip N] [--limit N]`:
 * `GET /api/v1/cckm/dsm/refresh?skip&limit&overall_status&sort`, newest first, answered at once.
 */

export interface RefreshStatusArgs {
  status?: RefreshStatus | undefined;
  skip: number;
  limit: number;
}

const DEFAULT_LIMIT = 10;

const params: ParamSpec[] = [
  {
    name: 'status',
    kind: 'option',
    flag: '--status',
    label: '<in_progress|completed|failed>',
    help: 'only refreshes in this state',
    optional: true,
  },
  {
    name: 'skip',
    kind: 'option',
    flag: '--skip',
    label: '<n>',
    help: 'skip the n newest (paging)',
    optional: true,
  },
  {
    name: 'limit',
    kind: 'option',
    flag: '--limit',
    label: '<n>',
    help: `how many (default ${DEFAULT_LIMIT}, at most 100)`,
    optional: true,
  },
];

const statusFilter = z.string().transform((raw, ctx): RefreshStatus => {
  const status = normalizeStatus(raw);
  if ((REFRESH_STATUSES as readonly string[]).includes(status)) return status as RefreshStatus;
  ctx.addIssue({
    code: 'custom',
    message: `--status "${excerpt(raw)}" is not one of ${REFRESH_STATUSES.join(', ')}`,
  });
  return z.NEVER;
});

const args = z.object({
  status: statusFilter.optional(),
  skip: count('--skip', 1_000_000).default(0),
  limit: count('--limit', 100).min(1, '--limit must be at least 1').default(DEFAULT_LIMIT),
});

export const refreshStatusAction: ActionDef<RefreshStatusArgs, CckmClient> = {
  id: 'cckm.dsm.refresh-status',
  verb: 'refresh-status',
  summary: 'list recent CCKM DSM refreshes',
  params,
  args,
  examples: ['cckm refresh-status', 'cckm refresh-status --status failed --limit 5'],
  mode: 'read',
  highRisk: false,
  timing: { pollIntervalMs: 0, deadlineMs: 0 },

  describe(args) {
    return {
      fields: [
        { label: 'Status', value: args.status ?? 'any' },
        { label: 'Page', value: `--skip ${args.skip} --limit ${args.limit}` },
      ],
      warnings: [],
    };
  },

  async read(ctx, args) {
    const page = await ctx.client.listRefreshes({
      skip: args.skip,
      limit: args.limit,
      overallStatus: args.status,
      sort: '-createdAt',
    });
    const shown = page.resources.length;
    const what = args.status ? `${args.status} refreshes` : 'refreshes';
    return {
      title: `CCKM DSM ${what} on ${ctx.target}`,
      lines:
        shown > 0
          ? page.resources.map(refreshLine)
          : [`no ${what}${args.skip > 0 ? ` past --skip ${args.skip}` : ''}`],
      footer: pageFooter(args, shown, page.total),
    };
  },
};

/** "showing 1–10 of 42 · next: --skip 10", keeping the options that shaped this page. */
function pageFooter(args: RefreshStatusArgs, shown: number, total: number | undefined): string | undefined {
  if (shown === 0) return total ? `there are ${total}; try --skip 0` : undefined;
  const range = `showing ${args.skip + 1}–${args.skip + shown}${total === undefined ? '' : ` of ${total}`}`;
  const more = total === undefined ? shown === args.limit : args.skip + shown < total;
  if (!more) return range;
  const keep = [
    args.status ? `--status ${args.status}` : '',
    args.limit !== DEFAULT_LIMIT ? `--limit ${args.limit}` : '',
  ].filter(Boolean);
  return `${range} · next: ${[`--skip ${args.skip + shown}`, ...keep].join(' ')}`;
}
