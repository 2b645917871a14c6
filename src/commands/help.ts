import { VENDORS } from '../vendors/registry.js';
import { usageOf } from './grammar.js';
import { actionUsage, BUILTINS } from './parse.js';

/**
 * Help is generated from the same declarations the parser uses, and lists only the actions the
 * caller may request, so it can never drift from what actually works. Every description is shown
 * as a sentence (capital first, full stop), whatever case its declaration uses.
 */
export async function helpText(options: {
  command: string;
  vendor?: string | undefined;
  mayRequest: (actionId: string) => Promise<boolean>;
  /** Whether the caller is an auditor (`policy.auditors`), who also sees the auditors' built-ins. */
  auditor?: boolean;
}): Promise<string> {
  const { command } = options;
  const lines: string[] = [];
  for (const vendor of VENDORS) {
    if (options.vendor && vendor.name !== options.vendor) continue;
    const allowed = [];
    for (const action of vendor.actions) if (await options.mayRequest(action.id)) allowed.push(action);
    if (allowed.length === 0) continue;
    lines.push(`*${vendor.title}*`);
    for (const action of allowed) {
      const approval = action.mode === 'read' ? 'Read-only, no approval needed.' : 'Needs approval.';
      lines.push(`• \`${actionUsage(command, vendor, action)}\``);
      lines.push(
        `   ${sentence(action.summary)} ${approval} Example: \`${command} ${action.examples[0] ?? ''}\``,
      );
    }
  }
  if (lines.length === 0) {
    lines.push(
      options.vendor
        ? `You may not request any ${options.vendor} action here. Ask an opsbot admin to add you to the policy.`
        : 'You may not request any vendor action. Ask an opsbot admin to add you to the policy.',
    );
  }
  if (!options.vendor) {
    lines.push('*Requests*');
    for (const [word, builtin] of Object.entries(BUILTINS)) {
      if ('auditorsOnly' in builtin && !options.auditor) continue;
      lines.push(
        `• \`${usageOf(command, { words: [word], params: builtin.params })}\` — ${sentence(builtin.summary)}`,
      );
    }
  }
  return lines.join('\n');
}

/** "restart a resource (kibana)" → "Restart a resource (kibana)." */
function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = `${trimmed.charAt(0).toUpperCase()}${trimmed.slice(1)}`;
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
