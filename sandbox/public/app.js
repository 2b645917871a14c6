import { buttonElements, renderMessageBody, textHtml } from './blocks.js';
import { escapeHtml } from './mrkdwn.js';

/**
 * The sandbox's chat page: one channel, a composer for slash commands, a user switcher, the
 * thread pane, confirm dialogs and the modals the bot opens. The server sends a snapshot of the
 * channel, then every change the current user may see (their ephemerals and modals included) as
 * Server-Sent Events; the page re-draws from that state.
 */

const $ = (id) => document.getElementById(id);

const state = {
  session: undefined,
  /** The pretend user this tab acts as. */
  me: undefined,
  /** ts → message, as the server sent it. */
  messages: new Map(),
  /** Notes from the page itself (a mistyped command, a failed request), per user. */
  notices: [],
  dismissed: new Set(),
  /** ts of the thread open in the side pane. */
  thread: undefined,
  /** The modal the bot opened for this user (views.open), while it is open. */
  view: undefined,
  typed: [],
  typedIndex: 0,
};
let events;

async function start() {
  const response = await fetch('/api/session');
  state.session = await response.json();
  const saved = sessionStorage.getItem('sandbox-user');
  state.me = state.session.users.some((user) => user.id === saved) ? saved : state.session.users[0].id;
  drawChrome();
  connect();
}

/** What a renderer needs: who is looking, and names for mentions. */
function context() {
  const names = new Map([[state.session.bot.id, state.session.bot.name]]);
  for (const user of state.session.users) names.set(user.id, user.name);
  const { channel } = state.session;
  return {
    me: state.me,
    userName: (id) => names.get(id) ?? id,
    channelName: (id) => (id === channel.id ? channel.name : id),
  };
}

// --- live updates ---------------------------------------------------------------------------

function connect() {
  events?.close();
  setConnection('connecting');
  events = new EventSource(`/api/events?user=${encodeURIComponent(state.me)}`);
  events.addEventListener('snapshot', (event) => {
    const snapshot = JSON.parse(event.data);
    // The snapshot holds no ephemeral message (a reload shows none, as in Slack); those this page
    // already shows stay through a reconnect.
    const ephemerals = [...state.messages.values()].filter((message) => message.ephemeral);
    state.messages = new Map([...snapshot.messages, ...ephemerals].map((message) => [message.ts, message]));
    showScenario(snapshot.scenario);
    // Drawn before saying "live", so whoever waits for "live" sees this user's channel.
    draw();
    setConnection('live');
  });
  events.addEventListener('message', (event) => {
    const message = JSON.parse(event.data);
    state.messages.set(message.ts, message);
    scheduleDraw();
  });
  events.addEventListener('view', (event) => openView(JSON.parse(event.data)));
  events.addEventListener('scenario', (event) => showScenario(JSON.parse(event.data).scenario));
  events.addEventListener('error', () => setConnection('reconnecting'));
}

function setConnection(status) {
  const node = $('connection');
  node.dataset.connection = status;
  node.textContent = status === 'live' ? 'live' : `${status}…`;
}

function draw() {
  drawChannel();
  drawThread();
}

/** Many events in a burst are drawn once, at the next frame. */
let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    draw();
  });
}

// --- drawing --------------------------------------------------------------------------------

function drawChrome() {
  const { session } = state;
  $('channel-name').textContent = session.channel.name;
  $('sidebar-channel').textContent = session.channel.name;
  const users = $('users');
  users.replaceChildren(
    ...session.users.map((user, index) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'user-choice';
      button.setAttribute('role', 'radio');
      button.dataset.user = user.id;
      button.setAttribute('aria-label', `${user.name}, ${user.role}`);
      button.innerHTML = `<span class="avatar avatar-${index}">${escapeHtml(user.name[0])}</span><span class="user-text"><span class="user-name">${escapeHtml(user.name)}</span><span class="user-role">${escapeHtml(user.role)}</span></span>`;
      return button;
    }),
  );
  const scenario = $('scenario');
  scenario.replaceChildren(
    ...session.scenarios.map(({ name }) => {
      const option = document.createElement('option');
      option.value = name;
      option.textContent = name;
      return option;
    }),
  );
  $('examples').replaceChildren(
    ...session.examples.map((example) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'example';
      button.dataset.command = example.command;
      button.innerHTML = `<code>${escapeHtml(example.command)}</code><span>${escapeHtml(example.note)}</span>`;
      item.append(button);
      return item;
    }),
  );
  showScenario(session.scenario);
  showMe();
}

function showMe() {
  const me = state.session.users.find((user) => user.id === state.me);
  for (const button of document.querySelectorAll('.user-choice')) {
    button.setAttribute('aria-checked', String(button.dataset.user === state.me));
  }
  $('me').textContent = me.name;
  $('composer-input').placeholder =
    `Message #${state.session.channel.name} as ${me.name}: try ${state.session.command} help`;
}

function showScenario(name) {
  state.session.scenario = name;
  $('scenario').value = name;
  $('scenario-text').textContent = state.session.scenarios.find((s) => s.name === name)?.description ?? '';
}

function byTs(a, b) {
  return a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0;
}

function repliesOf(rootTs) {
  return [...state.messages.values()].filter((m) => m.threadTs === rootTs).sort(byTs);
}

function drawChannel() {
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  const shown = [...state.messages.values()]
    .filter((m) => !m.dm && (!m.threadTs || m.broadcast) && !state.dismissed.has(m.ts))
    .concat(state.notices.filter((n) => n.to === state.me && !state.dismissed.has(n.ts)))
    .sort(byTs);
  list.replaceChildren(
    shown.length > 0 ? intro() : intro(true),
    ...shown.map((message) => drawMessage(message, { inThread: false })),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function intro(empty = false) {
  const node = document.createElement('div');
  node.className = 'channel-intro';
  node.innerHTML = `<h2>#${escapeHtml(state.session.channel.name)}</h2><p>The real opsbot, local vendor simulators, no Slack. ${
    empty
      ? `Type <code>${escapeHtml(state.session.command)} help</code> below, or pick a command on the left.`
      : ''
  }</p>`;
  return node;
}

/** The app's direct messages to this user (its Messages tab), oldest first. */
function directMessages() {
  return [...state.messages.values()].filter((m) => m.dm).sort(byTs);
}

function drawThread() {
  const pane = $('thread');
  const dms = directMessages();
  $('dm-count').textContent = dms.length > 0 ? String(dms.length) : '';
  if (state.thread === DMS) return drawDirectMessages(pane, dms);
  $('thread-title').textContent = 'Thread';
  const root = state.thread && state.messages.get(state.thread);
  pane.hidden = !root;
  if (!root) return;
  const replies = repliesOf(root.ts);
  const list = $('thread-messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  const divider = document.createElement('div');
  divider.className = 'thread-divider';
  divider.textContent = `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`;
  list.replaceChildren(
    drawMessage(root, { inThread: true }),
    divider,
    ...replies.map((reply) => drawMessage(reply, { inThread: true })),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** The side pane's other use: the app's direct messages to this user, in place of a thread. */
const DMS = 'dms';

function drawDirectMessages(pane, dms) {
  pane.hidden = false;
  $('thread-title').textContent = 'Direct messages · opsbot';
  const list = $('thread-messages');
  list.replaceChildren(
    ...(dms.length > 0
      ? dms.map((message) => drawMessage(message, { inThread: true }))
      : [html('div', 'thread-divider', 'No direct messages from opsbot yet.')]),
  );
  list.scrollTop = list.scrollHeight;
}

function drawMessage(message, { inThread }) {
  const ctx = context();
  const node = document.createElement('article');
  node.className = `message${message.ephemeral ? ' ephemeral' : ''}`;
  node.dataset.ts = message.ts;
  const fromBot = message.user === state.session.bot.id;
  const sender = message.from ?? (fromBot ? state.session.bot.name : ctx.userName(message.user));

  const avatar = document.createElement('div');
  avatar.className = `avatar ${fromBot ? 'avatar-bot' : 'avatar-slackbot'}`;
  avatar.textContent = fromBot ? '⚙' : '✱';

  const content = document.createElement('div');
  content.className = 'message-content';
  if (message.ephemeral) {
    content.append(html('div', 'ephemeral-note', '<span aria-hidden="true">👁</span> Only visible to you'));
  }
  const time = tsDate(message.ts);
  content.append(
    html(
      'div',
      'message-meta',
      `<span class="sender">${escapeHtml(sender)}</span>${fromBot ? '<span class="badge">APP</span>' : ''}<time datetime="${time.toISOString()}" title="${escapeHtml(time.toString())}">${escapeHtml(shortTime(time))}</time>`,
    ),
  );
  if (message.threadTs && message.broadcast) {
    const note = html(
      'div',
      'broadcast-note',
      inThread ? 'Also sent to the channel' : 'replied to a thread: ',
    );
    if (!inThread) note.append(threadLink(message.threadTs, 'View thread'));
    content.append(note);
  }
  const body = renderMessageBody(message, ctx);
  // Slack writes "(edited)" after the message's last line.
  if (message.edited) (body.lastElementChild ?? body).append(html('span', 'edited', '(edited)'));
  content.append(body);

  if (message.ephemeral) {
    const dismiss = html('button', 'dismiss', 'Dismiss message');
    dismiss.type = 'button';
    dismiss.dataset.dismiss = message.ts;
    content.append(dismiss);
  }
  if (!inThread && !message.threadTs && !message.ephemeral) {
    const replies = repliesOf(message.ts);
    if (replies.length > 0) {
      const summary = html('div', 'thread-summary', '');
      summary.append(
        threadLink(message.ts, `${replies.length} ${replies.length === 1 ? 'reply' : 'replies'}`),
      );
      summary.append(
        html('span', 'last-reply', `Last reply ${escapeHtml(shortTime(tsDate(replies.at(-1).ts)))}`),
      );
      content.append(summary);
    }
  }
  node.append(avatar, content);
  return node;
}

function threadLink(rootTs, label) {
  const link = html('button', 'thread-link', escapeHtml(label));
  link.type = 'button';
  link.dataset.thread = rootTs;
  return link;
}

function html(tag, className, inner) {
  const node = document.createElement(tag);
  node.className = className;
  node.innerHTML = inner;
  return node;
}

function tsDate(ts) {
  return new Date(Number(ts.split('.')[0]) * 1000);
}

function shortTime(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A note from the page itself, drawn like Slackbot's "only visible to you" answers. */
function notice(text) {
  const micros = String(Date.now() * 1000);
  state.notices.push({
    ts: `${micros.slice(0, -6)}.${micros.slice(-6)}n${state.notices.length}`,
    to: state.me,
    from: 'Slackbot',
    user: 'USLACKBOT',
    text,
    ephemeral: true,
  });
  scheduleDraw();
}

// --- doing things ---------------------------------------------------------------------------

async function post(path, body) {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    return response.ok
      ? { ok: true, ...answer }
      : { ok: false, error: answer.error ?? `HTTP ${response.status}` };
  } catch (error) {
    return { ok: false, error: `the sandbox did not answer (${error.message})` };
  }
}

async function sendCommand(text) {
  state.typed.push(text);
  state.typedIndex = state.typed.length;
  if (!text.startsWith('/')) {
    notice(`The sandbox only runs slash commands: try \`${state.session.command} help\`.`);
    return;
  }
  const sent = await post('/api/command', { user: state.me, text });
  if (!sent.ok) notice(`:warning: ${sent.error}`);
}

async function clickButton(button) {
  const item = buttonElements.get(button);
  if (!item || button.disabled) return;
  if (item.confirm && !(await confirmDialog(item.confirm))) return;
  button.disabled = true;
  button.classList.add('busy');
  const sent = await post('/api/click', {
    user: state.me,
    ts: item.messageTs,
    actionId: item.action_id,
    value: item.value,
  });
  button.disabled = false;
  button.classList.remove('busy');
  if (!sent.ok) notice(`:warning: ${sent.error}`);
}

/** Slack's confirm dialog for a button: resolves true on confirm, false on deny or Escape. */
function confirmDialog(confirm) {
  const ctx = context();
  const dialog = $('confirm');
  $('confirm-title').innerHTML = textHtml(
    confirm.title ?? { type: 'plain_text', text: 'Are you sure?' },
    ctx,
  );
  $('confirm-text').innerHTML = textHtml(confirm.text, ctx);
  const ok = $('confirm-ok');
  const deny = $('confirm-deny');
  ok.innerHTML = textHtml(confirm.confirm ?? { type: 'plain_text', text: 'Yes' }, ctx);
  deny.innerHTML = textHtml(confirm.deny ?? { type: 'plain_text', text: 'Cancel' }, ctx);
  ok.className = `bk-button ${confirm.style === 'danger' ? 'danger' : 'primary'}`;
  dialog.hidden = false;
  ok.focus();
  return new Promise((resolve) => {
    const close = (answer) => {
      dialog.hidden = true;
      ok.removeEventListener('click', onOk);
      deny.removeEventListener('click', onDeny);
      dialog.removeEventListener('keydown', onKey);
      dialog.removeEventListener('click', onBackdrop);
      resolve(answer);
    };
    const onOk = () => close(true);
    const onDeny = () => close(false);
    const onKey = (event) => event.key === 'Escape' && close(false);
    const onBackdrop = (event) => event.target === dialog && close(false);
    ok.addEventListener('click', onOk);
    deny.addEventListener('click', onDeny);
    dialog.addEventListener('keydown', onKey);
    dialog.addEventListener('click', onBackdrop);
  });
}

/** A modal the bot opened, drawn as Slack draws one, until it is submitted or closed. */
function openView(view) {
  const ctx = context();
  state.view = view;
  $('view-title').innerHTML = textHtml(view.title, ctx);
  $('view-body').replaceChildren(renderMessageBody({ blocks: view.blocks, text: '', ts: '' }, ctx));
  $('view-submit').innerHTML = textHtml(view.submit ?? { type: 'plain_text', text: 'Submit' }, ctx);
  $('view-close').innerHTML = textHtml(view.close ?? { type: 'plain_text', text: 'Cancel' }, ctx);
  $('view').hidden = false;
  $('view-body').querySelector('.input-box')?.focus();
}

function closeView() {
  state.view = undefined;
  $('view').hidden = true;
}

/**
 * Submits the open modal with what was typed, as Slack does. The bot answers with errors (shown
 * under their inputs, the modal staying open) or closes it.
 */
async function submitView() {
  const { view } = state;
  if (!view) return;
  const inputs = [...$('view-body').querySelectorAll('.block-input')];
  const values = Object.fromEntries(
    inputs.map((block) => [block.dataset.blockId, block.querySelector('.input-box')?.value ?? '']),
  );
  const submit = $('view-submit');
  submit.disabled = true;
  submit.classList.add('busy');
  const sent = await post('/api/submit', { user: state.me, viewId: view.id, values });
  submit.disabled = false;
  submit.classList.remove('busy');
  if (state.view !== view) return;
  if (!sent.ok || sent.closed) {
    closeView();
    if (!sent.ok) notice(`:warning: ${sent.error}`);
    return;
  }
  for (const block of inputs) {
    block.querySelector('.input-error').textContent = sent.errors[block.dataset.blockId] ?? '';
  }
}

function switchUser(id) {
  if (id === state.me) return;
  // A modal is its user's alone, as in Slack.
  closeView();
  state.me = id;
  sessionStorage.setItem('sandbox-user', id);
  // Nothing of the previous user's view stays on screen (their ephemerals are theirs only).
  state.messages = new Map();
  showMe();
  draw();
  connect();
}

document.addEventListener('click', (event) => {
  const target = event.target.closest('button');
  if (!target) return;
  if (target.classList.contains('bk-button') && buttonElements.has(target)) return void clickButton(target);
  if (target.dataset.thread) {
    state.thread = target.dataset.thread;
    return scheduleDraw();
  }
  if (target.dataset.dms) {
    state.thread = DMS;
    return scheduleDraw();
  }
  if (target.dataset.dismiss) {
    state.dismissed.add(target.dataset.dismiss);
    return scheduleDraw();
  }
  if (target.dataset.user) return switchUser(target.dataset.user);
  if (target.dataset.command) {
    const input = $('composer-input');
    input.value = target.dataset.command;
    input.focus();
  }
});

$('view-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void submitView();
});
$('view-close').addEventListener('click', closeView);
$('view').addEventListener('keydown', (event) => event.key === 'Escape' && closeView());

$('thread-close').addEventListener('click', () => {
  state.thread = undefined;
  scheduleDraw();
});

$('scenario').addEventListener('change', async (event) => {
  const sent = await post('/api/scenario', { scenario: event.target.value });
  if (!sent.ok) notice(`:warning: ${sent.error}`);
});

$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('composer-input');
  const text = input.value.trim();
  input.value = '';
  if (text) void sendCommand(text);
});

// Up and down walk through what was typed, as in a shell.
$('composer-input').addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowUp' && event.key !== 'ArrowDown') return;
  if (state.typed.length === 0) return;
  event.preventDefault();
  const step = event.key === 'ArrowUp' ? -1 : 1;
  state.typedIndex = Math.min(state.typed.length, Math.max(0, state.typedIndex + step));
  event.target.value = state.typed[state.typedIndex] ?? '';
});

start().catch((error) => {
  setConnection('failed');
  $('messages').textContent = `Could not load the sandbox: ${error.message}`;
});
