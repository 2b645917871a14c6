/**
 * Slack's mrkdwn to safe HTML. Every piece of text is escaped before any tag is added, so what
 * the bot (or a vendor, through the bot) writes can never become markup on this page.
 * Reference: https://api.slack.com/reference/surfaces/formatting
 */

/** The shortcodes opsbot uses, and a few more that messages commonly carry. */
export const EMOJI = {
  alarm_clock: '⏰',
  arrows_counterclockwise: '🔄',
  bell: '🔔',
  black_circle: '⚫',
  blue_circle: '🔵',
  bulb: '💡',
  clock1: '🕐',
  construction: '🚧',
  eyes: '👀',
  fire: '🔥',
  gear: '⚙️',
  grey_question: '❔',
  heavy_check_mark: '✔️',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  information_source: 'ℹ️',
  key: '🔑',
  large_blue_circle: '🔵',
  large_green_circle: '🟢',
  large_orange_circle: '🟠',
  large_yellow_circle: '🟡',
  link: '🔗',
  lock: '🔒',
  mag: '🔍',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  octagonal_sign: '🛑',
  ok: '🆗',
  question: '❓',
  red_circle: '🔴',
  repeat: '🔁',
  rocket: '🚀',
  rotating_light: '🚨',
  stopwatch: '⏱️',
  tada: '🎉',
  thumbsup: '👍',
  unlock: '🔓',
  warning: '⚠️',
  white_check_mark: '✅',
  wrench: '🔧',
  x: '❌',
  zap: '⚡',
};

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text) {
  return String(text ?? '').replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

/** Slack escapes `&`, `<` and `>` in message text; a reader sees the characters. */
function unescapeSlack(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function emojify(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (match, name) =>
    Object.hasOwn(EMOJI, name) ? `<span class="emoji" title=":${name}:">${EMOJI[name]}</span>` : match,
  );
}

/** `plain_text` objects: escaped, with emoji shortcodes unless `emoji: false`. */
export function renderPlainText(text, emoji = true) {
  const html = escapeHtml(text);
  return emoji ? emojify(html) : html;
}

/**
 * @param {string} text mrkdwn as Slack receives it
 * @param {{ userName(id: string): string, channelName?(id: string): string, me: string }} ctx names
 *   for mentions, and who is looking
 * @returns {string} HTML
 */
export function renderMrkdwn(text, ctx) {
  // Pieces that are finished HTML wait in `held` behind a private-use marker, so later steps
  // (escaping, bold, emoji) never touch them.
  const held = [];
  const hold = (html) => `\uE000${held.push(html) - 1}\uE001`;
  let out = String(text ?? '');
  out = out.replace(/```([\s\S]*?)```/g, (_, code) =>
    hold(`<pre class="code-block">${escapeHtml(unescapeSlack(code.replace(/^\n/, '')))}</pre>`),
  );
  out = out.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHtml(unescapeSlack(code))}</code>`));
  out = out.replace(/<([^<>\n]+)>/g, (_, inner) => hold(renderAngle(inner, ctx)));
  out = escapeHtml(unescapeSlack(out));
  out = out.replace(/(^|[^\w*])\*([^*\s](?:[^*\n]*[^*\s])?)\*(?!\w)/g, '$1<strong>$2</strong>');
  out = out.replace(/(^|[^\w_])_([^_\s](?:[^_\n]*[^_\s])?)_(?!\w)/g, '$1<em>$2</em>');
  out = out.replace(/(^|[^\w~])~([^~\s](?:[^~\n]*[^~\s])?)~(?!\w)/g, '$1<del>$2</del>');
  out = emojify(out);
  out = quoteLines(out);
  // Held pieces may hold others (a link label with code in it): restore until none is left.
  for (let pass = 0; pass < 3 && out.includes('\uE000'); pass++) {
    out = out.replace(/\uE000(\d+)\uE001/g, (_, index) => held[Number(index)]);
  }
  return out;
}

/** Lines starting with `>` are a quote; the rest keep their line breaks. */
function quoteLines(html) {
  const parts = [];
  let quote = [];
  const flush = () => {
    if (quote.length > 0) parts.push(`<blockquote>${quote.join('<br>')}</blockquote>`);
    quote = [];
  };
  const lines = html.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.startsWith('&gt; ') || line === '&gt;') {
      quote.push(line.replace(/^&gt; ?/, ''));
      continue;
    }
    flush();
    parts.push(index < lines.length - 1 ? `${line}<br>` : line);
  }
  flush();
  return parts.join('');
}

/** `<@U123>`, `<#C123|name>`, `<!here>`, `<!date^…|fallback>`, `<https://…|label>`. */
function renderAngle(inner, ctx) {
  const [target, ...rest] = inner.split('|');
  const label = rest.length > 0 ? unescapeSlack(rest.join('|')) : undefined;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    const mine = id === ctx.me ? ' mention-me' : '';
    return `<span class="mention${mine}">@${escapeHtml(label ?? ctx.userName(id))}</span>`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return `<span class="mention">#${escapeHtml(label ?? ctx.channelName?.(id) ?? id)}</span>`;
  }
  if (target.startsWith('!date^')) return renderDate(target, label);
  if (target.startsWith('!subteam^')) return `<span class="mention">${escapeHtml(label ?? '@group')}</span>`;
  if (target.startsWith('!')) return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
  const url = unescapeSlack(target);
  if (/^(https?:|mailto:)/i.test(url)) {
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(label ?? url)}</a>`;
  }
  return escapeHtml(label ?? url);
}

/**
 * `!date^1392734382^{date_short} at {time}^optional_link` with its fallback text, drawn in the
 * browser's own time zone as Slack draws it in each reader's. Every token Slack documents is known.
 */
function renderDate(target, fallback) {
  const [, seconds, format = '{date_short} {time}'] = target.split('^');
  const date = new Date(Number(seconds) * 1000);
  if (!/^\d+$/.test(seconds ?? '') || Number.isNaN(date.getTime())) return escapeHtml(fallback ?? '');
  const text = format.replace(/\{(\w+)\}/g, (match, token) => DATE_TOKENS[token]?.(date) ?? match);
  return `<time datetime="${date.toISOString()}" title="${escapeHtml(fallback ?? date.toString())}">${escapeHtml(text)}</time>`;
}

const day = (date, offset) => {
  const other = new Date();
  other.setDate(other.getDate() + offset);
  return date.toDateString() === other.toDateString();
};
const pretty = (format) => (date) =>
  day(date, 0) ? 'today' : day(date, -1) ? 'yesterday' : day(date, 1) ? 'tomorrow' : format(date);
const dateNum = (date) => date.toLocaleDateString('en-CA');
const dateMedium = (date) =>
  date.toLocaleDateString('en-US', { month: 'long', day: 'numeric', year: 'numeric' });
const dateShort = (date) =>
  date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', year: 'numeric' });
const dateLong = (date) =>
  date.toLocaleDateString('en-US', { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });
const dayDivider = (date) =>
  date.getFullYear() === new Date().getFullYear()
    ? date.toLocaleDateString('en-US', { weekday: 'long', month: 'long', day: 'numeric' })
    : dateLong(date);

const DATE_TOKENS = {
  date_num: dateNum,
  date_slash: (date) => date.toLocaleDateString('en-GB'),
  date: dateMedium,
  date_long_full: dateMedium,
  date_short: dateShort,
  date_long: dateLong,
  date_pretty: pretty(dateMedium),
  date_short_pretty: pretty(dateShort),
  date_long_pretty: pretty(dateLong),
  day_divider_pretty: pretty(dayDivider),
  time: (date) => date.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' }),
  time_secs: (date) =>
    date.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', second: '2-digit' }),
  ago: (date) => {
    const minutes = Math.round((Date.now() - date.getTime()) / 60_000);
    if (Math.abs(minutes) < 1) return 'just now';
    const words = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
    return Math.abs(minutes) < 60
      ? words.format(-minutes, 'minute')
      : words.format(-Math.round(minutes / 60), 'hour');
  },
};
