import { describe, expect, it } from 'vitest';
import { helpText } from '../../src/commands/help.js';
import { parseOpsCommand } from '../../src/commands/parse.js';
import { InputError } from '../../src/errors.js';

function inputError(text: string): InputError {
  try {
    parseOpsCommand(text, '/ops');
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error(`"${text}" parsed without error`);
}

describe('/ops grammar', () => {
  it('reads positional words, flags, --target and --dry-run', () => {
    const parsed = parseOpsCommand(
      'ece restart 3f5a0c1d2e3f4a5b6c7d8e9f0a1b2c3d apm main-apm --cancel-pending --target prod --dry-run',
      '/ops',
    );
    expect(parsed).toMatchObject({ kind: 'action', target: 'prod', dryRun: true });
    if (parsed.kind !== 'action') throw new Error('not an action');
    expect(parsed.action.id).toBe('ece.resource.restart');
    expect(parsed.args).toMatchObject({ kind: 'apm', refId: 'main-apm', cancelPending: true });
  });

  it('accepts --option=value and Slack non-breaking spaces', () => {
    const parsed = parseOpsCommand(
      'arcgis\u00a0refresh-deployment kvyxph9w5h3o9vgk8dixn --target=staging',
      '/ops',
    );
    expect(parsed).toMatchObject({ kind: 'action', target: 'staging' });
  });

  it.each([
    ['arcgis refresh-deployment ../admin', 'is not a plain id'],
    ['arcgis refresh-deployment a/b', 'is not a plain id'],
    ['arcgis refresh-deployment kvy%2Fx', 'is not a plain id'],
    ['arcgis refresh-deployment', '<deployment-id> is missing'],
    ['arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn extra', 'unexpected extra word "extra"'],
    ['arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --force', 'unknown option "--force"'],
    ['arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --target', '--target needs a value'],
    ['arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --dry-run=yes', '--dry-run takes no value'],
    ['nagios restart', 'unknown command "nagios"'],
    ['ece explode', 'ece has no action "explode"'],
    ['status 12', 'request ids look like op-'],
    ['history --limit 500', '--limit can be at most 50'],
    [
      'whoami ece.resource.reboot',
      'unknown action "ece.resource.reboot" (actions: arcgis.deployment.refresh,',
    ],
    ['whoami ece.resource.restart --target PROD', 'target names are lowercase letters'],
    ['whoami ece.resource.restart extra', 'unexpected extra word "extra"'],
  ])('refuses %j: %s', (text, message) => {
    const error = inputError(text);
    expect(error.message).toContain(message);
  });

  it('gives the right usage line with the error', () => {
    expect(inputError('ece restart').usage).toBe(
      '/ops ece restart <deployment-id> <kind> [<ref-id>] [--cancel-pending] [--target <name>] [--reason "<text>"] [--dry-run]',
    );
  });

  it('reads whoami with an optional action id and --target', () => {
    expect(parseOpsCommand('whoami', '/ops')).toEqual({
      kind: 'whoami',
      actionId: undefined,
      target: undefined,
    });
    expect(parseOpsCommand('whoami ece.resource.restart --target prod', '/ops')).toEqual({
      kind: 'whoami',
      actionId: 'ece.resource.restart',
      target: 'prod',
    });
    expect(parseOpsCommand('whoami --target staging', '/ops')).toEqual({
      kind: 'whoami',
      actionId: undefined,
      target: 'staging',
    });
  });

  it('treats an empty command and "help" as help', () => {
    expect(parseOpsCommand('', '/ops')).toEqual({ kind: 'help', vendor: undefined });
    expect(parseOpsCommand('help ece', '/ops')).toEqual({ kind: 'help', vendor: 'ece' });
    expect(parseOpsCommand('ece', '/ops')).toEqual({ kind: 'help', vendor: 'ece' });
    expect(parseOpsCommand('help status', '/ops')).toEqual({ kind: 'help', vendor: undefined });
  });

  it('says "no vendor" for help on a word that is not one, listing the vendors', () => {
    const error = inputError('help foo');
    expect(error.message).toBe('no vendor "foo" (vendors: arcgis, ece, workspace, cckm)');
    expect(error.usage).toBe('/ops help [vendor]');
  });

  it('reads subcommands, vendor names, verbs and option names in any case; ids and values keep theirs', () => {
    expect(parseOpsCommand('HELP', '/ops')).toEqual({ kind: 'help', vendor: undefined });
    expect(parseOpsCommand('Help ECE', '/ops')).toEqual({ kind: 'help', vendor: 'ece' });
    expect(parseOpsCommand('STATUS op-7k3m9q', '/ops')).toEqual({ kind: 'status', requestId: 'op-7k3m9q' });
    const parsed = parseOpsCommand(
      'ECE Restart 3f5a0c1d2e3f4a5b6c7d8e9f0a1b2c3d apm Main-APM --Cancel-Pending --TARGET=Prod',
      '/ops',
    );
    expect(parsed).toMatchObject({
      kind: 'action',
      target: 'Prod',
      args: { refId: 'Main-APM', cancelPending: true },
    });
    expect(inputError('STATUS OP-7K3M9Q').message).toContain('request ids look like op-7k3m9q');
  });
});

const DEPLOYMENT = 'arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn';

function reasonOf(text: string): string | undefined {
  const parsed = parseOpsCommand(text, '/ops');
  if (parsed.kind !== 'action' && parsed.kind !== 'cancel') throw new Error(`"${text}" is not an action`);
  return parsed.reason;
}

describe('--reason', () => {
  it.each([
    ['straight double quotes', `${DEPLOYMENT} --reason "OPS-123 stale certificate"`],
    ['straight single quotes', `${DEPLOYMENT} --reason 'OPS-123 stale certificate'`],
    ['smart double quotes', `${DEPLOYMENT} --reason \u201cOPS-123 stale certificate\u201d`],
    ['smart single quotes', `${DEPLOYMENT} --reason \u2018OPS-123 stale certificate\u2019`],
    ['--reason="…"', `${DEPLOYMENT} --reason="OPS-123 stale certificate"`],
    ['--reason=“…”', `${DEPLOYMENT} --reason=\u201cOPS-123 stale certificate\u201d`],
    ['non-breaking spaces', `${DEPLOYMENT} --reason\u00a0"OPS-123\u00a0stale certificate"`],
    [
      'before the id and another option',
      'arcgis refresh-deployment --reason "OPS-123 stale certificate" kvyxph9w5h3o9vgk8dixn --dry-run',
    ],
  ])('reads quoted text as one word: %s', (_kind, text) => {
    expect(reasonOf(text)).toBe('OPS-123 stale certificate');
  });

  it('keeps apostrophes, the other kind of quote, and text that looks like an option', () => {
    expect(reasonOf(`${DEPLOYMENT} --reason 'it's stuck'`)).toBe("it's stuck");
    expect(reasonOf(`${DEPLOYMENT} --reason don't`)).toBe("don't");
    expect(reasonOf(`${DEPLOYMENT} --reason "the 'old' pod"`)).toBe("the 'old' pod");
    expect(reasonOf(`${DEPLOYMENT} --reason "--dry-run was not enough"`)).toBe('--dry-run was not enough');
    expect(parseOpsCommand(`${DEPLOYMENT} --reason "--dry-run was not enough"`, '/ops')).toMatchObject({
      dryRun: false,
    });
    expect(reasonOf(`${DEPLOYMENT} --reason oneword`)).toBe('oneword');
    expect(reasonOf(DEPLOYMENT)).toBeUndefined();
  });

  it("decodes Slack's escapes of &, < and > once", () => {
    expect(reasonOf(`${DEPLOYMENT} --reason "R&amp;D &lt;b&gt; asked"`)).toBe('R&D <b> asked');
  });

  it('is taken by /ops cancel too', () => {
    expect(parseOpsCommand('cancel op-7k3m9q --reason \u201cwrong deployment\u201d', '/ops')).toEqual({
      kind: 'cancel',
      requestId: 'op-7k3m9q',
      reason: 'wrong deployment',
    });
    expect(parseOpsCommand('cancel op-7k3m9q', '/ops')).toEqual({
      kind: 'cancel',
      requestId: 'op-7k3m9q',
      reason: undefined,
    });
  });

  it.each([
    [
      'an unterminated quote',
      `${DEPLOYMENT} --reason "OPS-123 stale`,
      'a quote is not closed: "OPS-123 stale',
    ],
    [
      'an unterminated smart quote',
      `${DEPLOYMENT} --reason \u201cstale`,
      'a quote is not closed: \u201cstale (end the quoted text with \u201d)',
    ],
    ['an empty reason', `${DEPLOYMENT} --reason ""`, '--reason needs a value'],
    ['a blank reason', `${DEPLOYMENT} --reason "   "`, '--reason needs some text'],
    ['no reason at all', `${DEPLOYMENT} --reason`, '--reason needs a value'],
    ['a read-only action', 'cckm refresh-status --reason "why"', 'unknown option "--reason"'],
    ['twice', `${DEPLOYMENT} --reason a --reason b`, '--reason is given twice'],
  ])('refuses %s', (_case, text, message) => {
    expect(inputError(text).message).toContain(message);
  });

  it('refuses a reason over 500 characters, quoting its start escaped', () => {
    const long = `<!channel> ${'x'.repeat(600)}`;
    const error = inputError(`${DEPLOYMENT} --reason "${long}"`);
    expect(error.message).toContain('a reason is at most 500 characters; this one has 611');
    expect(error.message).toContain('"&lt;!channel&gt; xxxx');
    expect(error.message).not.toContain('<!channel>');
    expect(error.usage).toContain('[--reason "<text>"]');
    // 500 characters exactly, counted as characters (an emoji is one), is fine.
    expect(reasonOf(`${DEPLOYMENT} --reason "${'🙂'.repeat(500)}"`)).toHaveLength(1000);
  });
});

describe('echoing what was typed', () => {
  it('quotes at most a short excerpt of a long word', () => {
    const error = inputError(`help ${'x'.repeat(5_000)}`);
    expect(error.message).toBe(`no vendor "${'x'.repeat(39)}…" (vendors: arcgis, ece, workspace, cckm)`);
  });

  it.each([
    ['<!channel>', 'unknown command "&lt;!channel&gt;"'],
    ['help <script>', 'no vendor "&lt;script&gt;"'],
    ['arcgis <!here>', 'arcgis has no action "&lt;!here&gt;"'],
    [
      'arcgis refresh-deployment <https://evil|x>',
      'deployment id "&lt;https://evil|x&gt;" is not a plain id',
    ],
    ['ece restart 3f5a0c1d2e3f4a5b6c7d8e9f0a1b2c3d <@U0123>', 'kind "&lt;@u0123&gt;" is not one of'],
    ['history --mine <!subteam^S1>', 'unexpected extra word "&lt;!subteam^S1&gt;"'],
    ['history --<b>', 'unknown option "--&lt;b&gt;"'],
    ['arcgis refresh-groups R&D,<x>', 'group name "&lt;x&gt;" may only use'],
    ['cckm refresh-status --status <x>', '--status "&lt;x&gt;" is not one of'],
  ])('escapes %j in the error', (text, message) => {
    const error = inputError(text);
    expect(error.message).toContain(message);
    expect(error.message).not.toMatch(/<[!@a-z]/i);
  });

  it('reads the command text as Slack sends it (&, < and > escaped) and escapes it once', () => {
    expect(inputError('&lt;!channel&gt;').message).toContain('unknown command "&lt;!channel&gt;"');
    expect(inputError('arcgis refresh-groups R&amp;D,&lt;x&gt;').message).toContain('group name "&lt;x&gt;"');
    const groups = parseOpsCommand('arcgis refresh-groups R&amp;D', '/ops');
    expect(groups).toMatchObject({ kind: 'action', args: { groups: ['R&D'] } });
  });
});

describe('help', () => {
  it('lists only what the caller may request, with usage and an example each', async () => {
    const text = await helpText({ command: '/ops', mayRequest: async (id) => id.startsWith('arcgis.') });
    expect(text).toContain('/ops arcgis refresh-deployment <deployment-id>');
    expect(text).toContain('Example: `/ops arcgis');
    expect(text).not.toContain('ece restart');
    expect(text).toContain('/ops status <request-id>');
    expect(text).toContain('/ops whoami [<action>] [--target <name>]');
  });

  it('says so when the caller may request nothing', async () => {
    const text = await helpText({ command: '/ops', mayRequest: async () => false });
    expect(text).toContain('You may not request any vendor action');
  });

  it('writes every description as a sentence, with one note on approval', async () => {
    const text = await helpText({ command: '/ops', mayRequest: async () => true });
    const descriptions = text.split('\n').filter((line) => line.startsWith('   '));
    expect(descriptions).toHaveLength(6);
    for (const line of descriptions) {
      expect(line).toMatch(
        /^ {3}[A-Z].*\. (Needs approval|Read-only, no approval needed)\. Example: `\/ops /,
      );
      expect(line).not.toMatch(/\) \(|read-only\)/i);
    }
    const builtins = text.split('\n').filter((line) => line.includes('` — '));
    expect(builtins).toHaveLength(4);
    for (const line of builtins) expect(line).toMatch(/` — [A-Z].*\.$/);
  });
});
