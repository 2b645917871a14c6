import { AuditChainStore } from './audit/chain-store.js';
import type { RedisConnectionConfig } from './config/load.js';
import { createQueues, createRedis, type Queues, type RedisClient } from './jobs/queues.js';
import { ResourceLocks } from './requests/resource-lock.js';
import { type AuditRecord, RequestStore } from './requests/store.js';
import { Outbox } from './slack/outbox.js';

/**
 * Everything opsbot keeps in Redis, over one connection. The web role gets a fail-fast one (a
 * Redis outage must never stall an ack: the person is told to try again), the worker role a
 * patient one (steps wait for Redis to come back instead of failing).
 */
export interface State {
  redis: RedisClient;
  queues: Queues;
  store: RequestStore;
  outbox: Outbox;
  locks: ResourceLocks;
  auditChain: AuditChainStore;
  close(): Promise<void>;
}

/**
 * Resolves once the connection is up. A fail-fast connection refuses commands while it is still
 * connecting, so a process must not take traffic (or say it started) before this.
 */
export async function untilRedisReady(redis: RedisClient, onWait: () => void): Promise<void> {
  if (redis.status === 'ready') return;
  const nag = setInterval(onWait, 5_000);
  try {
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
  } finally {
    clearInterval(nag);
  }
}

export function connectState(options: {
  connection: RedisConnectionConfig;
  prefix: string;
  patient: boolean;
  retentionMs: number;
  onAudit: (record: AuditRecord) => void;
}): State {
  const redis = createRedis(options.connection, { blocking: options.patient });
  const queues = createQueues(redis, options.prefix);
  const store = new RequestStore(redis, options.prefix, {
    retentionMs: options.retentionMs,
    onAudit: options.onAudit,
  });
  return {
    redis,
    queues,
    store,
    outbox: new Outbox(redis, options.prefix, queues.slack),
    locks: new ResourceLocks(redis, options.prefix),
    auditChain: new AuditChainStore(redis, store.auditKey(), options.retentionMs),
    close: async () => {
      await queues.close();
      redis.disconnect();
    },
  };
}
