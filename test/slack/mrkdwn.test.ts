import { describe, expect, it } from 'vitest';
import { clipMrkdwn, escapeMrkdwn, excerpt, plainLine, slackDate } from '../../src/slack/mrkdwn.js';

const NOV_14_2023_22_13_UTC = Date.UTC(2023, 10, 14, 22, 13, 20);

describe('escapeMrkdwn', () => {
  it('escapes exactly &, < and >, so mentions and links show as typed', () => {
    expect(escapeMrkdwn('<!channel> & <https://evil|click here> *bold* `code`')).toBe(
      '&lt;!channel&gt; &amp; &lt;https://evil|click here&gt; *bold* `code`',
    );
    expect(escapeMrkdwn('&lt;')).toBe('&amp;lt;');
  });
});

describe('excerpt', () => {
  it('keeps short input as typed, escaped', () => {
    expect(excerpt('<script>')).toBe('&lt;script&gt;');
  });

  it('cuts long input to 40 characters with an ellipsis, before escaping', () => {
    const long = `${'<'.repeat(45)}`;
    expect(excerpt(long)).toBe(`${'&lt;'.repeat(39)}…`);
    expect(Array.from(excerpt('x'.repeat(5_000)))).toHaveLength(40);
  });

  it('never splits a character made of two code units', () => {
    expect(excerpt('🚀'.repeat(50), 3)).toBe('🚀🚀…');
  });

  it('shows control characters as ? (a newline could start a quote block)', () => {
    expect(excerpt('a\n> b\u0007')).toBe('a?&gt; b?');
  });
});

describe('slackDate', () => {
  it('is a date token every reader sees in their own zone, with a fallback that says UTC', () => {
    expect(slackDate(NOV_14_2023_22_13_UTC)).toBe(
      '<!date^1700000000^{date_short_pretty} {time}|2023-11-14 22:13 UTC>',
    );
  });
});

describe('plainLine', () => {
  it('escapes the text of a line and turns its instants into date tokens', () => {
    expect(plainLine('a <b> & c')).toBe('a &lt;b&gt; &amp; c');
    expect(plainLine(['ended <x> ', { at: NOV_14_2023_22_13_UTC }])).toBe(
      `ended &lt;x&gt; ${slackDate(NOV_14_2023_22_13_UTC)}`,
    );
  });
});

describe('clipMrkdwn', () => {
  it('leaves text that fits alone', () => {
    expect(clipMrkdwn('short', 10)).toBe('short');
  });

  it('never leaves half an escape or half a token at the cut', () => {
    expect(clipMrkdwn('abc &amp; def', 8)).toBe('abc …');
    expect(clipMrkdwn(`expires ${slackDate(NOV_14_2023_22_13_UTC)}`, 30)).toBe('expires …');
    expect(clipMrkdwn('abcdefghij', 5)).toBe('abcd…');
  });
});
