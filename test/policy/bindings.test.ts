import { describe, expect, it } from 'vitest';
import { bindingFor, bindsAction, bindsTarget, matchesPattern } from '../../src/policy/bindings.js';
import type { ChannelsConfig } from '../../src/policy/schema.js';

describe('channel bindings', () => {
  it.each<[string, ChannelsConfig, string, string | undefined]>([
    ['a listed channel', ['C0OPS1', 'C0OPS2'], 'C0OPS2', 'policy.channels'],
    ['a channel not listed', ['C0OPS1'], 'C0ELSE1', undefined],
    ['any channel with ["*"]', ['*'], 'C0ELSE1', 'policy.channels'],
    [
      'a channel’s own entry',
      { C0OPS1: { actions: ['ece.*'], targets: ['*'] } },
      'C0OPS1',
      'policy.channels.C0OPS1',
    ],
    [
      'the "*" entry elsewhere',
      { C0OPS1: { actions: ['*'], targets: ['*'] }, '*': { actions: ['cckm.*'], targets: ['*'] } },
      'C0ELSE1',
      'policy.channels.*',
    ],
    ['no entry and no "*"', { C0OPS1: { actions: ['*'], targets: ['*'] } }, 'C0ELSE1', undefined],
  ])('finds the binding of %s', (_name, channels, channel, source) => {
    expect(bindingFor(channels, channel)?.source).toBe(source);
  });

  it('lets a channel’s own entry be narrower than "*"', () => {
    const channels: ChannelsConfig = {
      C0PROD1: { actions: ['ece.resource.restart'], targets: ['ece.prod'] },
      '*': { actions: ['*'], targets: ['*'] },
    };
    const prod = bindingFor(channels, 'C0PROD1')!;
    expect(bindsAction(prod, 'arcgis.groups.refresh')).toBe(false);
    expect(bindsTarget(prod, 'ece', 'staging')).toBe(false);
    expect(bindsTarget(prod, 'ece', 'prod')).toBe(true);
    expect(bindsAction(bindingFor(channels, 'C0ELSE1')!, 'arcgis.groups.refresh')).toBe(true);
  });

  it.each<[string, string, boolean]>([
    ['*', 'ece.resource.restart', true],
    ['ece.*', 'ece.resource.restart', true],
    ['ece.*', 'eceplus.resource.restart', false],
    ['arcgis.*', 'arcgis.prod', true],
    ['arcgis.prod', 'arcgis.prod', true],
    ['arcgis.prod', 'arcgis.production', false],
    ['arcgis.prod', 'ece.prod', false],
    ['ece.resource.restart', 'ece.resource.restart', true],
  ])('pattern %s against %s: %s', (pattern, id, expected) => {
    expect(matchesPattern(pattern, id)).toBe(expected);
  });
});
