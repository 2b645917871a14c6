/**
 * What the sandbox can make the outside world do. Every vendor simulator takes the vendor
 * scenarios; `slack-rate-limited` is about the Slack side only (the vendors behave).
 */

export const SCENARIOS = {
  success: 'Every vendor job goes well.',
  failure: 'Vendor jobs end failed, with the vendor’s own error message.',
  slow: 'Vendor jobs take ten times longer.',
  'token-expiry': 'Vendor tokens die within seconds: the bot renews once and retries.',
  '5xx-storm': 'The next vendor calls after each command get 502/503 pages: the bot backs off and retries.',
  'slack-rate-limited':
    'Slack allows one message a second with no burst and answers 429 with Retry-After: watch the bot pace itself.',
} as const;

export type Scenario = keyof typeof SCENARIOS;

/** The scenarios every vendor simulator understands. */
export type VendorScenario = Exclude<Scenario, 'slack-rate-limited'>;

export function isScenario(name: unknown): name is Scenario {
  return typeof name === 'string' && Object.hasOwn(SCENARIOS, name);
}

export function vendorScenarioOf(scenario: Scenario): VendorScenario {
  return scenario === 'slack-rate-limited' ? 'success' : scenario;
}

/** Slack's write limit in the `slack-rate-limited` scenario: 1 message per second per channel, no burst. */
export const STRICT_SLACK_LIMIT = { perSecond: 1, burst: 1 } as const;
