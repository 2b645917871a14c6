import { describe, expect, it } from 'vitest';
import type { ChainReport, RecordRef } from '../../src/audit/verify.js';
import { auditVerifyMessage } from '../../src/slack/audit-views.js';

/** The answer to `/ops audit verify`, from a report: each break in words, stored text escaped. */

const AT = Date.UTC(2026, 10, 24, 4, 2, 54);
const record = (seq: number, kind = 'approved', request = 'op-7k3m9q2'): RecordRef => ({
  id: `${AT + seq}-0`,
  at: AT + seq,
  seq,
  kind,
  request,
});
const head = { ...record(9, 'succeeded'), hash: 'ab'.repeat(32) };
const base: ChainReport = {
  checked: 9,
  first: record(1, 'requested'),
  head,
  problems: [],
  problemCount: 0,
  unsealed: 0,
};

describe('the /ops audit verify answer', () => {
  it('says the chain is intact, from when to when, with the head to compare with the logs', () => {
    const { text, blocks } = auditVerifyMessage({ ...base, unsealed: 3 });
    expect(blocks).toHaveLength(1);
    expect(text).toContain(':white_check_mark: *The audit chain is intact*: 9 records from <!date^');
    expect(text).toContain(`Head: record 9 (\`${head.id}\`, <!date^`);
    expect(text).toContain(`hash \`${'ab'.repeat(32)}\``);
    expect(text).toContain('3 newer records are not sealed yet.');
    expect(text).not.toContain('retention');
  });

  it('says when the chain is checked from records dropped by retention', () => {
    const { text } = auditVerifyMessage({ ...base, checked: 2, first: record(8) });
    expect(text).toContain('Records 1–7 were dropped by retention (`audit.retention`)');
  });

  it('names every kind of break, with the stored text escaped', () => {
    const sly = record(3, '<!channel> approved', 'op-<@U0BOSS>');
    const { text } = auditVerifyMessage({
      ...base,
      problemCount: 9,
      problems: [
        { kind: 'changed', record: sly, certain: true },
        { kind: 'changed', record: record(9), certain: false },
        { kind: 'hash-changed', record: record(4) },
        { kind: 'missing', record: { id: `${AT + 5}-0`, at: AT + 5, seq: 5 } },
        { kind: 'gap', before: record(8), fromSeq: 6, toSeq: 7 },
        { kind: 'gap', before: record(3), fromSeq: 2, toSeq: 2 },
        { kind: 'gap', before: record(2), fromSeq: 4, toSeq: 1 },
        { kind: 'no-anchor', before: record(1) },
        { kind: 'unsealed', record: { id: `${AT + 6}-1`, at: AT + 6, kind: 'approved', request: '' } },
      ],
    });
    expect(text).toContain(':rotating_light: *The audit chain is broken*: 9 problems in 9 sealed records.');
    expect(text).toContain(
      `record 3 (\`${sly.id}\`, &lt;!channel&gt; approved, op-&lt;@U0BOSS&gt;, <!date^${Math.floor((AT + 3) / 1000)}^`,
    );
    expect(text).not.toMatch(/<!channel>|<@U0BOSS>/);
    expect(text).toContain('does not match its hash: it was changed after it was sealed.');
    expect(text).toContain('record 9 (');
    expect(text).toContain('does not match its hash: it, or its hash, was changed after it was sealed.');
    expect(text).toContain('• the stored hash of record 4 (');
    expect(text).toContain('(the record itself still chains)');
    expect(text).toContain(`record 5 (\`${AT + 5}-0\`, <!date^`);
    expect(text).toContain('is missing: it was deleted after it was sealed.');
    expect(text).toContain('• records 6–7 before record 8 (');
    expect(text).toContain('are missing, with their hashes.');
    expect(text).toContain('• record 2 before record 3 (');
    expect(text).toContain('is missing, with its hash.');
    expect(text).toContain('• the hash of record 2 (');
    expect(text).toContain('is out of sequence (number 2, after 3).');
    expect(text).toContain('• the hash the chain starts from, before record 1 (');
    expect(text).toContain(`record (\`${AT + 6}-1\`, approved, <!date^`);
    expect(text).toContain('is not in the chain: it was added after the records around it were sealed.');
  });

  it('lists the first ten breaks and counts the rest', () => {
    const problems = Array.from({ length: 14 }, (_, i) => ({
      kind: 'hash-changed' as const,
      record: record(i + 1),
    }));
    const { text } = auditVerifyMessage({ ...base, problems, problemCount: 1_214 });
    expect(text).toContain('*The audit chain is broken*: 1,214 problems in 9 sealed records.');
    expect(text.match(/^• /gm)).toHaveLength(10);
    expect(text).toContain('… and 1,204 more.');
  });

  it('says when nothing is sealed yet', () => {
    const { text } = auditVerifyMessage({
      checked: 0,
      first: undefined,
      head: undefined,
      problems: [],
      problemCount: 0,
      unsealed: 1,
    });
    expect(text).toBe('No audit record is sealed yet.\n1 newer record is not sealed yet.');
  });
});
