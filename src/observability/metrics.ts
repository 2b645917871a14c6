import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { VendorCallRecord } from '../vendors/http.js';

/** Prometheus metrics, one registry per process (tests build several apps in one process). */
export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'opsbot_requests_total',
    help: 'Requests by action and how they ended (or were refused).',
    labelNames: ['action', 'outcome'],
    registers: [this.registry],
  });
  readonly approvals = new Counter({
    name: 'opsbot_approval_clicks_total',
    help: 'Approve and Cancel clicks by result (approved, refused, duplicate, late, cancelled).',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly vendorCalls = new Histogram({
    name: 'opsbot_vendor_call_duration_seconds',
    help: 'Vendor HTTP calls by vendor, target and HTTP status or network error code.',
    labelNames: ['vendor', 'target', 'code'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly vendorErrors = new Counter({
    name: 'opsbot_vendor_errors_total',
    help: 'Vendor calls that failed, by vendor and code.',
    labelNames: ['vendor', 'code'],
    registers: [this.registry],
  });
  readonly slackCalls = new Counter({
    name: 'opsbot_slack_calls_total',
    help: 'Slack Web API writes by method.',
    labelNames: ['method'],
    registers: [this.registry],
  });
  readonly slack429 = new Counter({
    name: 'opsbot_slack_rate_limited_total',
    help: 'Slack answers of 429 (the delivery waited Retry-After and went on).',
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'opsbot_action_duration_seconds',
    help: 'Time from approval to the final state, by action and outcome.',
    labelNames: ['action', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 14400],
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'opsbot_actions_in_flight',
    help: 'Approved actions not yet finished (from Redis, at scrape time).',
    registers: [this.registry],
  });
  readonly freezesActive = new Gauge({
    name: 'opsbot_freezes_active',
    help: 'Change freezes in effect, declared or set from Slack (at scrape time).',
    registers: [this.registry],
  });
  readonly locksHeld = new Gauge({
    name: 'opsbot_sticky_locks',
    help: 'Sticky locks held (/ops lock, at scrape time).',
    registers: [this.registry],
  });
  readonly actionsScheduled = new Gauge({
    name: 'opsbot_actions_scheduled',
    help: 'Approved actions waiting for their scheduled time (--at, at scrape time).',
    registers: [this.registry],
  });
  readonly auditUnsealed = new Gauge({
    name: 'opsbot_audit_unsealed_records',
    help: 'Audit records not yet sealed into the hash chain: how far the sealer lags (from Redis, at scrape time).',
    registers: [this.registry],
  });
  readonly auditVerifyFailures = new Counter({
    name: 'opsbot_audit_verify_failures_total',
    help: 'Checks of the audit chain (/ops audit verify) that found it broken.',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'opsbot_queue_jobs',
    help: 'Jobs by queue and state (at scrape time).',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });

  /** Feeds every vendor HTTP call into the latency and error metrics. */
  readonly observeVendorCall = (call: VendorCallRecord): void => {
    const code = call.status === undefined ? (call.errorCode ?? 'error') : String(call.status);
    this.vendorCalls.observe({ vendor: call.vendor, target: call.target, code }, call.durationMs / 1000);
    if (call.status === undefined || call.status >= 400) this.vendorErrors.inc({ vendor: call.vendor, code });
  };
}
