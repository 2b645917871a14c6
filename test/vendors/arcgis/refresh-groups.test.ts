import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VendorError } from '../../../src/errors.js';
import { type ArcgisSimulator, startArcgisSimulator } from '../../../src/vendors/arcgis/simulator.js';
import { action, clientFor, rejection } from './support.js';

const groups = action('refresh-groups');

let sim: ArcgisSimulator;
beforeAll(async () => {
  sim = await startArcgisSimulator({ membershipDelayMs: 300 });
});
afterAll(() => sim.close());
afterEach(() => {
  sim.setScenario('success');
  sim.clearFaults();
});

const orgListings = () =>
  sim.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/admin/orgs')).length;

describe('refresh-groups', () => {
  it('discovers the organization once, then refreshes the groups synchronously', async () => {
    const { ctx } = clientFor(sim);
    const listings = orgListings();
    const before = sim.counters.membershipRefreshes;

    const done = await groups.start!(ctx, groups.args.parse({ groups: 'cartographers,analyst' }));
    expect(done).toEqual({
      outcome: 'succeeded',
      status: 'success',
      detail: 'membership of 2 groups refreshed',
      result: ['groups: cartographers, analyst', `organization: ${sim.orgId}`],
      memo: {},
    });
    await groups.start!(ctx, groups.args.parse({ groups: 'gis-admins' }));

    expect(orgListings()).toBe(listings + 1);
    expect(sim.counters.membershipRefreshes).toBe(before + 2);
    const call = sim.requests.findLast((r) => r.path.endsWith('/refreshMembership'))!;
    expect(call.path).toBe(`/arcgis/admin/orgs/${sim.orgId}/security/groups/refreshMembership`);
    expect(new URLSearchParams(call.body).get('groups')).toBe('gis-admins');
    expect(new URLSearchParams(call.body).get('f')).toBe('json');
  });

  it('uses the configured orgId without listing organizations', async () => {
    const { ctx } = clientFor(sim, { orgId: sim.orgId });
    const listings = orgListings();
    await groups.start!(ctx, groups.args.parse({ groups: 'analyst' }));
    expect(orgListings()).toBe(listings);
  });

  it('waits for a slow answer longer than the target timeout (the call has its own 5-minute timeout)', async () => {
    const { ctx, client } = clientFor(sim, { timeouts: { request: 150 } });
    await client.orgId();
    const started = Date.now();
    const done = await groups.start!(ctx, groups.args.parse({ groups: 'analyst' }));
    expect(done.outcome).toBe('succeeded');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('refuses unknown groups with the code and the details', async () => {
    const { ctx } = clientFor(sim);
    const error = await rejection(groups.start!(ctx, groups.args.parse({ groups: 'analyst,ghosts' })));
    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toBe(
      "ArcGIS refused to refresh the membership of groups analyst, ghosts: error 400, Unable to refresh group membership. — Group 'ghosts' does not exist.",
    );
    expect(error).toMatchObject({ retryable: false, delivery: 'answered' });
  });

  it('accepts groups added through the simulator', async () => {
    sim.addGroups('ghosts');
    const { ctx } = clientFor(sim);
    await expect(groups.start!(ctx, groups.args.parse({ groups: 'ghosts' }))).resolves.toMatchObject({
      outcome: 'succeeded',
    });
    expect(sim.counters.groupRefreshes.ghosts).toBe(1);
  });

  it('reports a {"status":"error"} answer (failure scenario) as a failure naming the status', async () => {
    sim.setScenario('failure');
    const { ctx } = clientFor(sim);
    const error = await rejection(groups.start!(ctx, groups.args.parse({ groups: 'analyst' })));
    expect(error.message).toBe(
      'ArcGIS refused to refresh the membership of group analyst: status "error", Unable to refresh membership of group \'analyst\': the identity store did not answer (LDAP timeout).',
    );
  });

  it('asks for orgId when the site lists several organizations', async () => {
    const { ctx } = clientFor(sim);
    sim.inject({ path: '/admin/orgs', status: 200, body: { organizations: ['A1', 'B2'] } });
    const error = await rejection(groups.start!(ctx, groups.args.parse({ groups: 'analyst' })));
    expect(error.message).toBe(
      `ArcGIS lists 2 organizations at ${sim.url}/admin/orgs; set orgId on the target to choose one`,
    );
    // The failure is not cached: the next attempt discovers again.
    await expect(groups.start!(ctx, groups.args.parse({ groups: 'analyst' }))).resolves.toMatchObject({
      outcome: 'succeeded',
    });
  });

  it('dry run: the exact call with the org id, token masked, nothing refreshed', async () => {
    const { ctx } = clientFor(sim);
    const before = sim.counters.membershipRefreshes;
    const report = await groups.dryRun!(ctx, groups.args.parse({ groups: 'cartographers,analyst' }));
    expect(report).toEqual({
      call: `POST ${sim.url}/admin/orgs/${sim.orgId}/security/groups/refreshMembership (groups=cartographers,analyst, f=json, token=••••)`,
      currentState: [`organization ${sim.orgId} (discovered with GET /admin/orgs)`],
    });
    expect(sim.counters.membershipRefreshes).toBe(before);
    const configured = clientFor(sim, { orgId: 'ABC123' });
    expect((await groups.dryRun!(configured.ctx, groups.args.parse({ groups: 'x' }))).currentState).toEqual([
      'organization ABC123 (from the target config)',
    ]);
  });

  it('describes the groups for the approval message', () => {
    expect(groups.describe(groups.args.parse({ groups: 'a1,b2' })).fields[0]).toEqual({
      label: 'Groups (2)',
      value: 'a1, b2',
    });
  });
});
