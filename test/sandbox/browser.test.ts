import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../sandbox/sandbox.js';

/**
 * The sandbox as a person uses it, in a real headless Chromium: type `/ops …` in the page,
 * switch users, click the approval message's buttons, answer confirm dialogs, and watch the
 * thread. Behind the page runs the real bot against the vendor simulators and the fake Slack.
 */

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = 'test-artifacts';
const DEPLOYMENT = 'kvyxph9w5h3o9vgk8dixn';
const SERVER = '25b1dd14-0c84-4558-aa57-03a6c54b8e75';
const ECE_DEPLOYMENT = '3f5a9c0e2b7d4e1f8a6b5c4d3e2f1a0b';
/** The ECE deployment Bob holds a sticky lock on (sandbox/calendar.ts). */
const LOCKED_DEPLOYMENT = '9d2c41e07b8a4f5e9c3d2b1a0f8e7d6c';
/** A CipherTrust domain: CCKM is in the sandbox's change freeze. */
const DOMAIN = '6070915c-0ab4-4e7e-bf4d-31dd31214874';
/** Long enough for a whole action (a few seconds of polls, Slack paced at 1 message a second). */
const ACTION_TIMEOUT = 30_000;

let sandbox: Sandbox;
let browser: BrowserContext;
let page: Page;
let profile: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  sandbox = await startSandbox({
    port: 0,
    redisUrl: inject('redisUrl'),
    redisPrefix: `t${randomBytes(5).toString('hex')}`,
    log: pino({ level: 'silent' }),
  });
  profile = mkdtempSync(join(tmpdir(), 'opsbot-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: inject('chromiumPath'),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(sandbox.url);
  await live();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sandbox?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Waits until the page has its snapshot of the channel and is following changes. */
async function live(): Promise<void> {
  await page.locator('#connection[data-connection="live"]').waitFor();
}

async function actAs(name: 'Alice' | 'Bob' | 'Carol' | 'Dave'): Promise<void> {
  await page.getByRole('radio', { name: new RegExp(`^${name}`) }).click();
  await live();
}

async function type(command: string): Promise<void> {
  const input = page.locator('#composer-input');
  await input.fill(command);
  await input.press('Enter');
}

/** A message in the channel (not in a thread) that shows `text`. */
function inChannel(text: string | RegExp): Locator {
  return page.locator('#messages > article.message', { hasText: text });
}

/** The approval message (the thread root) of the request that shows `text`. */
function approvalMessage(text: string): Locator {
  return page
    .locator('#messages > article.message:not(.ephemeral)', { hasText: text })
    .filter({ has: page.locator('.block-context', { hasText: '/ops status op-' }) });
}

/** The text a person sees in the page (Playwright's innerText, not the DOM's text content). */
function shown(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: what is rendered is what these tests check
  return locator.innerText();
}

function ephemeral(text: string): Locator {
  return page.locator('#messages > article.message.ephemeral', { hasText: text });
}

describe('the sandbox page in a browser', () => {
  it('runs an ArcGIS refresh: Alice asks, Bob approves, the thread ends with Succeeded', async () => {
    await actAs('Alice');
    await type(`/ops arcgis refresh-deployment ${DEPLOYMENT}`);
    const root = approvalMessage('arcgis.deployment.refresh');
    await root.getByRole('button', { name: 'Approve' }).waitFor();
    const asked = await shown(root);
    expect(asked).toContain('requested by @Alice');
    expect(asked).toContain('⏳ Waiting for approval');
    expect(await root.locator('.section-field').count()).toBeGreaterThan(0);
    expect(await root.locator('.bk-button.primary', { hasText: 'Approve' }).count()).toBe(1);

    await actAs('Bob');
    await root.getByRole('button', { name: 'Approve' }).click();

    await root.filter({ hasText: 'Succeeded' }).waitFor({ timeout: ACTION_TIMEOUT });
    const done = await shown(root);
    expect(done).toContain('🟢 Succeeded');
    expect(done).toContain('approved by @Bob');
    expect(done).toContain('(edited)');
    expect(await root.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    await root.getByRole('button', { name: /\d+ repl(y|ies)/ }).click();
    const thread = page.locator('#thread');
    const last = thread.locator('article.message').last();
    await last.filter({ hasText: 'Succeeded' }).waitFor();
    const threadText = await shown(thread);
    expect(threadText).toContain('🚀 Submitted to arcgis/lab');
    expect(threadText).toContain('Status EXECUTING');
    // After the vendor's own end its result speaks; its last status is not repeated.
    expect(await shown(last)).toContain('Vendor job');
    expect(await shown(last)).not.toContain('last status');
    // mrkdwn is drawn, not shown raw: bold, code and emoji.
    expect(await last.locator('strong', { hasText: 'Succeeded' }).count()).toBe(1);
    expect(await last.locator('code').count()).toBeGreaterThan(0);
    expect(threadText).not.toContain(':large_green_circle:');

    await page.screenshot({ path: join(ARTIFACTS, 'sandbox-thread.png') });
    await thread.getByRole('button', { name: 'Close thread' }).click();
  }, 45_000);

  it('asks to confirm a high-risk reinstall, refuses self-approval, and shows refusals only to whoever clicked', async () => {
    await actAs('Carol');
    await type(`/ops workspace reinstall ${SERVER} --update-agent`);
    const carolsNote = ephemeral('not allowed to request workspace.server.reinstall');
    await carolsNote.waitFor();
    expect(await shown(carolsNote)).toContain('Only visible to you');

    await actAs('Alice');
    expect(await carolsNote.count()).toBe(0);
    await type(`/ops workspace reinstall ${SERVER} --update-agent`);
    const root = approvalMessage(SERVER);
    await root.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await shown(root)).toContain('🔒 High-risk: a second person must approve.');

    await root.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await shown(dialog.getByRole('heading'))).toBe('Run a high-risk action?');
    expect(await shown(dialog)).toContain('You are approving workspace.server.reinstall');
    expect(await dialog.locator('.bk-button.danger', { hasText: 'Approve and run' }).count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'sandbox-confirm.png') });
    await dialog.getByRole('button', { name: 'Approve and run' }).click();
    // Four eyes, as the README's tour shows it (step 5): Alice may approve, but not her own high-risk request.
    const refusal = ephemeral('someone other than the requester must approve');
    await refusal.waitFor();
    expect(await shown(refusal)).toContain(
      'You asked for it, and four eyes apply: someone other than the requester must approve it.',
    );
    expect(await root.getByRole('button', { name: 'Approve' }).count()).toBe(1);

    await actAs('Bob');
    expect(await refusal.count()).toBe(0);
    await root.getByRole('button', { name: 'Approve' }).click();
    await dialog.getByRole('button', { name: 'Back' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await shown(root)).toContain('Waiting for approval');

    await root.getByRole('button', { name: 'Approve' }).click();
    await dialog.getByRole('button', { name: 'Approve and run' }).click();
    const finished = approvalMessage(SERVER).filter({ hasText: 'Succeeded' });
    await finished.waitFor({ timeout: ACTION_TIMEOUT });
    expect(await shown(finished)).toContain('approved by @Bob');
  }, 45_000);

  it('runs a prod restart only once @sre and @security have both approved, showing the tally', async () => {
    await actAs('Alice');
    // A prod restart needs a ticket in its reason: without one it is refused, saying how.
    await type(`/ops ece restart ${ECE_DEPLOYMENT} kibana --target prod`);
    const needsReason = ephemeral('needs a reason');
    await needsReason.waitFor();
    expect(await shown(needsReason)).toContain('--reason');
    await type(`/ops ece restart ${ECE_DEPLOYMENT} kibana --target prod --reason "OPS-123 Kibana stuck"`);
    const root = approvalMessage('ece/prod');
    await root.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await shown(root)).toContain('Approvals: 0 of 2 · still needs @sre and @security');
    expect(await shown(root)).toContain('OPS-123 Kibana stuck');
    const approve = async () => {
      await root.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Approve and run' }).click();
    };

    await actAs('Bob');
    await approve();
    const counted = ephemeral('Your approval counts');
    await counted.waitFor();
    expect(await shown(counted)).toContain('1 of 2 · still needs @security');
    await root.filter({ hasText: 'Approvals: 1 of 2 · still needs @security' }).waitFor();

    await actAs('Dave');
    await approve();
    const finished = approvalMessage('ece/prod').filter({ hasText: 'Succeeded' });
    await finished.waitFor({ timeout: ACTION_TIMEOUT });
    expect(await shown(finished)).toContain('approved by @Bob, @Dave');
  }, 60_000);

  it('refuses a CCKM refresh in the change freeze, and runs it as break-glass once @security approves too', async () => {
    // Shown from the start: Alice's refresh scheduled a minute ahead, and Bob's lock on an ECE deployment.
    expect(await shown(approvalMessage('arcgis.groups.refresh'))).toContain('Scheduled for');
    await actAs('Alice');
    await type(`/ops ece restart ${LOCKED_DEPLOYMENT} integrations_server --target lab`);
    const locked = ephemeral('is locked by');
    await locked.waitFor();
    expect(await shown(locked)).toContain('locked by @Bob');
    expect(await shown(locked)).toContain('upgrading Kibana plugins');

    await type(`/ops cckm refresh ${DOMAIN}`);
    const frozen = ephemeral('is in a change freeze');
    await frozen.waitFor();
    expect(await shown(frozen)).toContain('quarter-close');
    expect(await shown(frozen)).toContain('add --override --reason');

    await type(`/ops cckm refresh ${DOMAIN} --override --reason "OPS-77 key compromise"`);
    const root = approvalMessage('cckm.dsm.refresh');
    await root.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await shown(root)).toContain('Break-glass during change freeze quarter-close');
    expect(await shown(root)).toContain('still needs @sre and @security (break-glass)');

    await actAs('Bob');
    await root.getByRole('button', { name: 'Approve' }).click();
    await root.filter({ hasText: 'still needs @security (break-glass)' }).waitFor();
    await actAs('Dave');
    await root.getByRole('button', { name: 'Approve' }).click();
    const finished = approvalMessage('cckm.dsm.refresh').filter({ hasText: 'Succeeded' });
    await finished.waitFor({ timeout: ACTION_TIMEOUT });
    expect(await shown(finished)).toContain('approved by @Bob, @Dave');
  }, 60_000);

  it('tells Bob by direct message when Alice takes his lock over, and Alice how her requests went', async () => {
    await actAs('Alice');
    await type(`/ops lock ece.lab ${LOCKED_DEPLOYMENT} --take-over --reason "OPS-88 hotfix"`);
    await ephemeral('taken over from @Bob').waitFor();

    await actAs('Bob');
    await page.getByRole('button', { name: /^opsbot/ }).click();
    await page.locator('#thread-title', { hasText: 'Direct messages · opsbot' }).waitFor();
    const told = page.locator('#thread-messages article.message', { hasText: 'was taken over by' });
    await told.waitFor();
    expect(await shown(told)).toContain(
      `Your lock on ${LOCKED_DEPLOYMENT} on ece/lab (“upgrading Kibana plugins”) was taken over by @Alice`,
    );
    expect(await shown(told)).toContain('“OPS-88 hotfix”');
    // A DM is not in the channel.
    expect(await inChannel('was taken over by').count()).toBe(0);

    // Alice asked for the refreshes above: she was told of each approval and end.
    await actAs('Alice');
    const hers = page.locator('#thread-messages article.message', { hasText: 'Succeeded' });
    await hers.first().waitFor();
    expect(await shown(page.locator('#thread-messages'))).toContain('Approved by @Bob');
    // Each names its request's channel, as Slack draws a channel mention.
    expect(await shown(hers.first())).toContain('in #ops-sandbox)');
    await page.screenshot({ path: join(ARTIFACTS, 'sandbox-dms.png') });
    await page.locator('#thread-close').click();
  }, 45_000);

  it('asks why in a dialog on Reject: a refusal shows in the dialog, a rejection on the root and in the thread', async () => {
    await actAs('Alice');
    await type(`/ops arcgis refresh-deployment ${DEPLOYMENT} --reason "OPS-7 certificate rotation"`);
    const root = approvalMessage('OPS-7 certificate rotation');
    await root.getByRole('button', { name: 'Reject' }).waitFor();
    expect(await shown(root)).toContain('Reason\nOPS-7 certificate rotation');
    const dialog = page.getByRole('dialog', { name: 'Reject request' });
    const why = dialog.getByRole('textbox', { name: 'Why are you rejecting it?' });

    // Carol may not approve, so she may not reject: she is told so in the dialog, which stays open.
    await actAs('Carol');
    await root.getByRole('button', { name: 'Reject' }).click();
    await why.fill('I would rather not');
    await dialog.getByRole('button', { name: 'Reject' }).click();
    const refusal = dialog.getByRole('alert');
    await refusal.filter({ hasText: 'Only an approver' }).waitFor();
    expect(await shown(refusal)).toBe(
      'Only an approver of arcgis.deployment.refresh can reject it. Nothing was changed.',
    );
    await dialog.getByRole('button', { name: 'Back' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await shown(root)).toContain('Waiting for approval');

    await actAs('Bob');
    await root.getByRole('button', { name: 'Reject' }).click();
    await why.fill('Not during the <b>freeze</b> & not today');
    await page.screenshot({ path: join(ARTIFACTS, 'sandbox-reject.png') });
    await dialog.getByRole('button', { name: 'Reject' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const rejected = root.filter({ hasText: 'Rejected' });
    await rejected.waitFor();
    expect(await shown(rejected)).toContain(
      '⛔ Rejected by @Bob · “Not during the <b>freeze</b> & not today”',
    );
    expect(await root.getByRole('button', { name: 'Reject' }).count()).toBe(0);
    await root.getByRole('button', { name: /\d+ repl(y|ies)/ }).click();
    const thread = page.locator('#thread');
    await thread.locator('article.message', { hasText: 'rejected it' }).waitFor();
    expect(await shown(thread)).toContain('@Bob rejected it: “Not during the <b>freeze</b> & not today”');
    expect(await page.locator('#messages b, #thread b').count()).toBe(0);
    await thread.getByRole('button', { name: 'Close thread' }).click();
  }, 45_000);

  it('switches every simulator to the failure scenario from the page, and shows the failure in the channel', async () => {
    await page.locator('#scenario').selectOption('failure');
    await page.locator('#scenario-text', { hasText: 'end failed' }).waitFor();
    expect(sandbox.scenario).toBe('failure');

    await actAs('Alice');
    await type(`/ops ece restart ${ECE_DEPLOYMENT} kibana --target lab`);
    const root = approvalMessage('ece.resource.restart');
    await root.getByRole('button', { name: 'Approve' }).waitFor();
    await actAs('Bob');
    await root.getByRole('button', { name: 'Approve' }).click();

    await root.filter({ hasText: '🔴 Failed' }).waitFor({ timeout: ACTION_TIMEOUT });
    const broadcast = inChannel('replied to a thread').filter({ hasText: 'Failed' });
    await broadcast.waitFor();

    await page.locator('#scenario').selectOption('success');
    await page.locator('#scenario-text', { hasText: 'goes well' }).waitFor();
  }, 45_000);
  it('answers /ops help only to whoever asked, and forgets such answers on reload, as Slack does', async () => {
    await actAs('Alice');
    await type('/ops help');
    const help = ephemeral('arcgis refresh-deployment');
    await help.waitFor();
    expect(await shown(help)).toContain('Only visible to you');
    await type('/ops status op-nothing');
    const status = ephemeral('op-nothing');
    await status.waitFor();
    await status.getByRole('button', { name: 'Dismiss message' }).click();
    await status.waitFor({ state: 'detached' });
    const channelMessages = await page.locator('#messages > article.message:not(.ephemeral)').count();

    await page.reload();
    await live();
    expect(await page.locator('#messages > article.message.ephemeral').count()).toBe(0);
    expect(await page.locator('#messages > article.message:not(.ephemeral)').count()).toBe(channelMessages);
    expect(await shown(page.locator('#me'))).toBe('Alice');
  });

  it('draws mrkdwn as Slack does, and never lets text become markup', async () => {
    const cases: Array<[string, string[], string[]]> = [
      [
        '*Approved* by <@U0SBALICE>',
        ['<strong>Approved</strong> by <span class="mention">@Alice</span>'],
        [],
      ],
      ['<@U0SBBOB>, look', ['<span class="mention mention-me">@Bob</span>'], []],
      ['_slow_ and ~gone~', ['<em>slow</em>', '<del>gone</del>'], []],
      ['snake_case_name and 2*3*4', ['snake_case_name and 2*3*4'], ['<em>', '<strong>']],
      ['`code *not bold*`', ['<code>code *not bold*</code>'], ['<strong>']],
      ['```\nline <b>\n```', ['<pre class="code-block">line &lt;b&gt;\n</pre>'], ['<b>']],
      [
        '<https://example.com/a?b=1&amp;c=2|the docs>',
        ['<a href="https://example.com/a?b=1&amp;c=2"', '>the docs</a>'],
        [],
      ],
      ['<javascript:alert(1)|click>', ['click'], ['<a', 'javascript']],
      [
        '<!date^0^{date_num}|1970-01-01>',
        ['<time datetime="1970-01-01T00:00:00.000Z"', 'title="1970-01-01"'],
        [],
      ],
      [':rocket: :not_an_emoji:', ['🚀', ':not_an_emoji:'], []],
      [
        'a &lt;b&gt; &amp; "q" <img src=x onerror=alert(1)>',
        ['a &lt;b&gt; &amp; &quot;q&quot;'],
        ['<img', '<b>'],
      ],
      ['&gt; quoted\nplain', ['<blockquote>quoted</blockquote>plain'], []],
    ];
    const rendered = (await page.evaluate(`(async () => {
      const { renderMrkdwn } = await import('/mrkdwn.js');
      const names = { U0SBALICE: 'Alice', U0SBBOB: 'Bob' };
      const ctx = { me: 'U0SBBOB', userName: (id) => names[id] ?? id };
      return ${JSON.stringify(cases.map(([text]) => text))}.map((text) => renderMrkdwn(text, ctx));
    })()`)) as string[];
    cases.forEach(([text, wanted, unwanted], index) => {
      for (const piece of wanted) expect(rendered[index], text).toContain(piece);
      for (const piece of unwanted) expect(rendered[index], text).not.toContain(piece);
    });

    await actAs('Alice');
    await type('/ops arcgis refresh-deployment <img src=x onerror="window.pwned=1"><b>x</b>');
    const answer = ephemeral('refresh-deployment');
    await answer.last().waitFor();
    expect(await page.locator('#messages img, #messages b').count()).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  });
});
