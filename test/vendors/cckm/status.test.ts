import { describe, expect, it } from 'vitest';
import { type Refresh, refreshSchema } from '../../../src/vendors/cckm/schemas.js';
import { normalizeStatus, refreshProgress } from '../../../src/vendors/cckm/status.js';

const ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const D1 = '6070915c-0ab4-4e7e-bf4d-31dd31214874';
const D2 = '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed';
const D3 = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

function refresh(fields: Record<string, unknown>): Refresh {
  return refreshSchema.parse({ id: ID, domains: [D1, D2, D3], detailed_status: {}, abort: false, ...fields });
}

describe('normalizeStatus', () => {
  it.each([
    ['in_progress', 'in_progress'],
    ['in progress', 'in_progress'],
    ['In Progress', 'in_progress'],
    ['IN-PROGRESS', 'in_progress'],
    ['  completed ', 'completed'],
    [undefined, ''],
  ])('%j → %j', (raw, normalized) => {
    expect(normalizeStatus(raw)).toBe(normalized);
  });
});

describe('refreshProgress', () => {
  it('follows a refresh in progress, counting the domains that finished', () => {
    expect(
      refreshProgress(refresh({ overall_status: 'in progress', detailed_status: { [D1]: 'ok' } })),
    ).toEqual({
      vendorJobId: ID,
      outcome: 'running',
      status: 'in progress',
      detail: '1 of 3 domains finished',
      memo: { refreshId: ID },
    });
  });

  it('ends a completed refresh as succeeded, one result line per domain in the order listed', () => {
    const progress = refreshProgress(
      refresh({
        overall_status: 'completed',
        detailed_status: {
          [D2]: 'domain synchronized successfully',
          [D1]: 'domain synchronized successfully',
        },
      }),
    );
    expect(progress.outcome).toBe('succeeded');
    expect(progress.detail).toBe('2 of 3 domains finished');
    expect(progress.result).toEqual([
      `${D1}: domain synchronized successfully`,
      `${D2}: domain synchronized successfully`,
      `${D3}: no status reported`,
    ]);
  });

  it('does NOT call a completed refresh with abort:true a success: it was cancelled', () => {
    const progress = refreshProgress(
      refresh({
        overall_status: 'completed',
        abort: true,
        detailed_status: { [D1]: 'domain synchronized successfully' },
      }),
    );
    expect(progress.outcome).toBe('cancelled');
    expect(progress.detail).toBe('cancelled · 1 of 3 domains finished');
  });

  it('counts only the domains that ended, not those under way (1 of 1 is not finished while running)', () => {
    const running = refreshProgress(
      refresh({ overall_status: 'in_progress', domains: [D1], detailed_status: { [D1]: 'in_progress' } }),
    );
    expect(running).toMatchObject({ outcome: 'running', detail: '0 of 1 domain finished' });
    const mixed = refreshProgress(
      refresh({
        overall_status: 'In Progress',
        detailed_status: {
          [D1]: 'domain synchronized successfully',
          [D2]: 'Synchronizing keys (40 of 90)',
          [D3]: 'failed to synchronize domain while synchronizing keys',
        },
      }),
    );
    expect(mixed.detail).toBe('2 of 3 domains finished');
    expect(
      refreshProgress(
        refresh({ overall_status: 'in_progress', detailed_status: { [D1]: { status: 'pending' } } }),
      ).detail,
    ).toBe('0 of 3 domains finished');
  });

  it('says a cancel is under way while the refresh still runs', () => {
    const progress = refreshProgress(refresh({ overall_status: 'in_progress', abort: true }));
    expect(progress).toMatchObject({ outcome: 'running', detail: 'cancelling · 0 of 3 domains finished' });
  });

  it('ends a failed refresh as failed with what each domain said', () => {
    const progress = refreshProgress(
      refresh({
        overall_status: 'failed',
        detailed_status: {
          [D1]: 'domain synchronized successfully',
          [D2]: 'failed:\n  DSM unreachable',
          [D3]: { error: 42 },
        },
      }),
    );
    expect(progress.outcome).toBe('failed');
    expect(progress.result).toEqual([
      `${D1}: domain synchronized successfully`,
      `${D2}: failed: DSM unreachable`,
      `${D3}: {"error":42}`,
    ]);
  });

  it('keeps following an unknown status, with a warning in the detail', () => {
    const progress = refreshProgress(refresh({ overall_status: 'Queued' }));
    expect(progress).toMatchObject({
      outcome: 'running',
      status: 'Queued',
      detail: 'unknown status "Queued" from CipherTrust; still following · 0 of 3 domains finished',
    });
    expect(progress.result).toBeUndefined();
    expect(refreshProgress(refresh({ overall_status: undefined })).outcome).toBe('running');
  });

  it('counts without a total when the refresh does not list its domains', () => {
    const progress = refreshProgress(
      refreshSchema.parse({
        id: ID,
        overall_status: 'in_progress',
        detailed_status: { [D1]: 'ok' },
        domains: null,
      }),
    );
    expect(progress.detail).toBe('1 domain finished');
  });

  it('caps the per-domain lines of a very large refresh', () => {
    const many = Array.from(
      { length: 60 },
      (_, i) => `6070915c-0ab4-4e7e-bf4d-${String(i).padStart(12, '0')}`,
    );
    const progress = refreshProgress(refresh({ overall_status: 'completed', domains: many }));
    expect(progress.result).toHaveLength(51);
    expect(progress.result?.at(-1)).toBe('… and 10 more domains');
  });

  it('refuses a refresh id that could change the URL it is polled at', () => {
    expect(refreshSchema.safeParse({ id: '../refresh', overall_status: 'completed' }).success).toBe(false);
    expect(refreshSchema.safeParse({ id: 'a/b', overall_status: 'completed' }).success).toBe(false);
  });

  it('reads abort written as a string', () => {
    expect(refreshProgress(refresh({ overall_status: 'completed', abort: 'true' })).outcome).toBe(
      'cancelled',
    );
  });
});
