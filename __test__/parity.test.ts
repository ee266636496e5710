// V1 (legacy/generate_layer_3_push_csvs.py) and V2 (the Rust generator) under the contract's
// rules (`rules: 'v2'`, `--rules v2`: V1's own default is the production script's) on the same
// database and as-of time produce the same production files; `compare --rules v2` (library and
// CLI) says so, and on a database changed between the two runs it reports exactly the changed
// users.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { executeAudienceGeneration, type AudienceGenerationResult } from '../ts/automation';
import { compareEngines, formatReport, type CompareReport } from '../ts/compare';
import { main as compareCli } from '../ts/compare-cli';
import { shutdown } from '../ts/index';
import { readCsv } from './helpers/csv';
import { createTestDatabase, Fixture, HOUR, id, ROOT, type SchemaVariant } from './helpers/db';

const AS_OF = '2024-06-10T12:00:00Z';
const AS_OF_DATE = new Date(AS_OF);
// Default window: [asOf-36h, asOf-12h) = [2024-06-09T00:00Z, 2024-06-10T00:00Z).
const at = (hoursBefore: number) => new Date(AS_OF_DATE.getTime() - hoursBefore * HOUR);
const WINDOW_START = at(36);
const WINDOW_END = at(12);

// Variants.
const V_HOT = id(101); // plenty of stock and wishes
const V_EMOJI = id(102); // exactly at both thresholds (3 in stock, 2 wished)
const V_LOW = id(103); // below both thresholds (a deleted holder's stock does not count)
const V_NOSIZE = id(104); // index_cache without mens_size -> Unknown
const V_NULLCACHE = id(105); // index_cache NULL -> Unknown
const V_CR = id(106); // product name with \r and spaces

// Users.
const HOLDER = id(90);
const DELETED_HOLDER = id(91);
const U = (n: number) => id(n);

const AUDIENCES = ['offer_creators', 'closet_adders', 'wishlist_adders'];

let python: string;
let scratch: string;

async function buildFixture(url: string): Promise<void> {
  const { fixture: f, close } = await Fixture.open(url);
  try {
    await f.product('Air Jordan 1, "Chicago"', [{ id: V_HOT, indexCache: { mens_size: '10.5' } }]);
    await f.product('Dunk 🐼 "Panda",\nLow', [{ id: V_EMOJI, indexCache: { mens_size: '9.5', colour: 'b/w' } }]);
    await f.product('Plain', [{ id: V_LOW }]);
    await f.product("Yeezy 350 'Zebra', v2", [{ id: V_NOSIZE, indexCache: { womens_size: '8' } }]);
    await f.product('Null cache', [{ id: V_NULLCACHE, indexCache: null }]);
    await f.product(' Carriage\rReturn  ', [{ id: V_CR, indexCache: { mens_size: '=1+1' } }]);

    await f.user({ id: HOLDER, username: 'holder' });
    await f.user({ id: DELETED_HOLDER, username: 'gone_holder', deleted: true });
    await f.stock(HOLDER, V_HOT, 5);
    await f.wanted(HOLDER, V_HOT, 3);
    // Counts include the acting users' own items: V_EMOJI has 2 + U(9)'s closet item = 3 open
    // items and 1 + U(14)'s wish = 2 wishes; V_LOW has 1 + U(10)'s = 2 items and U(15)'s wish = 1.
    await f.stock(HOLDER, V_EMOJI, 2);
    await f.wanted(HOLDER, V_EMOJI, 1);
    await f.stock(HOLDER, V_LOW, 1);
    await f.stock(DELETED_HOLDER, V_LOW, 5);
    await f.wanted(DELETED_HOLDER, V_LOW, 5);
    await f.stock(HOLDER, V_NOSIZE, 4);
    await f.stock(HOLDER, V_NULLCACHE, 3);
    await f.wanted(HOLDER, V_CR, 2);
    await f.inventory(HOLDER, V_HOT, new Date('2020-01-01T00:00:00Z'), { status: 'SOLD' }); // not counted

    // Offer creators.
    await f.user({
      id: U(1),
      username: 'alice',
      firstName: 'Alice',
      sizes: [{ value: '9.5' }, { value: '10' }, { value: '8', preferred: false }, { value: '4', attribute: 'shoe_size' }],
      lastActive: [new Date('2024-06-08T10:00:00Z')],
    });
    // Microseconds, which a JS Date cannot carry.
    await f.query("INSERT INTO user_activities (id, user_id, last_active) VALUES ($1, $2, '2024-06-10 09:30:15.123456+00')", [id(4001), U(1)]);
    // Two items: the one with the smallest id (1000 -> V_EMOJI) represents the offer.
    await f.offer(U(1), at(13), [[id(1001), V_HOT], [id(1000), V_EMOJI]]);
    await f.inventory(U(1), V_HOT, at(14)); // lower priority than the offer
    await f.user({ id: U(2), username: 'bob', firstName: null }); // no sizes, no lastActive
    await f.offer(U(2), at(20), [[id(1002), V_HOT]]);
    await f.user({ id: U(3), username: 'carol' });
    await f.offer(U(3), at(15), [[id(1003), V_LOW]]); // dropped: no fallback to the wishlist add below
    await f.wishlist(U(3), V_HOT, at(16));
    await f.user({ id: U(4), username: 'deleted_dan', deleted: true });
    await f.offer(U(4), at(14), [[id(1004), V_HOT]]);
    await f.user({ id: U(5), username: 'erin', sizes: [{ value: '11' }] });
    await f.offer(U(5), WINDOW_START, [[id(1005), V_NOSIZE]]); // start of the window: included
    await f.user({ id: U(6), username: 'frank' });
    await f.offer(U(6), WINDOW_END, [[id(1006), V_HOT]]); // end of the window: excluded
    await f.user({ id: U(7), username: 'grace', firstName: 'Grâce' });
    // Two offers at the same time: the smallest offer id (2000 -> V_NULLCACHE) wins.
    await f.offer(U(7), at(18), [[id(1008), V_HOT]], id(2001));
    await f.offer(U(7), at(18), [[id(1007), V_NULLCACHE]], id(2000));
    await f.user({ id: U(21), username: 'empty_offer' });
    await f.offer(U(21), at(17), []); // no items: no activity

    // Closet adders.
    await f.user({ id: U(8), username: 'smith, jr', firstName: 'John "JJ"', lastActive: [new Date('2024-06-09T23:59:59Z')] });
    await f.inventory(U(8), V_HOT, at(14));
    await f.user({ id: U(9), username: 'ivy', sizes: [{ value: 'M' }] });
    await f.inventory(U(9), V_EMOJI, at(20));
    await f.user({ id: U(10), username: 'jack' });
    await f.inventory(U(10), V_LOW, at(21)); // dropped (1 live wish)
    await f.user({ id: U(11), username: 'kim' });
    await f.inventory(U(11), V_HOT, at(22), { status: 'SOLD' }); // not activity
    await f.user({ id: U(12), username: 'lee', firstName: 'Zoë 🎉' });
    await f.inventory(U(12), V_CR, at(23));

    // Wishlist adders.
    await f.user({ id: U(13), username: 'mia' });
    await f.wishlist(U(13), V_HOT, at(15));
    await f.user({ id: U(14), username: 'ned', firstName: 'Ned\nNewline' });
    await f.wishlist(U(14), V_EMOJI, at(30));
    await f.user({ id: U(15), username: 'olga' });
    await f.wishlist(U(15), V_LOW, at(25)); // dropped (2 open items)
    await f.user({ id: U(16), username: 'pat' });
    await f.wishlist(U(16), V_HOT, at(26), { deleted: true }); // not activity
    await f.user({ id: U(17), username: 'quinn\r\nq', firstName: '' });
    await f.wishlist(U(17), V_NOSIZE, at(27));
    // Same time as U(13): ties go to user_id ascending.
    await f.user({ id: U(19), username: 'sam' });
    await f.wishlist(U(19), V_HOT, at(15));
    await f.user({ id: U(18), username: 'rita' });
    await f.wishlist(U(18), V_HOT, at(15));
    // A user with two wishes at the same time: the smallest wishlist item id wins.
    await f.user({ id: U(20), username: 'tom' });
    await f.wishlist(U(20), V_NOSIZE, at(29), { id: id(3001) });
    await f.wishlist(U(20), V_HOT, at(29), { id: id(3000) });
    // Recent activity of several kinds: the order uses the most recent action of any type.
    await f.user({ id: U(22), username: 'uma' });
    await f.wishlist(U(22), V_HOT, at(34));
    await f.offer(U(22), at(12.5), [[id(1022), V_LOW]]); // offer wins and is dropped: U(22) absent
    await f.user({ id: U(23), username: 'vic' });
    await f.wishlist(U(23), V_HOT, at(35));
    await f.inventory(U(23), V_LOW, at(12.2), { status: 'HIDDEN' }); // not activity
  } finally {
    await close();
  }
}

function byAudience(result: AudienceGenerationResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const file of result.csvPaths) {
    const base = path.basename(file);
    const type = base.startsWith('recent-offer-creators_')
      ? 'offer_creators'
      : base.startsWith('recent-closet-adders_')
        ? 'closet_adders'
        : base.startsWith('recent-wishlist-adders_')
          ? 'wishlist_adders'
          : base;
    out[type] = file;
  }
  return out;
}

async function runBoth(url: string) {
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  // The contract's rules for both: V1's default would be the production script's.
  const common = { databaseUrl: url, asOf: AS_OF, pythonPath: python, logger, env: {}, rules: 'v2' as const };
  const v1 = await executeAudienceGeneration(
    { id: 'parity', audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs' } } },
    { ...common, engineVersion: 'v1', outputDir: fs.mkdtempSync(path.join(scratch, 'v1-')) },
  );
  const v2 = await executeAudienceGeneration(
    { id: 'parity', audienceCriteria: { customScript: { scriptId: 'generate_layer_3_push_csvs' } } },
    { ...common, engineVersion: 'v2', outputDir: fs.mkdtempSync(path.join(scratch, 'v2-')) },
  );
  return { v1, v2 };
}

beforeAll(() => {
  python = execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-python.sh')], { encoding: 'utf8' }).trim();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-parity-'));
});

afterAll(async () => {
  await shutdown();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe.each<[SchemaVariant]>([['default'], ['alternate']])('parity on the %s schema', (variant) => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase(`parity_${variant}`, variant);
    await buildFixture(url);
  }, 120_000);

  test('V1 and V2 write the same headers, in the same order, and the same rows in the same order', async () => {
    const { v1, v2 } = await runBoth(url);
    expect(v1.audienceSize).toBe(v2.audienceSize);
    expect(v1.csvPaths).toHaveLength(3);
    expect(v2.csvPaths).toHaveLength(3);
    expect(v1.testCsvPaths).toHaveLength(3);
    expect(v2.testCsvPaths).toHaveLength(3);
    const a = byAudience(v1);
    const b = byAudience(v2);
    expect(Object.keys(a).sort()).toEqual([...AUDIENCES].sort());
    expect(Object.keys(b).sort()).toEqual([...AUDIENCES].sort());
    for (const audience of AUDIENCES) {
      const one = readCsv(a[audience]);
      const two = readCsv(b[audience]);
      expect({ audience, header: two.header }).toEqual({ audience, header: one.header });
      expect({ audience, rows: two.rows }).toEqual({ audience, rows: one.rows });
      // The contract promises byte-identical production files.
      expect({ audience, bytes: fs.readFileSync(b[audience], 'utf8') }).toEqual({ audience, bytes: fs.readFileSync(a[audience], 'utf8') });
    }
    // Test files: same header and the same row apart from lastActive.
    const testOf = (r: AudienceGenerationResult, stem: string) => r.testCsvPaths.find((p) => path.basename(p).startsWith(stem)) as string;
    for (const stem of ['recent-offer-creators_TEST_', 'recent-closet-adders_TEST_', 'recent-wishlist-adders_TEST_']) {
      const one = readCsv(testOf(v1, stem));
      const two = readCsv(testOf(v2, stem));
      expect(two.header).toEqual(one.header);
      expect(one.rows).toHaveLength(1);
      expect(two.rows).toHaveLength(1);
      const { lastActive: l1, ...rest1 } = one.rows[0];
      const { lastActive: l2, ...rest2 } = two.rows[0];
      expect(rest2).toEqual(rest1);
      // The current UTC time, in the same form from both engines (contract 7).
      expect(l1).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(l2).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }

    // The fixture exercises what it means to: spot checks against docs/layer3-contract.md.
    const offers = readCsv(a.offer_creators).rows;
    const closet = readCsv(a.closet_adders).rows;
    const wishes = readCsv(a.wishlist_adders).rows;
    expect(offers.map((r) => r.user_id)).toEqual([U(1), U(7), U(2), U(5)]);
    expect(closet.map((r) => r.user_id)).toEqual([U(8), U(9), U(12)]);
    expect(wishes.map((r) => r.user_id)).toEqual([U(13), U(18), U(19), U(17), U(20), U(14), U(23)]);
    const alice = offers[0];
    expect(alice).toMatchObject({ variantID: V_EMOJI, usersize: '10', relevant_variant_size: '9.5', product_name: 'Dunk 🐼 "Panda",\nLow', inventory_count: '3' });
    expect(alice.lastActive).toBe(variant === 'default' ? '2024-06-10 09:30:15.123456' : '2024-06-10 09:30:15.123456+00');
    expect(offers[1]).toMatchObject({ user_id: U(7), variantID: V_NULLCACHE, relevant_variant_size: 'Unknown', firstName: 'Grâce' });
    expect(offers[2]).toMatchObject({ user_id: U(2), firstName: '', usersize: '', lastActive: '', product_name: 'Air Jordan 1, "Chicago"' });
    expect(offers[3]).toMatchObject({ user_id: U(5), relevant_variant_size: 'Unknown', inventory_count: '4' });
    expect(closet[0]).toMatchObject({ username: 'smith, jr', firstName: 'John "JJ"', wishlist_count: '10' });
    expect(closet[1]).toMatchObject({ wishlist_count: '2' });
    expect(closet[2]).toMatchObject({ product_name: ' Carriage\rReturn  ', relevant_variant_size: '=1+1', firstName: 'Zoë 🎉' });
    expect(wishes.find((r) => r.user_id === U(17))).toMatchObject({ username: 'quinn\r\nq', firstName: '' });
    expect(wishes.find((r) => r.user_id === U(20))).toMatchObject({ variantID: V_HOT });
  });

  test('compare under the contract reports no difference and the CLI (--rules v2) exits 0', async () => {
    const report = await compareEngines({ databaseUrl: url, asOf: AS_OF, rules: 'v2', pythonPath: python, env: {}, outDir: fs.mkdtempSync(path.join(scratch, 'cmp-')) });
    const text = formatReport(report);
    expect(report.same).toBe(true);
    expect(report.audiences.map((a) => a.audienceType)).toEqual(AUDIENCES);
    for (const a of report.audiences) {
      expect(a).toMatchObject({ same: true, headersMatch: true, bytesIdentical: true, orderMatches: true, onlyInV1: [], onlyInV2: [], differing: [] });
      expect(a.sameInBoth).toBe(a.v1Rows);
    }
    expect(report.v1AudienceSize).toBe(14);
    expect(report.v2AudienceSize).toBe(14);
    expect(report.rules).toBe('v2');
    expect(text).toContain('both under rules v2');
    expect(text).toContain('RESULT: SAME');
    expect(text).toContain('offer_creators: SAME — 4 identical rows in both, 0 users only in V1, 0 users only in V2, 0 users whose rows differ');

    const out: string[] = [];
    const err: string[] = [];
    const code = await compareCli(['--database-url', url, '--as-of', AS_OF, '--rules', 'v2', '--out', fs.mkdtempSync(path.join(scratch, 'cli-')), '--python', python], {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: {},
    });
    expect({ code, err: code === 0 ? '' : err.join('') }).toEqual({ code: 0, err: '' });
    expect(out.join('')).toContain('RESULT: SAME');
    expect(err.join('')).not.toContain('audience-engine-test'); // the test server's password
  });

  test('the CLI exits 1 and lists the differing user when the outputs differ', async () => {
    // A "python" that runs the real V1 script, then alters one value in its offer creators file.
    const wrapper = path.join(scratch, `altering-python-${variant}.sh`);
    fs.writeFileSync(
      wrapper,
      [
        '#!/usr/bin/env bash',
        `"${python}" "$@" || exit $?`,
        'out=""; prev=""; for a in "$@"; do [ "$prev" = "--output-dir" ] && out="$a"; prev="$a"; done',
        'sed -i "s/,alice,/,alicia,/" "$out"/recent-offer-creators_2*.csv',
      ].join('\n') + '\n',
      { mode: 0o755 },
    );
    const out: string[] = [];
    const code = await compareCli(['--database-url', url, '--as-of', AS_OF, '--rules', 'v2', '--python', wrapper, '--out', fs.mkdtempSync(path.join(scratch, 'diff-'))], {
      stdout: (t) => out.push(t),
      stderr: () => undefined,
      env: {},
    });
    expect(code).toBe(1);
    const text = out.join('');
    expect(text).toContain(`differs: ${U(1)}: username V1="alicia" V2="alice"`);
    expect(text).toContain('offer_creators: DIFFERENT — 3 identical rows in both, 0 users only in V1, 0 users only in V2, 1 users whose rows differ');
    expect(text).toContain('closet_adders: SAME');
    expect(text).toContain('RESULT: DIFFERENT');
  });
});

describe('compare on a database changed between the two runs', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('parity_changed');
    await buildFixture(url);
  }, 120_000);

  let report: CompareReport;
  test('reports exactly the changed users, with the differing columns', async () => {
    report = await compareEngines({
      databaseUrl: url,
      asOf: AS_OF,
      rules: 'v2',
      pythonPath: python,
      env: {},
      outDir: fs.mkdtempSync(path.join(scratch, 'changed-')),
      betweenRuns: async () => {
        const { fixture: f, close } = await Fixture.open(url);
        try {
          // U(2): a profile change -> differs in firstName (offer creators).
          await f.query("UPDATE users SET first_name = 'Robert, \"Bob\"' WHERE id = $1", [U(2)]);
          // U(12): one more wish for V_CR -> differs in wishlist_count (closet adders).
          await f.wanted(HOLDER, V_CR, 1);
          // U(17): deleted -> only in V1 (wishlist adders). Nothing else uses V_NOSIZE wishes.
          await f.query('UPDATE users SET deleted_at = 1 WHERE id = $1', [U(17)]);
          // U(30): a new offer creator -> only in V2 (offer creators). Offers change no count.
          await f.user({ id: U(30), username: 'newcomer' });
          await f.offer(U(30), at(13.5), [[id(1030), V_HOT]]);
        } finally {
          await close();
        }
      },
    });
    const get = (type: string) => report.audiences.find((a) => a.audienceType === type)!;
    expect(report.same).toBe(false);

    expect(get('offer_creators')).toMatchObject({
      same: false,
      onlyInV1: [],
      onlyInV2: [U(30)],
      differing: [{ userId: U(2), columns: [{ column: 'firstName', v1: '', v2: 'Robert, "Bob"' }] }],
      sameInBoth: 3,
    });
    expect(get('closet_adders')).toMatchObject({
      same: false,
      onlyInV1: [],
      onlyInV2: [],
      differing: [{ userId: U(12), columns: [{ column: 'wishlist_count', v1: '2', v2: '3' }] }],
      sameInBoth: 2,
    });
    expect(get('wishlist_adders')).toMatchObject({
      same: false,
      onlyInV1: [U(17)],
      onlyInV2: [],
      differing: [],
      sameInBoth: 6,
      orderMatches: true,
    });

    const text = formatReport(report);
    expect(text).toContain(`only in V2: ${U(30)}`);
    expect(text).toContain(`only in V1: ${U(17)}`);
    expect(text).toContain(`differs: ${U(2)}: firstName V1="" V2="Robert, \\"Bob\\""`);
    expect(text).toContain(`differs: ${U(12)}: wishlist_count V1="2" V2="3"`);
    expect(text).toContain('RESULT: DIFFERENT');
  });

  test('after the change a fresh comparison agrees again (--json, exit 0)', async () => {
    // Both engines now read the changed database: they agree again.
    const out: string[] = [];
    const code = await compareCli(['--database-url', url, '--as-of', AS_OF, '--rules', 'v2', '--python', python, '--json', '--out', fs.mkdtempSync(path.join(scratch, 'again-'))], {
      stdout: (t) => out.push(t),
      stderr: () => undefined,
      env: {},
    });
    expect(code).toBe(0);
    expect(JSON.parse(out.join('')).same).toBe(true);
  });
});

describe('compare CLI usage', () => {
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await compareCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env });
    return { code, out: out.join(''), err: err.join('') };
  };

  test('bad usage exits 2 with the usage text', async () => {
    expect((await run([])).code).toBe(2); // no database URL
    expect((await run([])).err).toContain('--database-url (or DATABASE_URL) is required');
    expect((await run(['--database-url', 'postgres://x@h/db', '--bogus'])).code).toBe(2);
    expect((await run(['--database-url'])).code).toBe(2);
    expect((await run(['--database-url', 'postgres://x@h/db', '--lookback-hours', 'abc'])).code).toBe(2);
    expect((await run(['--database-url', 'postgres://x@h/db', '--lookback-hours', '10', '--cooling-hours', '12'])).code).toBe(2);
    expect((await run(['--database-url', 'postgres://x@h/db', '--as-of', 'yesterday'])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: npm run compare');
  });

  test('a failed run exits 3, never prints the password and leaves no temp directory', async () => {
    // compare makes its directory under os.tmpdir(), which follows TMPDIR.
    const tmpdir = fs.mkdtempSync(path.join(scratch, 'tmpdir-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmpdir;
    try {
      const result = await run(['--as-of', AS_OF, '--python', python], { DATABASE_URL: 'postgres://postgres:cli-s3cret-pw@127.0.0.1:1/none' });
      expect(result.code).toBe(3);
      expect(result.err).toContain('the V1 run failed');
      expect(result.err).not.toContain('cli-s3cret-pw');
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(fs.readdirSync(tmpdir)).toEqual([]);
  });
});

// A seeded random marketplace: hundreds of users, actions on and around the window's edges,
// exact ties, microsecond timestamps, counts around the thresholds. V1 and V2 must agree under
// the contract's rules for several windows and as-of times.
describe('parity on a seeded random marketplace', () => {
  let url: string;
  const BASE = Date.parse('2024-06-10T12:00:00Z');

  function rng(seed: number) {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  beforeAll(async () => {
    url = await createTestDatabase('parity_random');
    const rand = rng(20240610);
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T,>(xs: T[]) => xs[int(xs.length)];
    const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
    const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
    const names = ['Plain', 'Comma, name', 'Quote "q"', 'Line\nbreak', 'Emoji 👟🔥', ' padded ', 'Tab\there', 'CR\ronly', 'Ünïcödé', '=SUM(A1)'];
    // Offsets from asOf in microseconds, many on the edges of the default and other windows.
    const H = 3_600_000_000;
    const edges = [12, 36, 24, 6, 48, 11.75, 36.25].flatMap((h) => [h * H, h * H - 1, h * H + 1]);
    const when = () => (rand() < 0.35 ? pick(edges) : int(60 * H));

    const { fixture: f, close } = await Fixture.open(url);
    try {
      const attr = uuid();
      await f.query("INSERT INTO attributes (id, name) VALUES ($1, 'mens_size'), ($2, 'shoe_size')", [attr, uuid()]);
      const sizeValues = ['10', '9.5', '11', 'M', '10.5', '8'].map((value) => ({ id: uuid(), value }));
      for (const v of sizeValues) await f.query('INSERT INTO attribute_values (id, attribute_id, value) VALUES ($1, $2, $3)', [v.id, attr, v.value]);

      const variants: string[] = [];
      for (let p = 0; p < 12; p += 1) {
        const productId = uuid();
        await f.query('INSERT INTO products (id, name) VALUES ($1, $2)', [productId, `${pick(names)} #${p}`]);
        for (let k = 0; k < 3; k += 1) {
          const variantId = uuid();
          const cache = pick([{ mens_size: pick(['9', '10', '11.5']) }, {}, null, { mens_size: null }]);
          await f.query('INSERT INTO product_variants (id, product_id, index_cache) VALUES ($1, $2, $3)', [variantId, productId, JSON.stringify(cache)]);
          variants.push(variantId);
        }
      }

      const users: { id: string; deleted: boolean }[] = [];
      for (let u = 0; u < 250; u += 1) users.push({ id: uuid(), deleted: rand() < 0.08 });
      await f.query(
        'INSERT INTO users (id, username, first_name, deleted_at) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[])',
        [
          users.map((u) => u.id),
          users.map((_, i) => `${pick(['user', 'name, with comma', 'quote"d', 'ëmoji👍'])}_${i}`),
          users.map(() => (rand() < 0.15 ? null : pick(['Ann', 'Bo "B"', 'Zoë', '', 'Multi\nLine']))),
          users.map((u) => (u.deleted ? 1 : 0)),
        ],
      );
      for (const u of users) {
        if (rand() < 0.5) {
          const pref = uuid();
          await f.query('INSERT INTO user_preferences (id, user_id) VALUES ($1, $2)', [pref, u.id]);
          for (let k = 0; k < 1 + int(3); k += 1) {
            await f.query('INSERT INTO attribute_preferences (id, user_preference_id, attribute_value_id, preferred) VALUES ($1, $2, $3, $4)', [
              uuid(),
              pref,
              pick(sizeValues).id,
              rand() < 0.8,
            ]);
          }
        }
        for (let k = 0; k < int(3); k += 1) {
          await f.query("INSERT INTO user_activities (id, user_id, last_active) VALUES ($1, $2, to_timestamp($3::double precision / 1e6) AT TIME ZONE 'UTC')", [
            uuid(),
            u.id,
            BASE * 1000 - int(500 * H),
          ]);
        }
      }

      const at = (offsetMicros: number) => BASE * 1000 - offsetMicros; // epoch microseconds
      const ts = "(to_timestamp(0) AT TIME ZONE 'UTC') + ($5::bigint * interval '1 microsecond')";
      const inv: unknown[][] = [];
      const wish: unknown[][] = [];
      // Background stock and wishes (old), so counts land around the thresholds.
      for (const v of variants) {
        for (let k = 0; k < int(5); k += 1) inv.push([uuid(), pick(users).id, v, pick(['OPEN_FOR_TRADE', 'OPEN_FOR_TRADE', 'SOLD']), at(1000 * H)]);
        for (let k = 0; k < int(4); k += 1) wish.push([uuid(), pick(users).id, v, rand() < 0.2 ? 1 : 0, at(1000 * H)]);
      }
      // Recent actions.
      const shared = Array.from({ length: 6 }, () => when()); // reused times make exact ties
      const time = () => (rand() < 0.25 ? pick(shared) : when());
      for (let k = 0; k < 260; k += 1) inv.push([uuid(), pick(users).id, pick(variants), rand() < 0.85 ? 'OPEN_FOR_TRADE' : 'HIDDEN', at(time())]);
      for (let k = 0; k < 260; k += 1) wish.push([uuid(), pick(users).id, pick(variants), rand() < 0.1 ? 1 : 0, at(time())]);
      for (const row of inv) {
        await f.query(`INSERT INTO inventory_items (id, user_id, product_variant_id, status, created_at) VALUES ($1, $2, $3, $4, ${ts})`, row);
      }
      for (const row of wish) {
        await f.query(`INSERT INTO wishlist_items (id, user_id, product_variant_id, deleted_at, created_at) VALUES ($1, $2, $3, $4, ${ts})`, row);
      }
      for (let k = 0; k < 180; k += 1) {
        const offerId = uuid();
        await f.query(
          "INSERT INTO offers (id, creator_user_id, created_at) VALUES ($1, $2, (to_timestamp(0) AT TIME ZONE 'UTC') + ($3::bigint * interval '1 microsecond'))",
          [offerId, pick(users).id, at(time())],
        );
        for (let i = 0; i < int(4); i += 1) {
          await f.query('INSERT INTO offer_items (id, offer_id, product_variant_id) VALUES ($1, $2, $3)', [uuid(), offerId, pick(variants)]);
        }
      }
    } finally {
      await close();
    }
  }, 180_000);

  const cases: { asOf: string; lookbackHours?: number; coolingHours?: number }[] = [
    { asOf: AS_OF },
    { asOf: '2024-06-10T17:30:00+05:30' }, // the same instant, with an offset
    { asOf: '2024-06-10T12:00:00.000001Z', lookbackHours: 36.25, coolingHours: 11.75 },
    { asOf: AS_OF, lookbackHours: 24, coolingHours: 0 },
    { asOf: '2024-06-10T06:00:00Z', lookbackHours: 60, coolingHours: 0.5 },
    { asOf: AS_OF, lookbackHours: 48.0000001, coolingHours: 12.0000004 },
  ];
  test.each(cases)('V1 and V2 agree under rules v2: %o', async (c) => {
    const report = await compareEngines({ databaseUrl: url, rules: 'v2', pythonPath: python, env: {}, outDir: fs.mkdtempSync(path.join(scratch, 'rand-')), ...c });
    if (!report.same) throw new Error(formatReport(report));
    expect(report.audiences).toHaveLength(3);
    // Every audience is populated, so the comparison means something.
    for (const a of report.audiences) expect({ audience: a.audienceType, nonEmpty: a.v1Rows > 5 }).toEqual({ audience: a.audienceType, nonEmpty: true });
    if (process.env.PARITY_VERBOSE) console.log(report.audiences.map((a) => `${a.audienceType}=${a.v1Rows}`).join(' '));
  });
});
