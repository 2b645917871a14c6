import { FINAL_STATES, type OpsRequest } from '../requests/types.js';
import { requesterDmMessage } from './blocks.js';
import type { OutboxItem } from './outbox.js';

/**
 * The DM that tells the requester where their request stands, for the outbox of whatever decided
 * or ended it: none unless the request's follow-up plan says so (`policy.….notify.requester`),
 * none while it waits. Two keys: `dm-approved`, and `dm-end` for the one final state a request
 * reaches (rejected, expired, or the run's end), so each event is told once however often the
 * code that queues it is repeated.
 */
export function requesterDm(request: OpsRequest): OutboxItem[] {
  if (!request.followUp?.notifyRequester) return [];
  const approved = request.state === 'approved' || request.state === 'running';
  if (!approved && !FINAL_STATES.has(request.state)) return [];
  return [
    {
      key: approved ? 'dm-approved' : 'dm-end',
      kind: 'dm',
      user: request.requester,
      message: requesterDmMessage(request),
    },
  ];
}
