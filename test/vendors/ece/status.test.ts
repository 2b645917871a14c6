import { describe, expect, it } from 'vitest';
import type { PlanAttempt, PlanStep } from '../../../src/vendors/ece/schemas.js';
import { judgeAttempt, stepLine } from '../../../src/vendors/ece/status.js';

const step = (step_id: string, status: string, message?: string, failure_type?: string): PlanStep => ({
  step_id,
  status,
  stage: 'completed',
  ...(message ? { info_log: [{ message, ...(failure_type ? { failure_type } : {}) }] } : {}),
});

describe('judging a finished plan attempt', () => {
  it('succeeds on plan-completed success, warnings included', () => {
    const attempt: PlanAttempt = {
      healthy: true,
      plan_attempt_log: [
        step('rolling-restart', 'warning', 'slow instance'),
        step('plan-completed', 'success', 'ok'),
      ],
    };
    expect(judgeAttempt(attempt, true)).toEqual({ outcome: 'succeeded' });
  });

  it('fails on plan-completed error with its last info_log message and the failing step', () => {
    const attempt: PlanAttempt = {
      plan_attempt_log: [
        step('rolling-restart', 'error', 'instance did not start', 'InstanceFailure:X'),
        {
          ...step('plan-completed', 'error'),
          info_log: [{ message: 'first' }, { message: 'the real reason' }],
        },
      ],
    };
    expect(judgeAttempt(attempt)).toEqual({
      outcome: 'failed',
      reason: 'the real reason',
      failedStep: 'rolling-restart',
      failureType: 'InstanceFailure:X',
    });
  });

  it('fails on an error step even before plan-completed, and says when ECE logged nothing', () => {
    expect(
      judgeAttempt({ plan_attempt_log: [step('validate-plan', 'error'), step('x', 'success')] }),
    ).toEqual({
      outcome: 'failed',
      reason: 'plan failed due to an unknown error (ECE logged no message)',
      failedStep: 'validate-plan',
    });
  });

  it('fails on an error object, an unhealthy attempt, or unhealthy plans', () => {
    expect(judgeAttempt({ error: { message: 'boom', failure_type: 'T' } })).toEqual({
      outcome: 'failed',
      reason: 'boom',
      failureType: 'T',
    });
    expect(judgeAttempt({ healthy: false }).reason).toBe('ECE marked the plan attempt unhealthy');
    expect(judgeAttempt({ healthy: true }, false).reason).toBe(
      "ECE marked the resource's last plan attempt unhealthy",
    );
  });

  it('clips a very long reason to one readable line', () => {
    const reason = judgeAttempt({ error: { message: `a\n${'x'.repeat(1_000)}` } }).reason!;
    expect(reason.length).toBe(300);
    expect(reason).not.toContain('\n');
  });
});

describe('the step line posted in the thread', () => {
  it('names the step and says in words where it stands, not as a raw stage (status) pair', () => {
    const line = (stage: string, status: string) => stepLine({ step_id: 'rolling-restart', stage, status });
    expect(line('in_progress', 'pending')).toBe('step `rolling-restart` in progress');
    expect(line('starting', 'pending')).toBe('step `rolling-restart` starting');
    expect(line('completed', 'success')).toBe('step `rolling-restart` finished');
    expect(line('completed', 'warning')).toBe('step `rolling-restart` finished with warnings');
    expect(line('completed', 'error')).toBe('step `rolling-restart` failed');
    expect(line('paused', 'held')).toBe('step `rolling-restart` stage paused, status held');
    expect(stepLine(undefined)).toBe('plan queued, no step yet');
  });
});
