// Rules `v1` (docs/layer3-contract.md, section 9): what push-blaster's production script writes.
// V1 (legacy/generate_layer_3_push_csvs.py --rules v1, also its default) and V2 (`rules: 'v1'`)
// write the same files, byte for byte, and those files are the ones section 9 describes (worked
// out by hand in helpers/rules-v1-fixture.ts); the contract's rules (`v2`, V2's default, V1's
// --rules v2) on the same data still differ where the section says, so the option really
// switches.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { generate, shutdown } from '../ts/index';
import type { GeneratorResult } from '../ts/types';
import { runV1Script, type V1ScriptResult } from '../ts/v1-executor';
import { readCsv } from './helpers/csv';
import { createTestDatabase, Fixture, HOUR, id, ROOT, type SchemaVariant } from './helpers/db';
import { AS_OF, expectedV1Files, loadRulesV1Fixture, NAMES, U, V, V2_USERS } from './helpers/rules-v1-fixture';
import { scratchDirs } from './helpers/scratch';

const SCRIPT = 'generate_layer_3_push_csvs';
const tmp = scratchDirs('rules-v1');
let python: string;

type Files = { csvFiles: { path: string; rowCount: number; isTestFile: boolean; audienceType: string }[] };

/** `recent-offer-creators_TEST_20261128T120000-2.csv` -> `recent-offer-creators_TEST_`. */
const kindOf = (file: string) => path.basename(file).replace(/\d{8}T\d{6}(-\d+)?\.csv$/, '');

/** The files of a result: kind -> bytes (and each file once). */
function contents(result: Files): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of result.csvFiles) {
    const kind = kindOf(file.path);
    expect(out[kind]).toBeUndefined();
    out[kind] = fs.readFileSync(file.path, 'utf8');
  }
  return out;
}

const csvsIn = (dir: string) => fs.readdirSync(dir).filter((name) => name.endsWith('.csv')).sort();
/** The files a result lists, by kind (V1 lists production files first, V2 each audience's pair). */
const summary = (result: Files) =>
  result.csvFiles
    .map((f) => ({ kind: kindOf(f.path), rowCount: f.rowCount, isTestFile: f.isTestFile, audienceType: f.audienceType }))
    .sort((a, b) => a.kind.localeCompare(b.kind));

function runV1(url: string, rules: 'v1' | 'v2' | undefined, extra: { asOf?: string | null } = {}): Promise<V1ScriptResult> {
  const asOf = extra.asOf === null ? undefined : (extra.asOf ?? AS_OF);
  return runV1Script({
    scriptId: SCRIPT,
    lookbackHours: 48,
    coolingHours: 12,
    outputDir: tmp('v1'),
    databaseUrl: url,
    pythonPath: python,
    env: {},
    ...(asOf !== undefined ? { asOf } : {}),
    ...(rules !== undefined ? { rules } : {}),
  });
}

async function runV2(url: string, rules: 'v1' | 'v2' | undefined, extra: { asOf?: string | null } = {}): Promise<GeneratorResult> {
  const asOf = extra.asOf === null ? undefined : (extra.asOf ?? AS_OF);
  const result = await generate('layer3-behavior', {
    databaseUrl: url,
    outputDir: tmp('v2'),
    onLog: () => undefined,
    ...(asOf !== undefined ? { asOf } : {}),
    ...(rules !== undefined ? { rules } : {}),
  });
  if (!result.success) throw new Error(`V2 failed: ${result.errorCode} ${result.error}`);
  return result;
}

beforeAll(() => {
  python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
});

afterAll(async () => {
  await shutdown();
});

describe.each<[SchemaVariant, '' | '+00:00']>([
  ['default', ''],
  ['alternate', '+00:00'],
])('rules v1 on the %s schema', (variant, tz) => {
  let url: string;
  let v1: V1ScriptResult;
  let v2: GeneratorResult;
  beforeAll(async () => {
    url = await createTestDatabase(`rules_v1_${variant}`, variant);
    await loadRulesV1Fixture(url);
    [v1, v2] = [await runV1(url, 'v1'), await runV2(url, 'v1')];
  }, 120_000);

  test('V1 with no rules runs production\'s: the same files as V1 --rules v1, byte for byte', async () => {
    const plain = await runV1(url, undefined);
    expect(summary(plain)).toEqual(summary(v1));
    expect(contents(plain)).toEqual(contents(v1));
    expect(plain.metadata).toMatchObject({ rules: 'v1', window: { end: '2026-11-28T12:00:00.000Z', endIncluded: true } });
  });

  test('V1 --rules v1 and V2 rules v1 write the same files, byte for byte', () => {
    expect(summary(v2)).toEqual(summary(v1));
    expect(contents(v2)).toEqual(contents(v1));
    expect(v2.audienceSize).toBe(8);
    expect(v1.audienceSize).toBe(8);
    // Names: V2's (`<prefix>_<ts>.csv`), one stamp for the set.
    for (const result of [v1, v2]) {
      const stamps = result.csvFiles.map((f) => /_(\d{8}T\d{6}(?:-\d+)?)\.csv$/.exec(path.basename(f.path))?.[1]);
      expect(stamps.every((stamp) => stamp !== undefined && stamp === stamps[0])).toBe(true);
    }
  });

  test('the files are the ones section 9 describes (hand-checked bytes)', () => {
    const expected = expectedV1Files(tz);
    expect(contents(v2)).toEqual(expected);
    // No file at all for the empty audience (wishlist adders), production or test.
    expect(Object.keys(contents(v1)).sort()).toEqual(['recent-closet-adders_', 'recent-closet-adders_TEST_', 'recent-offer-creators_', 'recent-offer-creators_TEST_']);
    for (const result of [v1, v2]) {
      expect(csvsIn(path.dirname(result.csvFiles[0].path))).toEqual(result.csvFiles.map((f) => path.basename(f.path)).sort());
      expect(result.csvFiles.some((f) => f.audienceType === 'wishlist_adders')).toBe(false);
      // CRLF after every row, the last included; no bare LF outside a quoted field (none here).
      for (const file of result.csvFiles) {
        const text = fs.readFileSync(file.path, 'utf8');
        expect(text.endsWith('\r\n')).toBe(true);
        expect(text.split('\r\n')).toHaveLength(file.rowCount + 2);
        expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
      }
    }
  });

  test('spot checks: the cooling period, the outranking offer, incomplete profiles, sizes, lastActive, the test rows', () => {
    const offers = readCsv(v1.csvFiles.find((f) => f.audienceType === 'offer_creators' && !f.isTestFile)!.path).rows;
    const byUser = Object.fromEntries(offers.map((r) => [r.user_id, r]));
    // cal's only action is in the cooling period; quin's is exactly at asOf (included).
    expect(byUser[U.cal]).toMatchObject({ variantID: V.N, relevant_variant_size: '10.5', lastActive: `2026-11-28 05:00:00${tz}` });
    expect(offers[0].user_id).toBe(U.quin);
    expect(byUser[U.rex]).toBeUndefined(); // one second after asOf
    // dee's offer in the cooling period outranks the closet add in the v2 window.
    expect(byUser[U.dee]).toMatchObject({ variantID: V.B, relevant_variant_size: 'Unknown', product_name: NAMES.B, inventory_count: '5' });
    expect(byUser[U.dee].lastActive).toBe(`2026-11-27 22:00:00.123456${tz}`);
    expect(byUser[U.ada].lastActive).toBe(`2026-11-27 21:30:15.120000${tz}`);
    // No first name ('' or NULL), no size, size '', deleted: left out.
    for (const user of [U.eve, U.fay, U.gus, U.hal, U.gone, U.lu]) expect(byUser[user]).toBeUndefined();
    // Ties: jo before kai (same time, user id order); ivy's offer with the smaller id (V.A).
    expect(offers.map((r) => r.user_id)).toEqual([U.quin, U.cal, U.dee, U.jo, U.kai, U.ivy, U.ada]);
    expect(byUser[U.ivy].variantID).toBe(V.A);
    // Test files: row 2 (cal's) for offer creators, row 1 (the only one) for closet adders.
    const testOf = (type: string) => readCsv(v2.csvFiles.find((f) => f.audienceType === type && f.isTestFile)!.path).rows;
    expect(testOf('offer_creators')).toEqual([
      {
        user_id: '0e54067c-4c0e-4e4a-8a23-a47661578059',
        username: 'beems',
        firstName: 'Mbiyimoh',
        usersize: '13',
        relevant_variant_size: '10.5',
        product_name: NAMES.N,
        variantID: V.N,
        lastActive: '2025-08-05 20:00:00.000000+00:00',
        inventory_count: '3',
      },
    ]);
    expect(testOf('closet_adders')).toEqual([expect.objectContaining({ relevant_variant_size: 'Unknown', variantID: V.B, wishlist_count: '2', lastActive: '2025-08-05 20:00:00.000000+00:00' })]);
  });

  test('both report the v1 window: start included, asOf included', () => {
    const window = { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T12:00:00.000Z', endIncluded: true };
    expect(v1.metadata).toMatchObject({ window, rules: 'v1' });
    expect(v1.metadata?.reason).toBeUndefined();
    expect(v2.metadata).toMatchObject({ window, rules: 'v1' });
  });

  test('the contract\'s rules (v2) differ where section 9 says, in both engines', async () => {
    // V1 needs --rules v2 (its default is production's); V2's default is the contract.
    const [d1, d2] = [await runV1(url, 'v2'), await runV2(url, 'v2')];
    const plain = await runV2(url, undefined);
    for (const result of [d1, d2, plain]) {
      expect(result.csvFiles).toHaveLength(6); // an empty audience still gets its files
      const rows = (type: string) => readCsv(result.csvFiles.find((f) => f.audienceType === type && !f.isTestFile)!.path).rows;
      const offers = rows('offer_creators');
      // The cooling period does not count (cal, quin, dee's offer); incomplete profiles stay.
      expect(offers.map((r) => r.user_id)).toEqual(V2_USERS.offer_creators);
      expect(rows('closet_adders').map((r) => r.user_id)).toEqual(V2_USERS.closet_adders);
      expect(rows('wishlist_adders').map((r) => r.user_id)).toEqual(V2_USERS.wishlist_adders);
      expect(offers.find((r) => r.user_id === U.fay)).toMatchObject({ firstName: '' });
      expect(offers.find((r) => r.user_id === U.hal)).toMatchObject({ usersize: '' });
      // An empty mens_size stays empty; lastActive is PostgreSQL's text.
      expect(rows('closet_adders')[0]).toMatchObject({ user_id: U.max, relevant_variant_size: '' });
      expect(offers.find((r) => r.user_id === U.ada)!.lastActive).toBe(variant === 'default' ? '2026-11-27 21:30:15.12' : '2026-11-27 21:30:15.12+00');
      // `\n` line ends; the test file takes row 1 and the current time.
      for (const file of result.csvFiles) expect(fs.readFileSync(file.path, 'utf8')).not.toContain('\r\n');
      const test = readCsv(result.csvFiles.find((f) => f.audienceType === 'offer_creators' && f.isTestFile)!.path).rows[0];
      expect(test.variantID).toBe(V.C); // jo's
      expect(test.lastActive).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    // rules 'v2' is V2's default; V1 under --rules v2 agrees with it (production files: test files carry the time).
    const production = (r: Files) => Object.fromEntries(Object.entries(contents(r)).filter(([kind]) => !kind.includes('_TEST_')));
    expect(production(d2)).toEqual(production(plain));
    expect(production(d2)).toEqual(production(d1));
    expect(d2.metadata).toMatchObject({ rules: 'v2', window: { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z' } });
    expect(d1.metadata).toMatchObject({ rules: 'v2', window: { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z' } });
  });
});

describe('rules v1 at the edges', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('rules_v1_edges');
  }, 120_000);

  const reset = async (fill: (f: Fixture) => Promise<void>) => {
    const { fixture: f, close } = await Fixture.open(url);
    try {
      await f.query(
        'TRUNCATE offer_items, offers, wishlist_items, inventory_items, product_variants, products, attribute_preferences, user_preferences, attribute_values, attributes, user_activities, users CASCADE',
      );
      await fill(f);
    } finally {
      await close();
    }
  };

  test('activity, but every audience empty: success without files, not "no_activity"', async () => {
    await reset(async (f) => {
      await f.product('P', [{ id: V.A, indexCache: { mens_size: '10' } }]);
      await f.user({ id: id(100), sizes: [{ value: '10' }] });
      await f.stock(id(100), V.A, 3);
      await f.user({ id: id(1), firstName: '', sizes: [{ value: '10' }] }); // no first name
      await f.offer(id(1), new Date('2026-11-27T10:00:00Z'), [[id(1001), V.A]]);
      await f.user({ id: id(2), firstName: null, sizes: [{ value: '10' }] }); // no first name
      await f.wishlist(id(2), V.A, new Date('2026-11-28T01:00:00Z')); // in the cooling period
    });
    for (const result of [await runV1(url, 'v1'), await runV2(url, 'v1')]) {
      expect(result).toMatchObject({ success: true, csvFiles: [], audienceSize: 0 });
      expect(result.metadata?.reason).toBeUndefined();
    }
    // Under the default rules the same data gives six files, one row (the offer).
    const d2 = await runV2(url, undefined);
    expect(d2.csvFiles).toHaveLength(6);
    expect(d2.audienceSize).toBe(1);
  });

  test('no activity at all: "no_activity" under v1 too', async () => {
    await reset(async (f) => {
      await f.product('P', [{ id: V.A }]);
      await f.user({ id: id(1), sizes: [{ value: '10' }] });
      await f.offer(id(1), new Date('2026-11-26T23:59:59Z'), [[id(1001), V.A]]); // before the window
      await f.user({ id: id(2), deleted: true, sizes: [{ value: '10' }] });
      await f.offer(id(2), new Date('2026-11-28T06:00:00Z'), [[id(1002), V.A]]); // a deleted user's
    });
    for (const result of [await runV1(url, 'v1'), await runV2(url, 'v1')]) {
      expect(result).toMatchObject({ success: true, csvFiles: [], audienceSize: 0, metadata: { reason: 'no_activity' } });
    }
  });

  test('without asOf the v1 window has no upper bound: an action in the future counts', async () => {
    const now = Date.now();
    await reset(async (f) => {
      await f.product('P', [{ id: V.A, indexCache: { mens_size: '' } }]);
      await f.user({ id: id(100), sizes: [{ value: '10' }] });
      await f.stock(id(100), V.A, 3);
      await f.user({ id: id(1), username: 'later', firstName: 'Later', sizes: [{ value: '9' }] });
      await f.offer(id(1), new Date(now + 24 * HOUR), [[id(1001), V.A]]);
      await f.user({ id: id(2), username: 'cooling', firstName: 'Cool', sizes: [{ value: '9' }] });
      await f.offer(id(2), new Date(now - 2 * HOUR), [[id(1002), V.A]]);
      await f.user({ id: id(3), username: 'old', firstName: 'Old', sizes: [{ value: '9' }] });
      await f.offer(id(3), new Date(now - 40 * HOUR), [[id(1003), V.A]]); // before the window
    });
    const results = [await runV1(url, 'v1', { asOf: null }), await runV2(url, 'v1', { asOf: null })];
    for (const result of results) {
      expect(result.metadata?.window).toMatchObject({ end: null, endIncluded: true });
      const file = result.csvFiles.find((f) => f.audienceType === 'offer_creators' && !f.isTestFile)!;
      expect(readCsv(file.path).rows.map((r) => [r.user_id, r.relevant_variant_size])).toEqual([
        [id(1), 'Unknown'],
        [id(2), 'Unknown'],
      ]);
    }
    expect(contents(results[1])).toEqual(contents(results[0]));
    // The default rules on the same data: neither the future nor the cooling-period offer.
    const d2 = await runV2(url, undefined, { asOf: null });
    expect(d2.audienceSize).toBe(0);
  });
});

describe('rules v1 at the edges of what Python can hold', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('rules_v1_python_edges');
    const { fixture: f, close } = await Fixture.open(url);
    try {
      await f.product('P', [{ id: V.A, indexCache: { mens_size: '10' } }]);
      await f.user({ id: id(100), sizes: [{ value: '10' }] });
      await f.stock(id(100), V.A, 3);
      // lastActive values: the first and last instants Python holds, and what it cannot hold.
      const lastActive = ['0001-01-01 00:00:00', '9999-12-31 23:59:59.999999', 'infinity', '-infinity', '10000-01-01 00:00:00', '0044-03-15 12:00:00 BC'];
      for (const [i, value] of lastActive.entries()) {
        await f.user({ id: id(i + 1), sizes: [{ value: '10' }] });
        await f.query('INSERT INTO user_activities (id, user_id, last_active) VALUES ($1, $2, $3)', [id(4000 + i), id(i + 1), value]);
        await f.offer(id(i + 1), new Date(Date.now() - (i + 1) * HOUR), [[id(1000 + i), V.A]]);
      }
      // Actions no date can hold: never in a window, not even without an upper bound.
      await f.user({ id: id(20), sizes: [{ value: '10' }] });
      await f.query("INSERT INTO offers (id, creator_user_id, created_at) VALUES ($1, $2, 'infinity'), ($3, $2, '10000-01-01 00:00:00')", [id(2001), id(20), id(2002)]);
      await f.query('INSERT INTO offer_items (id, offer_id, product_variant_id) VALUES ($1, $2, $4), ($3, $5, $4)', [id(3001), id(2001), id(3002), V.A, id(2002)]);
      await f.user({ id: id(21), sizes: [{ value: '10' }] });
      await f.offer(id(21), new Date('9999-12-31T23:59:59.999Z'), [[id(3003), V.A]]);
    } finally {
      await close();
    }
  }, 120_000);

  test('both engines write the same bytes; what Python holds is its str(), the rest PostgreSQL text', async () => {
    const [v1, v2] = [await runV1(url, 'v1', { asOf: null }), await runV2(url, 'v1', { asOf: null })];
    expect(contents(v2)).toEqual(contents(v1));
    const rows = readCsv(v2.csvFiles.find((f) => f.audienceType === 'offer_creators' && !f.isTestFile)!.path).rows;
    // id(21)'s offer in 9999 counts (no upper bound); id(20)'s infinite and year-10000 offers do not.
    expect(rows.map((r) => r.user_id)).toEqual([id(21), id(1), id(2), id(3), id(4), id(5), id(6)]);
    const lastActive = Object.fromEntries(rows.map((r) => [r.user_id, r.lastActive]));
    expect(lastActive[id(1)]).toBe('0001-01-01 00:00:00');
    expect(lastActive[id(2)]).toBe('9999-12-31 23:59:59.999999');
    expect(lastActive[id(5)]).toBe('10000-01-01 00:00:00');
    expect(lastActive[id(6)]).toBe('0044-03-15 12:00:00 BC');
  });
});

describe('runV1Script passes rules to the script', () => {
  let scriptsDir: string;
  beforeAll(() => {
    scriptsDir = tmp('scripts');
    // A script that reports the arguments it got.
    fs.writeFileSync(
      path.join(scriptsDir, 'echo_args.py'),
      'import json, sys\nprint(json.dumps({"success": True, "csvFiles": [], "audienceSize": 0, "metadata": {"argv": sys.argv[1:]}}))\n',
    );
  });
  const argsOf = async (rules?: unknown) => {
    const result = await runV1Script({
      scriptId: 'echo_args',
      scriptsDir,
      lookbackHours: 48,
      coolingHours: 12,
      outputDir: tmp('echo'),
      pythonPath: python,
      env: {},
      ...(rules !== undefined ? { rules: rules as 'v1' } : {}),
    });
    return result.metadata?.argv as string[];
  };

  test("'v1' adds --rules v1, 'v2' --rules v2; undefined adds nothing (the script's default); anything else is refused", async () => {
    const v1 = await argsOf('v1');
    expect(v1.slice(-2)).toEqual(['--rules', 'v1']);
    expect((await argsOf('v2')).slice(-2)).toEqual(['--rules', 'v2']);
    expect(await argsOf()).not.toContain('--rules');
    await expect(argsOf('V1')).rejects.toThrow(RangeError);
    await expect(argsOf('v3')).rejects.toThrow("rules must be 'v1' or 'v2'");
  });

  test('the real script refuses an unknown rules value (exit 2)', () => {
    let status: number | null = null;
    let stderr = '';
    try {
      execFileSync(python, [path.join(ROOT, 'legacy', `${SCRIPT}.py`), '--rules', 'v3', '--database-url', 'postgres://x@127.0.0.1:1/x'], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      status = (error as { status: number }).status;
      stderr = String((error as { stderr: string }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toContain('--rules');
  });
});
