import type { ChainProblem, ChainReport, RecordRef, SealedRef } from '../audit/verify.js';
import { type SlackMessage, section } from './blocks.js';
import { excerpt, slackDate } from './mrkdwn.js';

/** The answer to `/ops audit verify`: whether the stored chain holds, or exactly where it breaks. */

/** Problems listed one by one; past this, how many more. */
const MAX_PROBLEMS_SHOWN = 10;

export function auditVerifyMessage(report: ChainReport): SlackMessage {
  const lines: string[] = [];
  const { head, first, problems, problemCount } = report;
  if (problemCount > 0) {
    lines.push(
      `:rotating_light: *The audit chain is broken*: ${count(problemCount, 'problem')} in ${count(report.checked, 'sealed record')}.`,
    );
    for (const problem of problems.slice(0, MAX_PROBLEMS_SHOWN)) lines.push(`• ${problemLine(problem)}`);
    if (problemCount > MAX_PROBLEMS_SHOWN)
      lines.push(`… and ${(problemCount - MAX_PROBLEMS_SHOWN).toLocaleString('en-US')} more.`);
  } else if (head && first) {
    lines.push(
      `:white_check_mark: *The audit chain is intact*: ${count(report.checked, 'record')} from ${slackDate(first.at)} to ${slackDate(head.at)}.`,
    );
    if (first.seq > 1) {
      lines.push(
        `Records 1–${first.seq - 1} were dropped by retention (\`audit.retention\`); the chain is checked from the hash of the last of them.`,
      );
    }
  } else {
    lines.push('No audit record is sealed yet.');
  }
  if (head) {
    lines.push(
      `Head: record ${head.seq} (\`${excerpt(head.id)}\`, ${slackDate(head.at)}), hash \`${head.hash}\`. It should match the \`auditChain\` log line for that record.`,
    );
  }
  if (report.unsealed > 0) {
    lines.push(
      `${count(report.unsealed, 'newer record')} ${report.unsealed === 1 ? 'is' : 'are'} not sealed yet.`,
    );
  }
  return section(lines.join('\n'));
}

function problemLine(problem: ChainProblem): string {
  switch (problem.kind) {
    case 'changed':
      return `${recordName(problem.record)} does not match its hash: ${problem.certain ? 'it was changed after it was sealed' : 'it, or its hash, was changed after it was sealed'}.`;
    case 'hash-changed':
      return `the stored hash of ${recordName(problem.record)} was changed after it was sealed (the record itself still chains).`;
    case 'missing':
      return `${recordName(problem.record)} is missing: it was deleted after it was sealed.`;
    case 'gap': {
      const { fromSeq, toSeq, before } = problem;
      if (toSeq < fromSeq) {
        return `the hash of ${recordName(before)} is out of sequence (number ${before.seq}, after ${fromSeq - 1}).`;
      }
      return fromSeq === toSeq
        ? `record ${fromSeq} before ${recordName(before)} is missing, with its hash.`
        : `records ${fromSeq}–${toSeq} before ${recordName(before)} are missing, with their hashes.`;
    }
    case 'no-anchor':
      return `the hash the chain starts from, before ${recordName(problem.before)}, is missing.`;
    case 'unsealed':
      return `${recordName(problem.record)} is not in the chain: it was added after the records around it were sealed.`;
  }
}

/** "record 12 (`1732406574926-0`, approved, op-7k3m9q, <date>)"; stored text is escaped. */
function recordName(record: SealedRef | Omit<RecordRef, 'seq'>): string {
  const details = [`\`${excerpt(record.id)}\``];
  if ('kind' in record) {
    details.push(excerpt(record.kind || '(no kind)'));
    if (record.request) details.push(excerpt(record.request));
  }
  details.push(slackDate(record.at));
  return `record${'seq' in record ? ` ${record.seq}` : ''} (${details.join(', ')})`;
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}
