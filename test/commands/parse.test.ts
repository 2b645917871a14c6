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
    ['arcgis refresh-deployment kvyxph9w5h3o9vgk8dixn --force', 'unknown option --force'],
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
      '/ops ece restart <deployment-id> <kind> [<ref-id>] [--cancel-pending] [--target <name>] [--dry-run]',
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
});
