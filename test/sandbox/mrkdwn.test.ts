import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeMrkdwn, slackDate } from '../../src/slack/mrkdwn.js';

/**
 * The sandbox page's mrkdwn renderer (`sandbox/public/mrkdwn.js`, plain browser JavaScript) on
 * what opsbot sends: date tokens drawn in the reader's own time zone, escaped text shown as typed.
 * It runs here under a time zone far from UTC, as a browser there would run it.
 */

interface PageRenderer {
  renderMrkdwn(text: string, ctx: { me: string; userName(id: string): string }): string;
}

const ctx = { me: 'U0SBBOB', userName: (id: string) => id };
const NOV_14_2023_22_13_UTC = Date.UTC(2023, 10, 14, 22, 13, 20);
let renderMrkdwn: PageRenderer['renderMrkdwn'];
const zone = process.env.TZ;

beforeAll(async () => {
  process.env.TZ = 'Asia/Kolkata'; // UTC+5:30: 22:13 UTC is 03:43 the next day
  const page = new URL('../../sandbox/public/mrkdwn.js', import.meta.url).href;
  ({ renderMrkdwn } = (await import(page)) as PageRenderer);
});
afterAll(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe('the sandbox page renders', () => {
  it("opsbot's date token whole, in the reader's time zone, with the UTC fallback as its title", () => {
    const html = renderMrkdwn(`expires ${slackDate(NOV_14_2023_22_13_UTC)}`, ctx);
    expect(html).toBe(
      'expires <time datetime="2023-11-14T22:13:20.000Z" title="2023-11-14 22:13 UTC">Nov 15, 2023 3:43 AM</time>',
    );
  });

  it('every date format Slack documents, none left as a raw {token}', () => {
    const tokens = [
      'date_num',
      'date_slash',
      'date',
      'date_short',
      'date_long',
      'date_long_full',
      'date_pretty',
      'date_short_pretty',
      'date_long_pretty',
      'day_divider_pretty',
      'time',
      'time_secs',
    ];
    const html = renderMrkdwn(
      `<!date^1700000000^${tokens.map((token) => `{${token}}`).join(' / ')}|fallback>`,
      ctx,
    );
    expect(html).not.toMatch(/\{\w+\}/);
    expect(html).toContain(
      '2023-11-15 / 15/11/2023 / November 15, 2023 / Nov 15, 2023 / Wednesday, November 15, 2023',
    );
    expect(html).toContain('3:43 AM / 3:43:20 AM</time>');
  });

  it('escaped text as typed: no mention, no link, no markup', () => {
    const html = renderMrkdwn(escapeMrkdwn('<!channel> <https://evil|x> <script>'), ctx);
    expect(html).toBe('&lt;!channel&gt; &lt;https://evil|x&gt; &lt;script&gt;');
  });
});
