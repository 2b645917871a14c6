import type { Binding } from './model.js';
import type { ChannelsConfig } from './schema.js';

/**
 * Channel bindings: what may be asked in which channel. `policy.channels` is either a list of
 * channel ids (or `['*']`), each bound to every action and target, or a map from channel id to
 * `{ actions, targets }`; there a channel's own entry wins over the `'*'` entry, so a channel can
 * be narrower than the rest as well as wider.
 */

const EVERYTHING = ['*'] as const;

/** The binding that applies in `channel`, or undefined when /ops is not open there. */
export function bindingFor(channels: ChannelsConfig, channel: string): Binding | undefined {
  if (Array.isArray(channels)) {
    return channels.includes('*') || channels.includes(channel)
      ? { source: 'policy.channels', actions: EVERYTHING, targets: EVERYTHING }
      : undefined;
  }
  const own = channels[channel];
  if (own) return { source: `policy.channels.${channel}`, ...own };
  const fallback = channels['*'];
  return fallback ? { source: 'policy.channels.*', ...fallback } : undefined;
}

/** `'*'` matches anything, `vendor.*` anything of that vendor, anything else only itself. */
export function matchesPattern(pattern: string, id: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return id.startsWith(pattern.slice(0, -1));
  return pattern === id;
}

export function bindsAction(binding: Binding, actionId: string): boolean {
  return binding.actions.some((pattern) => matchesPattern(pattern, actionId));
}

export function bindsTarget(binding: Binding, vendor: string, target: string): boolean {
  return binding.targets.some((pattern) => matchesPattern(pattern, `${vendor}.${target}`));
}
