// explainUser agrees with generate on every user, and gives each verdict kind.

import { explainUser, generateLayer3, shutdown } from '../ts/index';
import { native } from '../ts/native';
import type { ExplainResult, GeneratorResult } from '../ts/types';
import { readCsv, fileOf } from './helpers/csv';
import { createTestDatabase, Fixture, id, withClient } from './helpers/db';
import { AS_OF, H, loadFixture, V } from './helpers/layer3-fixture';
import { scratchDirs } from './helpers/scratch';

let url: string;
let generated: GeneratorResult;
const LONELY = id(77); // a live user with no action at all

beforeAll(async () => {
  url = await createTestDatabase('explain');
  await loadFixture(url);
  const { fixture, close } = await Fixture.open(url);
  await fixture.user({ id: LONELY });
  await close();
  const out = tmp('out');
  generated = await generateLayer3({ databaseUrl: url, asOf: AS_OF, outputDir: out, onLog: () => {} });
  expect(generated.success).toBe(true);
});

const tmp = scratchDirs('explain');

afterAll(async () => {
  await shutdown();
});

const explain = (userId: string): Promise<ExplainResult> => explainUser(userId, { databaseUrl: url, asOf: AS_OF, onLog: () => {} });

it('agrees with generate on every user of the fixture', async () => {
  const inFiles = new Map<string, { audience: string; row: Record<string, string> }>();
  for (const audience of ['offer_creators', 'closet_adders', 'wishlist_adders']) {
    for (const row of readCsv(fileOf(generated, audience).path).rows) inFiles.set(row.user_id, { audience, row });
  }
  const users: string[] = await withClient(url, async (c) => (await c.query('SELECT id FROM users ORDER BY id')).rows.map((r) => r.id));
  expect(users.length).toBeGreaterThan(15);
  for (const user of users) {
    const result = await explain(user);
    expect(result.success).toBe(true);
    const expected = inFiles.get(user);
    if (expected) {
      expect({ user, verdict: result.verdict }).toMatchObject({ user, verdict: { kind: 'in_audience', audienceType: expected.audience } });
      expect(result.row).toEqual(expected.row);
    } else {
      expect({ user, kind: result.verdict?.kind }).not.toEqual({ user, kind: 'in_audience' });
    }
  }
});

it('in_audience: the winner, why, and the demand check', async () => {
  const result = await explain(id(1));
  expect(result.verdict).toEqual({
    kind: 'in_audience',
    audienceType: 'offer_creators',
    reason: 'offer_created in the window; inventory_count 4 >= 3: in recent-offer-creators',
  });
  expect(result.winner).toMatchObject({ type: 'offer_created', variantId: V.v1, position: 'in_window', why: 'offer_created outranks closet_add' });
  expect(result.demand).toEqual({ measure: 'inventory_count', count: 4, threshold: 3, passes: true });
  expect(result.actions.map((a) => a.type)).toEqual(['closet_add', 'offer_created']);
  expect(result.window).toEqual({ start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z' });
});

it('in_audience: a tie on time goes to the smallest record id, and says so', async () => {
  const result = await explain(id(16));
  expect(result.winner?.variantId).toBe(V.v9);
  expect(result.winner?.why).toBe(
    'closet_add is the user\'s highest-priority action type in the window; the most recent of 2 closet_add actions, tied at that instant with 1 other(s): the smallest record id wins',
  );
});

it('below_demand: the count, the threshold and no fallback', async () => {
  const result = await explain(id(2));
  expect(result.verdict).toEqual({
    kind: 'below_demand',
    audienceType: 'offer_creators',
    count: 2,
    threshold: 3,
    reason: 'dropped by the demand filter: inventory_count 2 < 3 for the winning offer_created (no fallback to a lower-priority action)',
  });
  expect(result.row).toBeUndefined();
});

it('outside_window: by how much, before and after', async () => {
  const after = await explain(id(4));
  expect(after.verdict).toEqual({
    kind: 'outside_window',
    reason: 'no action in the window [2026-11-27T00:00:00.000Z, 2026-11-28T00:00:00.000Z); the nearest action (offer_created) is 0.00 h after the window ends',
  });
  const before = await explain(id(12));
  expect(before.verdict?.kind).toBe('outside_window');
  expect(before.actions[0]).toMatchObject({ position: 'before_window', hoursOutside: 0 });
  expect(before.verdict?.reason).toMatch(/the nearest action \(wishlist_add\) is 0\.00 h before the window starts$/);
  const holder = await explain(H);
  expect(holder.verdict?.reason).toMatch(/h before the window starts$/);
});

it('deleted, not_found, no_activity', async () => {
  expect((await explain(id(5))).verdict?.kind).toBe('deleted');
  expect((await explain(id(123456))).verdict).toEqual({ kind: 'not_found', reason: `no user has the id ${id(123456)}` });
  expect((await explain(LONELY)).verdict?.kind).toBe('no_activity');
});

it('answers in the explain shape even when the binding gets options that are not an object', async () => {
  const result = (await native.nativeExplainUser('layer3-behavior', id(1), 'not-an-object' as never, {})) as Record<string, unknown>;
  expect(result).toMatchObject({ success: false, userId: id(1), errorCode: 'INVALID_OPTION' });
  expect(result.error).toMatch(/^options must be an object of option values/);
  expect(result).not.toHaveProperty('csvFiles');
});

it('refuses a bad user id and options explain does not take', async () => {
  expect(await explain('nobody')).toMatchObject({
    success: false,
    errorCode: 'INVALID_OPTION',
    error: 'userId must be a UUID such as 0e54067c-4c0e-4e4a-8a23-a47661578059, got "nobody"',
    actions: [],
  });
  const result = await explainUser(id(1), { databaseUrl: url, outputDir: '/tmp', onLog: () => {} } as never);
  expect(result.error).toMatch(/^unknown option "outputDir" for explainUser; its options are: lookbackHours/);
});

it('agrees with generate at the window edges when asOf has digits below the microsecond', async () => {
  // Both drop them: the window is the same as for AS_OF (id 3 acts at its start, id 4 at its end).
  const asOf = AS_OF.replace('.000Z', '.0000005Z');
  const out = tmp('sub-micro');
  const run = await generateLayer3({ databaseUrl: url, asOf, outputDir: out, onLog: () => {} });
  const users = ['offer_creators', 'closet_adders', 'wishlist_adders'].flatMap((a) => readCsv(fileOf(run, a).path).rows.map((r) => r.user_id));
  expect(users).toContain(id(3));
  expect(users).not.toContain(id(4));
  for (const user of [id(3), id(4)]) {
    const result = await explainUser(user, { databaseUrl: url, asOf, onLog: () => {} });
    expect({ user, inAudience: result.verdict?.kind === 'in_audience' }).toEqual({ user, inAudience: users.includes(user) });
  }
});

it('leaves out actions stamped infinity, which no window holds', async () => {
  const user = id(91);
  const { fixture, close } = await Fixture.open(url);
  try {
    await fixture.user({ id: user });
    await fixture.wishlist(user, V.v1, new Date(Date.parse(AS_OF) - 20 * 3_600_000));
  } finally {
    await close();
  }
  await withClient(url, (c) =>
    c.query("INSERT INTO wishlist_items (id, user_id, product_variant_id, deleted_at, created_at) VALUES ($1, $2, $3, 0, 'infinity'), ($4, $2, $3, 0, '-infinity')", [
      id(9101),
      user,
      V.v1,
      id(9102),
    ]),
  );
  const result = await explain(user);
  expect(result).toMatchObject({ success: true });
  expect(result.actions).toHaveLength(1);
  expect(result.actions[0]).toMatchObject({ type: 'wishlist_add', position: 'in_window' });
});
