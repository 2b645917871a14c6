import type { ApprovalRule, Role } from '../policy/model.js';
import type { ActionProgress, ActionSummary } from '../vendors/types.js';

/**
 * A request's life: pending → approved → running → one final state, or pending → cancelled /
 * rejected / expired. Each arrow happens exactly once: transitions are compare-and-set scripts in Redis.
 */
export type RequestState =
  | 'pending'
  | 'approved'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  /** An approver said no (with a reason) before the quorum was met. */
  | 'rejected'
  | 'expired'
  | 'timed_out'
  /** The vendor call may or may not have happened and it could not be told which. */
  | 'unknown';

export const FINAL_STATES: ReadonlySet<RequestState> = new Set([
  'succeeded',
  'failed',
  'cancelled',
  'rejected',
  'expired',
  'timed_out',
  'unknown',
]);

/** Where the job state machine stands. Lives in the request record so any worker can resume. */
export type RunPhase =
  /** Approved, nothing sent to the vendor yet. */
  | 'queued'
  /** The vendor call has been started; if a worker finds this phase, the call's fate is unknown. */
  | 'submitting'
  /** The vendor accepted the work; following it. */
  | 'polling'
  | 'done';

export interface OpsRequest {
  id: string;
  actionId: string;
  vendor: string;
  target: string;
  args: unknown;
  /** What the approval message shows (from the action's `describe`). */
  summary: ActionSummary;
  channel: string;
  requester: string;
  createdAt: number;
  expiresAt: number;
  highRisk: boolean;
  state: RequestState;
  /** Increases on every change; root message updates are keyed by it. */
  version: number;
  /** The approver whose vote met the quorum (`votes` holds every approval). */
  approver?: string | undefined;
  decidedAt?: number | undefined;
  /** The requester's reason (`--reason`), shown with the request and kept in the audit trail. */
  reason?: string | undefined;
  /**
   * The approval rules as they were when the request was opened, with the people they name, and
   * whether the requester's own approval counts: votes are counted against this snapshot, so a
   * config change never moves an open request's goalposts.
   */
  quorum?: QuorumSnapshot | undefined;
  /**
   * What opsbot does on its own while and after the request is decided (reminders, escalation,
   * DMs to the requester), planned when it opened: like the quorum, a config change never moves
   * an open request's reminders. Absent: none of them.
   */
  followUp?: FollowUpPlan | undefined;
  /** The approvals so far, in the order they came (see RequestStore.vote). */
  votes: RecordedVote[];
  /** Who cancelled, or `expiry`. */
  cancelledBy?: string | undefined;
  /** Who rejected it. */
  rejectedBy?: string | undefined;
  /** The reason given by whoever rejected or cancelled it. */
  decisionReason?: string | undefined;
  /**
   * Why the last approval was refused by the re-check (the requester may no longer ask for it
   * here, another request holds the resource…), shown on the root while it waits.
   */
  blocked?: string | undefined;
  /** Who asked, with `/ops cancel`, to stop an approved or running action. */
  cancelRequestedBy?: string | undefined;
  /**
   * The vendor-side cancel of a running action: `sending` is recorded before the call (a worker
   * that finds it knows the call's fate is unknown and does not repeat it), then `sent` or `refused`.
   */
  vendorCancel?: 'sending' | 'sent' | 'refused' | undefined;
  /** ts of the approval message: the thread root. */
  rootTs?: string | undefined;
  phase: RunPhase;
  startedAt?: number | undefined;
  /** When the start call was sent: where to look for its work if its answer was lost. */
  submittedAt?: number | undefined;
  deadlineAt?: number | undefined;
  finishedAt?: number | undefined;
  progress?: ActionProgress | undefined;
  /** Number of status changes posted in the thread. */
  reported: number;
  /** Consecutive transient faults while following the vendor. */
  faults: number;
  /**
   * While a vendor call is being tried again after a transient fault, what the root message says
   * of it (plain text: the try and the vendor's error); '' once a call succeeds.
   */
  retrying?: string | undefined;
  /**
   * The run step's fencing token: moved on by every write a run step makes, which is made only if
   * it still holds the value the step read. A worker that lost its job to another (a pause longer
   * than its lock) therefore cannot act on a stale read: it never sends a submission twice.
   */
  fence: number;
  /** One line on how it ended. */
  outcome?: string | undefined;
  /** Correlation id carried through logs, jobs and vendor calls. */
  correlationId: string;
  /** The slash command's response_url (30 min, private to the requester); never logged. */
  responseUrl?: string | undefined;
}

export interface QuorumSnapshot {
  rules: ApprovalRule[];
  requesterCounts: boolean;
}

export interface FollowUpPlan {
  /** When the reminder of the approvals still needed is due (epoch ms); absent: no reminder. */
  remindAt?: number | undefined;
  /** When the escalation is due, and whom it mentions (the role as it was, with its people). */
  escalation?: { at: number; to: Role[] } | undefined;
  /** Whether the requester hears of the approval, rejection, expiry and the run's end by DM. */
  notifyRequester?: boolean | undefined;
}

/** One approval: who, which of the snapshot's rules they may count toward, and when. */
export interface RecordedVote {
  user: string;
  eligible: number[];
  at: number;
}

export interface TimelineEvent {
  at: number;
  kind: string;
  actor?: string | undefined;
  text: string;
}
