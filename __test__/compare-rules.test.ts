// `compare` across rule sets (docs/layer3-contract.md section 9): V1 under the production
// script's rules against V2 under the contract, every differing row attributed to a rule with
// `unexplained: 0` as the pass condition (`compare` with no rules flag: each engine at its
// default; also `--explain`); `--rules v1|v2`, both engines under the same rules, byte for byte;
// and `--v1-dir`, the files the production
// script wrote against V2 under rules v1 at their stamp's time, with demand counts changed since
// the V1 run reported apart. The counts asserted here are worked out by hand from the fixture.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  explainCompare,
  formatExplainReport,
  instantsOfWallTime,
  stampInstant,
  type AudienceExplanation,
  type ExplainReport,
  type RowCategory,
} from '../ts/compare';
import { main as compareCli } from '../ts/compare-cli';
import { main as audienceEngineCli } from '../ts/cli';
import { shutdown } from '../ts/index';
import type { CsvFile } from '../ts/types';
import { runV1Script } from '../ts/v1-executor';
import { copyAsProduction, editRow, productionStamp, swapRows } from './helpers/compare-files';
import { createTestDatabase, Fixture, id, ROOT, type SchemaVariant } from './helpers/db';
import { AS_OF, at, HOLDER, loadRulesV1Fixture, U, V } from './helpers/rules-v1-fixture';
import { scratchDirs } from './helpers/scratch';

const SCRIPT = 'generate_layer_3_push_csvs';
const AUDIENCES = ['offer_creators', 'closet_adders', 'wishlist_adders'];
const AS_OF_DATE = new Date(AS_OF);
const tmp = scratchDirs('compare-rules');
let python: string;

// One user beyond the rules-v1 fixture: a complete profile, a wishlist add in the contract's
// window (V.A, plenty of stock) and an offer in the cooling period on a variant without enough
// stock. Rules v1 pick the offer, which the demand filter drops; V2 keeps the wishlist add.
const ZED = id(30);

async function loadDatabase(name: string, variant: SchemaVariant = 'default'): Promise<string> {
  const url = await createTestDatabase(name, variant);
  await loadRulesV1Fixture(url);
  const { fixture: f, close } = await Fixture.open(url);
  try {
    await f.user({ id: ZED, username: 'zed', firstName: 'Zed', sizes: [{ value: '9' }] });
    await f.wishlist(ZED, V.A, at('27T22:00:00'));
    await f.offer(ZED, at('28T02:00:00'), [[id(1030), V.LOW]]);
  } finally {
    await close();
  }
  return url;
}

type Io = { code: number; out: string; err: string };
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Io> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await compareCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env });
  return { code, out: out.join(''), err: err.join('') };
}

/** One audience's counts in a compact form: only the non-zero ones. */
function countsOf(a: AudienceExplanation): Record<string, number> {
  const out: Record<string, number> = { v1Rows: a.v1Rows, v2Rows: a.v2Rows, same: a.same, unexplained: a.unexplained };
  for (const [k, n] of [...Object.entries(a.rules), ...Object.entries(a.apart), ...Object.entries(a.files).map(([k, n]) => [`file:${k}`, n] as const)]) {
    if (n) out[k] = n;
  }
  return out;
}

const byAudience = (report: ExplainReport) => Object.fromEntries(report.audiences.map((a) => [a.audienceType, countsOf(a)]));
const categories = (report: ExplainReport) =>
  Object.fromEntries(report.rows.map((r) => [r.userId, `${r.category} ${r.audiences.join('/')}`])) as Record<string, string>;
const names = Object.fromEntries([...Object.entries(U), ['zed', ZED]].map(([name, userId]) => [userId, name]));
const byName = (map: Record<string, string>) => Object.fromEntries(Object.entries(map).map(([userId, v]) => [names[userId] ?? userId, v]));

async function v1Run(url: string): Promise<CsvFile[]> {
  const result = await runV1Script({
    scriptId: SCRIPT,
    lookbackHours: 48,
    coolingHours: 12,
    outputDir: tmp('v1'),
    databaseUrl: url,
    pythonPath: python,
    env: {},
    asOf: AS_OF,
    rules: 'v1',
  });
  return result.csvFiles;
}

beforeAll(() => {
  python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
});

afterAll(async () => {
  await shutdown();
});

// The attribution of V1 (rules v1) against V2 (rules v2) on this data, user by user:
//   offer_creators  same: jo, kai, ivy; cooling period: quin (offer at asOf), cal (offer at 28T06);
//                   incomplete profile: hal (size ''), gus (no size), fay (NULL name), eve ('' name);
//                   wider window: dee (V1: offer at 28T03; V2: closet add); format: ada (lastActive)
//   closet_adders   format: max (Unknown for ''); wider window: dee (counted in both audiences)
//   wishlist_adders incomplete profile: pia (no size); wider window: zed (V1's winner, an offer in
//                   the cooling period, fails the demand filter); no V1 file: empty audience
const EXPECTED_USERS = {
  quin: 'coolingPeriod offer_creators',
  cal: 'coolingPeriod offer_creators',
  dee: 'widerWindow offer_creators/closet_adders',
  ada: 'format offer_creators',
  hal: 'incompleteProfile offer_creators',
  gus: 'incompleteProfile offer_creators',
  fay: 'incompleteProfile offer_creators',
  eve: 'incompleteProfile offer_creators',
  max: 'format closet_adders',
  pia: 'incompleteProfile wishlist_adders',
  zed: 'widerWindow wishlist_adders',
};
const EXPECTED_AUDIENCES = {
  offer_creators: {
    v1Rows: 7,
    v2Rows: 8,
    same: 3,
    coolingPeriod: 2,
    incompleteProfile: 4,
    widerWindow: 1,
    format: 1,
    'file:lineEnds': 1,
    'file:testFile': 1,
    unexplained: 0,
  },
  closet_adders: { v1Rows: 1, v2Rows: 2, same: 0, widerWindow: 1, format: 1, 'file:lineEnds': 1, 'file:testFile': 1, unexplained: 0 },
  wishlist_adders: { v1Rows: 0, v2Rows: 2, same: 0, incompleteProfile: 1, widerWindow: 1, 'file:emptyAudience': 1, unexplained: 0 },
};

describe.each<[SchemaVariant]>([['default'], ['alternate']])('--explain on the %s schema: V1 under rules v1 against V2 under v2', (variant) => {
  let url: string;
  beforeAll(async () => {
    url = await loadDatabase(`compare_rules_explain_${variant}`, variant);
  }, 120_000);

  test('attributes every differing row to its rule, with the exact counts per audience, and unexplained: 0', async () => {
    const report = await explainCompare({ databaseUrl: url, asOf: AS_OF, pythonPath: python, env: {}, outDir: tmp('explain') });
    expect(byName(categories(report))).toEqual(EXPECTED_USERS);
    expect(byAudience(report)).toEqual(EXPECTED_AUDIENCES);
    expect(report.totals).toEqual({
      same: 3,
      rules: { coolingPeriod: 2, incompleteProfile: 5, widerWindow: 3, tieOrSize: 0, format: 2 },
      apart: { countChanged: 0, windowEdge: 0 },
      files: { emptyAudience: 1, lineEnds: 2, testFile: 2, orderTies: 0 },
      unexplained: 0,
    });
    expect(report).toMatchObject({ mode: 'explain', v1Source: 'run', v1Rules: 'v1', v2Rules: 'v2', v1MatchesReference: true, unexplained: 0, pass: true });
    expect(report.v1AudienceSize).toBe(8);
    expect(report.v2AudienceSize).toBe(12);
    expect(report.windows).toEqual({
      v1: { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T12:00:00.000Z' },
      v2: { start: '2026-11-27T00:00:00.000Z', end: '2026-11-28T00:00:00.000Z' },
    });
    // The reasons carry the facts checked: the action and its time, the count against the threshold.
    const reason = (userId: string) => report.rows.find((r) => r.userId === userId)!.reason;
    expect(reason(U.cal)).toBe(`V1's row comes from the user's offer_created at 2026-11-28T06:00:00.000Z (variant ${V.N}), in the cooling period`);
    expect(reason(U.dee)).toContain(`offer_created at 2026-11-28T03:00:00.000Z (variant ${V.B}), in the cooling period; V2's window ends before it (V2 has closet_add`);
    expect(reason(ZED)).toBe(
      `V1's winner, the user's offer_created at 2026-11-28T02:00:00.000Z (variant ${V.LOW}) in the cooling period, fails the demand filter (inventory_count 2 < 3); V2's window ends before it`,
    );
    expect(reason(U.fay)).toBe('no first name: rules v1 drop the row, as the production script does');
    expect(report.rows.find((r) => r.userId === U.max)!.columns).toEqual([{ column: 'relevant_variant_size', v1: 'Unknown', v2: '' }]);

    const text = formatExplainReport(report);
    expect(text).toMatch(/^acted in the cooling period\s+2\s+0\s+0\s+2$/m);
    expect(text).toMatch(/^incomplete profile \(V1 drops the row\)\s+4\s+0\s+1\s+5$/m);
    expect(text).toMatch(/^another action won \(wider window\)\s+1\s+1\s+1\s+3$/m);
    expect(text).toMatch(/^unexplained\s+0\s+0\s+0\s+0$/m);
    expect(text).toContain('unexplained: 0\nRESULT: EXPLAINED');
  });

  test('V1 files that differ from V2 under rules v1 are unexplained (an engine bug)', async () => {
    // A "python" that runs the real V1 script, then renames one product in its offer creators file.
    const wrapper = path.join(tmp('wrapper'), 'python.sh');
    fs.writeFileSync(
      wrapper,
      [
        '#!/usr/bin/env bash',
        `"${python}" "$@" || exit $?`,
        'out=""; prev=""; for a in "$@"; do [ "$prev" = "--output-dir" ] && out="$a"; prev="$a"; done',
        `sed -i "/^${U.jo},/s/Yeezy 350/Yeezy 351/" "$out"/recent-offer-creators_2*.csv`,
      ].join('\n') + '\n',
      { mode: 0o755 },
    );
    const report = await explainCompare({ databaseUrl: url, asOf: AS_OF, pythonPath: wrapper, env: {}, outDir: tmp('explain-bad') });
    expect(report.v1MatchesReference).toBe(false);
    expect(byName(categories(report))).toEqual({ ...EXPECTED_USERS, jo: 'unexplained offer_creators' });
    expect(byAudience(report).offer_creators).toEqual({ ...EXPECTED_AUDIENCES.offer_creators, same: 2, unexplained: 1 });
    expect(report.unexplained).toBe(1);
    expect(report.pass).toBe(false);
    const jo = report.rows.find((r) => r.userId === U.jo)!;
    expect(jo).toMatchObject({ against: 'reference', columns: [{ column: 'product_name', v1: 'Yeezy 351', v2: 'Yeezy 350' }] });
    expect(jo.reason).toBe('V1 and V2 under rules v1 disagree: product_name');
  });
});

describe('--v1-dir: the production script\'s files against V2 under rules v1', () => {
  let url: string;
  let v1Files: CsvFile[];
  beforeAll(async () => {
    url = await loadDatabase('compare_rules_dir');
    v1Files = await v1Run(url);
  }, 120_000);

  /** The V1 files under production names (test files stamped at `testAt`, production a second later). */
  const productionDir = (testAt = AS_OF_DATE, zone = 'UTC') => {
    const dir = tmp('prod');
    return { dir, files: copyAsProduction(v1Files, dir, testAt, zone) };
  };

  test('files the script wrote at asOf match V2 row for row; asOf is their stamp, read in --v1-timezone', async () => {
    // Stamped in New York time: 07:00:00 EST is 12:00:00Z.
    const { dir, files } = productionDir(AS_OF_DATE, 'America/New_York');
    expect(Object.values(files).map((f) => path.basename(f)).sort()).toEqual([
      'recent-closet-adders_20261128_070001.csv',
      'recent-closet-adders_TEST_20261128_070000.csv',
      'recent-offer-creators_20261128_070001.csv',
      'recent-offer-creators_TEST_20261128_070000.csv',
    ]);
    const report = await explainCompare({ databaseUrl: url, v1Dir: dir, v1TimeZone: 'America/New_York', env: {}, outDir: tmp('dir-same') });
    expect(report).toMatchObject({
      v1Source: 'dir',
      v2Rules: 'v1',
      referenceDir: null,
      asOf: '2026-11-28T12:00:00.000Z',
      asOfSource: 'file stamp',
      v1Stamps: ['20261128_070000', '20261128_070001'],
      v1TimeZone: 'America/New_York',
      v1MatchesReference: true,
      unexplained: 0,
      pass: true,
      rows: [],
      files: [],
    });
    expect(byAudience(report)).toEqual({
      offer_creators: { v1Rows: 7, v2Rows: 7, same: 7, unexplained: 0 },
      closet_adders: { v1Rows: 1, v2Rows: 1, same: 1, unexplained: 0 },
      wishlist_adders: { v1Rows: 0, v2Rows: 0, same: 0, unexplained: 0 },
    });
  });

  test('a changed product name is unexplained: 1, and the CLI exits 1', async () => {
    const { dir, files } = productionDir();
    editRow(files['recent-offer-creators_'], U.kai, (line) => line.replace('Patta', 'Pata'));
    const report = await explainCompare({ databaseUrl: url, v1Dir: dir, env: {}, outDir: tmp('dir-bad') });
    expect(report.unexplained).toBe(1);
    expect(report.rows).toEqual([
      expect.objectContaining({
        userId: U.kai,
        category: 'unexplained',
        audiences: ['offer_creators'],
        columns: [{ column: 'product_name', v1: 'Air Max 1, "Pata"', v2: 'Air Max 1, "Patta"' }],
      }),
    ]);
    expect(byAudience(report).offer_creators).toEqual({ v1Rows: 7, v2Rows: 7, same: 6, unexplained: 1 });

    const run = await cli(['--database-url', url, '--v1-dir', dir, '--out', tmp('dir-bad-cli')]);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^unexplained\s+1\s+0\s+0\s+1$/m);
    expect(run.out).toContain(`UNEXPLAINED rows (1):\n  offer_creators ${U.kai}: V1's production files and V2 under rules v1 disagree: product_name`);
    expect(run.out).toContain('unexplained: 1\nRESULT: UNEXPLAINED');
  });

  test('what production does differently where the script is not deterministic: ties, sizes, activity rows, row order, lastActive text', async () => {
    const { dir, files } = productionDir();
    const offers = files['recent-offer-creators_'];
    // ada: another of her two preferred sizes ("9.5" > "10" in byte order) and her other activity row.
    editRow(offers, U.ada, (line) => line.replace(',Ada,10,', ',Ada,9.5,').replace('2026-11-27 21:30:15.120000', '2026-11-26 08:00:00'));
    // ivy: her two offers have the same time: production may take the other one (V.N).
    editRow(offers, U.ivy, (line) => line.replace(/,10,"Air Max 1, ""Patta""",[^,]+,,6$/, `,10.5,Dunk Low,${V.N},,3`));
    // cal: the same lastActive written with another offset (a session in another time zone).
    editRow(offers, U.cal, (line) => line.replace('2026-11-28 05:00:00', '2026-11-28 00:00:00-05:00'));
    // jo and kai: the same newest time (27T18:00): the database may return them in either order.
    swapRows(offers, U.jo, U.kai);
    // kai: a size V2 would never pick over "9" ("1" < "9" in byte order): unexplained.
    editRow(offers, U.kai, (line) => line.replace(',Kai,9,', ',Kai,1,'));
    const report = await explainCompare({ databaseUrl: url, v1Dir: dir, env: {}, outDir: tmp('dir-ties') });
    expect(byName(categories(report))).toEqual({
      ada: 'tieOrSize offer_creators',
      ivy: 'tieOrSize offer_creators',
      cal: 'format offer_creators',
      kai: 'unexplained offer_creators',
    });
    expect(byAudience(report).offer_creators).toEqual({ v1Rows: 7, v2Rows: 7, same: 3, tieOrSize: 2, format: 1, 'file:orderTies': 1, unexplained: 1 });
    const reason = (userId: string) => report.rows.find((r) => r.userId === userId)!.reason;
    expect(reason(U.ada)).toBe(
      'several preferred sizes: V1 took "9.5", V2 the smallest "10"; several user_activities rows: V1 took "2026-11-26 08:00:00", V2 the latest "2026-11-27 21:30:15.120000"',
    );
    expect(reason(U.ivy)).toContain(`a tie: the user's offer_created actions at 2026-11-27T17:00:00.000Z include variants ${V.N} (V1) and ${V.A}`);
  });

  test('an action just after the V1 run, inside the window a later stamp gives, is reported apart as a window edge', async () => {
    // Stamped a minute after asOf: rex's offer at asOf + 1 s falls into V2's window.
    const { dir } = productionDir(new Date(AS_OF_DATE.getTime() + 60_000));
    const report = await explainCompare({ databaseUrl: url, v1Dir: dir, env: {}, outDir: tmp('dir-edge') });
    expect(report.asOf).toBe('2026-11-28T12:01:00.000Z');
    expect(byName(categories(report))).toEqual({ rex: 'windowEdge offer_creators' });
    // rex is row 1 now, so V2's test row (row 2) is quin's: each follows its own file's rows.
    expect(byAudience(report).offer_creators).toEqual({ v1Rows: 7, v2Rows: 8, same: 7, windowEdge: 1, 'file:testFile': 1, unexplained: 0 });
    expect(report.rows[0].reason).toBe(
      "the user's offer_created at 2026-11-28T12:00:01.000Z (variant " + V.A + ") is within 600 s of an edge of the window; V1's now() came before its file stamp",
    );
    expect(report.pass).toBe(true);
    // Without the tolerance it is unexplained; an explicit --as-of puts the window back.
    const strict = await cli(['--database-url', url, '--v1-dir', dir, '--edge-seconds', '0', '--json', '--out', tmp('dir-edge-0')]);
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.out)).toMatchObject({ unexplained: 1, edgeSeconds: 0 });
    const pinned = await cli(['--database-url', url, '--v1-dir', dir, '--as-of', AS_OF, '--json', '--out', tmp('dir-edge-asof')]);
    expect(pinned.code).toBe(0);
    expect(JSON.parse(pinned.out)).toMatchObject({ asOf: AS_OF, asOfSource: 'option', rows: [], unexplained: 0 });
  });

  test('--explain with --v1-dir attributes the production files against V2\'s default rules too', async () => {
    const { dir } = productionDir();
    const report = await explainCompare({ databaseUrl: url, v1Dir: dir, v2Rules: 'v2', env: {}, outDir: tmp('dir-explain') });
    expect(report.referenceDir).not.toBeNull();
    expect(byName(categories(report))).toEqual(EXPECTED_USERS);
    expect(byAudience(report)).toEqual(EXPECTED_AUDIENCES);
    expect(report.pass).toBe(true);
  });

  test('demand counts changed since the V1 run are reported apart, row by row', async () => {
    const { dir } = productionDir();
    const before = await explainCompare({ databaseUrl: url, v1Dir: dir, env: {}, outDir: tmp('dir-before') });
    expect(before.rows).toEqual([]);
    const { fixture: f, close } = await Fixture.open(url);
    try {
      // max's variant V.B: one more wish (2 -> 3): a row equal but for its count.
      await f.wanted(HOLDER, V.B, 1);
      // cal's variant V.N: one item sold (3 -> 2): V1's row fell below the threshold.
      await f.query(
        "UPDATE inventory_items SET status = 'SOLD' WHERE id = (SELECT id FROM inventory_items WHERE product_variant_id = $1 AND user_id = $2 AND status = 'OPEN_FOR_TRADE' LIMIT 1)",
        [V.N, HOLDER],
      );
      // V.LOW: one more item (2 -> 3): lu's and zed's offers and ola's wish now pass.
      await f.stock(HOLDER, V.LOW, 1);
    } finally {
      await close();
    }
    const report = await explainCompare({ databaseUrl: url, v1Dir: dir, env: {}, outDir: tmp('dir-after') });
    expect(byName(categories(report))).toEqual({
      max: 'countChanged closet_adders',
      cal: 'countChanged offer_creators',
      lu: 'countChanged offer_creators',
      zed: 'countChanged offer_creators',
      ola: 'countChanged wishlist_adders',
    });
    expect(byAudience(report)).toEqual({
      offer_creators: { v1Rows: 7, v2Rows: 8, same: 6, countChanged: 3, 'file:testFile': 1, unexplained: 0 },
      closet_adders: { v1Rows: 1, v2Rows: 1, same: 0, countChanged: 1, 'file:testFile': 1, unexplained: 0 },
      wishlist_adders: { v1Rows: 0, v2Rows: 1, same: 0, countChanged: 1, 'file:emptyAudience': 1, unexplained: 0 },
    });
    const reason = (userId: string) => report.rows.find((r) => r.userId === userId)!.reason;
    expect(reason(U.max)).toBe('wishlist_count was 2 in V1\'s file and is 3 now');
    expect(reason(U.cal)).toBe(`inventory_count of V1's offer_created (variant ${V.N}) was 3 in V1's file and is 2 < 3 now`);
    expect(reason(U.ola)).toContain(`inventory_count of the user's wishlist_add (variant ${V.LOW}) is 3 >= 3 now, and no V1 row shows that variant's count`);
    expect(report.pass).toBe(true);

    const run = await cli(['--database-url', url, '--v1-dir', dir, '--out', tmp('dir-after-cli')]);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^apart: demand count changed since the V1 run\s+3\s+1\s+1\s+5$/m);
    expect(run.out).toContain('Reported apart: demand count changed since the V1 run (5):');
    expect(run.out).toContain('RESULT: EXPLAINED (every difference follows a rule of docs/layer3-contract.md section 9; 5 rows reported apart');
  });
});

describe('the compare CLI across rules', () => {
  let url: string;
  beforeAll(async () => {
    url = await loadDatabase('compare_rules_cli');
  }, 120_000);

  test('--explain prints the table and exits 0; --json parses; audience-engine compare does the same', async () => {
    const run = await cli(['--database-url', url, '--as-of', AS_OF, '--explain', '--python', python, '--out', tmp('cli')]);
    expect({ code: run.code, err: run.code === 0 ? '' : run.err }).toEqual({ code: 0, err: '' });
    expect(run.out).toContain('compare: V1 (rules v1, the production script\'s) against V2 (rules v2, the contract)');
    expect(run.out).toMatch(/^\s+offer_creators\s+closet_adders\s+wishlist_adders\s+total$/m);
    expect(run.out).toMatch(/^rows in V1 \(rules v1\)\s+7\s+1\s+0\s+8$/m);
    expect(run.out).toMatch(/^rows in V2 \(rules v2\)\s+8\s+2\s+2\s+12$/m);
    expect(run.out).toMatch(/^same in both\s+3\s+0\s+0\s+3$/m);
    expect(run.out).toMatch(/^acted in the cooling period\s+2\s+0\s+0\s+2$/m);
    expect(run.out).toMatch(/^format only \(lastActive, Unknown\)\s+1\s+1\s+0\s+2$/m);
    expect(run.out).toMatch(/^file: empty audience \(no file on one side\)\s+0\s+0\s+1\s+1$/m);
    expect(run.out).toContain('unexplained: 0\nRESULT: EXPLAINED');
    expect(run.err).toContain('[compare] V1 (generate_layer_3_push_csvs.py, rules v1)');

    const json = await cli(['--database-url', url, '--as-of', AS_OF, '--v1-rules', 'v1', '--v2-rules', 'v2', '--python', python, '--json', '--out', tmp('cli-json')]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.out) as ExplainReport;
    expect(byAudience(report)).toEqual(EXPECTED_AUDIENCES);
    expect(json.err).toBe(''); // --json: no progress

    // audience-engine compare with no rules flag: the same comparison (each engine's default).
    const out: string[] = [];
    const code = await audienceEngineCli(['compare', '--database-url', url, '--as-of', AS_OF, '--python', python, '--json', '--out', tmp('cli-ae')], {
      stdout: (t) => out.push(t),
      stderr: () => undefined,
      env: {},
      isTTY: false,
    });
    expect(code).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ mode: 'explain', v1Rules: 'v1', v2Rules: 'v2', totals: { unexplained: 0 } });
  });

  test('with no rules flag compare runs each engine at its default, V1 under v1 and V2 under v2: the explained comparison, exit 0', async () => {
    const run = await cli(['--database-url', url, '--as-of', AS_OF, '--python', python, '--out', tmp('cli-default')]);
    expect({ code: run.code, err: run.code === 0 ? '' : run.err }).toEqual({ code: 0, err: '' });
    expect(run.out).toContain('compare: V1 (rules v1, the production script\'s) against V2 (rules v2, the contract)');
    expect(run.out).toContain('V1 = V2 under rules v1, byte for byte: yes');
    expect(run.out).toMatch(/^rows in V1 \(rules v1\)\s+7\s+1\s+0\s+8$/m);
    expect(run.out).toMatch(/^rows in V2 \(rules v2\)\s+8\s+2\s+2\s+12$/m);
    expect(run.out).toMatch(/^acted in the cooling period\s+2\s+0\s+0\s+2$/m);
    expect(run.out).toContain('unexplained: 0\nRESULT: EXPLAINED');
    expect(run.out).not.toContain('RESULT: SAME');
    expect(run.err).toContain('[compare] V1 (generate_layer_3_push_csvs.py, rules v1)');
  });

  test('the same rules still want the same files: --rules v1 (passed to both engines) exits 0 with RESULT: SAME', async () => {
    const run = await cli(['--database-url', url, '--as-of', AS_OF, '--rules', 'v1', '--python', python, '--out', tmp('cli-same')]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('both under rules v1');
    expect(run.out).toContain('RESULT: SAME');
    expect(run.err).toContain('[compare] V1 (generate_layer_3_push_csvs.py, rules v1)');
    expect(run.err).toContain('[compare] V2 (generate_layer_3_push_csvs in the native registry, rules v1)');
    // --v2-rules v1 alone: V1 at its default (v1) too, so the same check.
    const v2Only = await cli(['--database-url', url, '--as-of', AS_OF, '--v2-rules', 'v1', '--python', python, '--json', '--out', tmp('cli-same-v2')]);
    expect(v2Only.code).toBe(0);
    expect(JSON.parse(v2Only.out)).toMatchObject({ same: true, rules: 'v1' });
  });

  test('--rules v2 runs both engines under the contract: on this data too, the same files', async () => {
    const run = await cli(['--database-url', url, '--as-of', AS_OF, '--rules', 'v2', '--python', python, '--json', '--out', tmp('cli-same-v2-rules')]);
    expect({ code: run.code, err: run.code === 0 ? '' : run.err }).toEqual({ code: 0, err: '' });
    const report = JSON.parse(run.out);
    expect(report).toMatchObject({ same: true, rules: 'v2', v1AudienceSize: 12, v2AudienceSize: 12 });
  });

  test('usage errors exit 2 with a clear message', async () => {
    const db = ['--database-url', url];
    const cases: [string[], string][] = [
      [['--explain', '--rules', 'v1'], '--explain runs V1 under rules v1 and V2 under v2: leave out --rules'],
      [['--v1-rules', 'v2', '--v2-rules', 'v1'], 'is not a comparison compare explains; use --explain'],
      [['--v1-rules', 'v3'], '--v1-rules must be v1 or v2, got "v3"'],
      [['--v1-stamp', '20261128_120000'], '--v1-stamp goes with --v1-dir'],
      [['--v1-dir', tmp('empty'), '--python', python], '--python has no use with --v1-dir'],
      [['--v1-dir', tmp('empty'), '--rules', 'v2'], "--v1-dir holds the production script's files, which follow rules v1"],
      [['--v1-dir', tmp('empty'), '--v1-timezone', 'Mars/Olympus'], '--v1-timezone must be an IANA time zone name'],
      [['--v1-dir', tmp('empty'), '--edge-seconds', '-1'], '--edge-seconds must be a number of seconds >= 0'],
      [['--v1-dir', tmp('empty')], 'holds no V1 files (recent-offer-creators_YYYYMMDD_HHMMSS.csv, …)'],
      [['--v1-dir', path.join(tmp('missing'), 'nope')], 'cannot be read'],
    ];
    for (const [argv, message] of cases) {
      const run = await cli([...db, ...argv]);
      expect({ argv, code: run.code, err: run.err.includes(message) ? message : run.err }).toEqual({ argv, code: 2, err: message });
    }
  });

  test('V1 file stamps: several runs need --v1-stamp; a stamp the zone skipped or repeated needs --as-of', async () => {
    const dir = tmp('stamps');
    const header = 'user_id,username,firstName,usersize,relevant_variant_size,product_name,variantID,lastActive,inventory_count\r\n';
    const write = (name: string) => fs.writeFileSync(path.join(dir, name), header);
    write('recent-offer-creators_20261128_120001.csv');
    write('recent-offer-creators_TEST_20261128_120000.csv');
    write('recent-offer-creators_20261127_120001.csv');
    const several = await cli(['--database-url', url, '--v1-dir', dir]);
    expect(several.code).toBe(2);
    expect(several.err).toContain(`holds the files of 2 runs (stamps 20261127_120001, 20261128_120001); pick one with --v1-stamp STAMP`);
    const unknown = await cli(['--database-url', url, '--v1-dir', dir, '--v1-stamp', '20261126_120000']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('--v1-stamp 20261126_120000: no V1 files with that stamp');

    // 2026-11-01 01:30 happened twice in New York; 2026-03-08 02:30 never did.
    expect(instantsOfWallTime('America/New_York', Date.UTC(2026, 10, 1, 1, 30))).toEqual([Date.parse('2026-11-01T05:30:00Z'), Date.parse('2026-11-01T06:30:00Z')]);
    expect(() => stampInstant('20261101_013000', 'production', 'America/New_York')).toThrow(
      'the file stamp 20261101_013000 (2026-11-01 01:30:00) is ambiguous in America/New_York (the clocks went back: 2026-11-01T05:30:00.000Z or 2026-11-01T06:30:00.000Z); pass --as-of',
    );
    expect(() => stampInstant('20260308_023000', 'production', 'America/New_York')).toThrow('never happened in America/New_York (the clocks went forward)');
    expect(stampInstant('20261128_070000', 'production', 'America/New_York')).toBe('2026-11-28T12:00:00.000Z');
    expect(stampInstant('20261128T120000-2', 'utc', 'America/New_York')).toBe('2026-11-28T12:00:00.000Z');
    expect(productionStamp(new Date('2026-11-01T06:30:00Z'), 'America/New_York')).toBe('20261101_013000');

    const ambiguousDir = tmp('ambiguous');
    fs.writeFileSync(path.join(ambiguousDir, 'recent-offer-creators_20261101_013001.csv'), header);
    const ambiguous = await cli(['--database-url', url, '--v1-dir', ambiguousDir, '--v1-timezone', 'America/New_York']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.err).toContain('is ambiguous in America/New_York');
  });

  test('a failed V2 run exits 3 and never prints the password', async () => {
    const { dir } = { dir: tmp('fail') };
    fs.writeFileSync(
      path.join(dir, 'recent-closet-adders_20261128_120000.csv'),
      'user_id,username,firstName,usersize,relevant_variant_size,product_name,variantID,lastActive,wishlist_count\r\n',
    );
    const run = await cli(['--v1-dir', dir], { DATABASE_URL: 'postgres://postgres:cmp-s3cret-pw@127.0.0.1:1/none' });
    expect(run.code).toBe(3);
    expect(run.err).toContain('the V2 run (rules v1) failed (DATABASE_UNREACHABLE)');
    expect(run.err).not.toContain('cmp-s3cret-pw');
  });
});

// Exported for the type checker only: every category name the tests above use exists.
export const CATEGORY_NAMES: RowCategory[] = ['coolingPeriod', 'incompleteProfile', 'widerWindow', 'tieOrSize', 'format', 'countChanged', 'windowEdge', 'unexplained'];
