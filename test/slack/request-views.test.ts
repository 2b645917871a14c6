import { describe, expect, it } from 'vitest';
import type { OpsRequest, TimelineEvent } from '../../src/requests/types.js';
import { slackDate } from '../../src/slack/mrkdwn.js';
import { historyMessage, statusMessage } from '../../src/slack/request-views.js';

/** `/ops status` and `/ops history` views, read as their rendered text. */

const T0 = Date.UTC(2025, 4, 1, 10, 0, 0);

const request: OpsRequest = {
  id: 'op-7k3m9q',
  actionId: 'cckm.dsm.refresh',
  vendor: 'cckm',
  target: 'prod',
  args: {},
  summary: { fields: [], warnings: [] },
  channel: 'C0OPSCHAN1',
  requester: 'U0REQUEST1',
  createdAt: T0,
  expiresAt: T0 + 900_000,
  highRisk: false,
  state: 'succeeded',
  version: 9,
  approver: 'U0APPROVE1',
  phase: 'done',
  progress: { outcome: 'succeeded', vendorJobId: 'r-1', status: 'completed', memo: null },
  reported: 40,
  faults: 0,
  fence: 0,
  votes: [],
  correlationId: 'c1',
};

/** A long refresh: requested, approved, started, submitted, 40 statuses, a cancel asked, succeeded. */
function longTimeline(): TimelineEvent[] {
  const events: Array<[kind: string, text: string, actor?: string]> = [
    ['requested', 'requested', 'U0REQUEST1'],
    ['approved', 'approved', 'U0APPROVE1'],
    ['running', 'started'],
    ['vendor-call', 'calling cckm'],
    ['submitted', 'submitted, vendor job r-1: in_progress'],
    ...Array.from({ length: 40 }, (_, i): [string, string] => [
      'status',
      `in_progress: ${i + 1} of 40 domains finished`,
    ]),
    ['cancel-requested', 'asked to cancel', 'U0REQUEST1'],
    ['succeeded', 'succeeded'],
  ];
  return events.map(([kind, text, actor], i) => ({
    at: T0 + (i + 1) * 60_000,
    kind,
    text,
    ...(actor ? { actor } : {}),
  }));
}

describe('/ops status', () => {
  it('keeps who requested and approved, the submission and the end of a long request, and says what it left out', () => {
    const timeline = longTimeline();
    const text = statusMessage(request, timeline, undefined).text;
    expect(text).toContain('<@U0REQUEST1> requested');
    expect(text).toContain('<@U0APPROVE1> approved');
    expect(text).toContain('submitted, vendor job r-1');
    expect(text).toContain('<@U0REQUEST1> asked to cancel');
    expect(text).toMatch(/· succeeded$/m);
    const entries = text.split('\n').filter((line) => line.startsWith('<!date^'));
    expect(entries).toHaveLength(15);
    // The routine entries shown are the newest, the rest counted.
    expect(text).toContain('40 of 40 domains finished');
    expect(text).not.toContain(': 30 of 40 domains');
    expect(text).toContain(`_… ${timeline.length - 15} routine status entries not shown_`);
  });

  it('shows a short timeline whole, with nothing said about left-out entries', () => {
    const timeline = longTimeline().slice(0, 6);
    const text = statusMessage(request, timeline, undefined).text;
    expect(text.split('\n').filter((line) => line.startsWith('<!date^'))).toHaveLength(6);
    expect(text).not.toContain('not shown');
  });

  it('dates every entry and the request with a date token, and escapes what vendors wrote', () => {
    const timeline: TimelineEvent[] = [
      { at: T0, kind: 'requested', actor: 'U0REQUEST1', text: 'requested' },
      { at: T0 + 5_000, kind: 'failed', text: 'CipherTrust said <!channel> <https://evil|x>' },
    ];
    const text = statusMessage(
      { ...request, state: 'failed', outcome: 'CipherTrust said <!channel>' },
      timeline,
      'https://sandbox.slack.local/archives/C0OPSCHAN1/p1',
    ).text;
    expect(text).toContain(`asked by <@U0REQUEST1> · ${slackDate(T0)}`);
    expect(text).toContain(
      `${slackDate(T0 + 5_000)} · CipherTrust said &lt;!channel&gt; &lt;https://evil|x&gt;`,
    );
    expect(text).not.toMatch(/<!channel>|<https:\/\/evil/);
    expect(text).toContain('<https://sandbox.slack.local/archives/C0OPSCHAN1/p1|Open the thread>');
  });

  it('says a running action is being tried again, as its root does, and not once it ended', () => {
    const retrying = 'Retrying (attempt 3 of 6): CipherTrust is unavailable or busy (HTTP 502) <!here>';
    const running = statusMessage(
      { ...request, state: 'running', outcome: undefined, retrying },
      longTimeline(),
      undefined,
    ).text;
    expect(running).toContain(
      ':repeat: Retrying (attempt 3 of 6): CipherTrust is unavailable or busy (HTTP 502) &lt;!here&gt;',
    );
    expect(statusMessage({ ...request, retrying }, longTimeline(), undefined).text).not.toContain('Retrying');
  });
});

describe('/ops history', () => {
  it('dates each request with a date token', () => {
    const text = historyMessage([request], 'in this channel').text;
    expect(text).toContain(
      `\`op-7k3m9q\` succeeded · cckm.dsm.refresh \`prod\` · <@U0REQUEST1> · ${slackDate(T0)}`,
    );
  });
});
