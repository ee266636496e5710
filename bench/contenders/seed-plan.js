'use strict';
// Contender 2: the seed plan, the Node implementation V2 replaces (reference, not product code).
//
//   node bench/contenders/seed-plan.js --database-url URL --as-of ISO --lookback-hours H
//        --cooling-hours C --output-dir DIR [--min-inventory-count 3] [--min-wishlist-count 2]
//
// The original plan, kept as written there: node-postgres `Pool` + `fast-csv`;
//   1. one activity query: UNION ALL of the three kinds, ROW_NUMBER() for an offer's first item;
//   2. prioritization in a `Map` (one winning action per user, plus the user's latest action);
//   3. per audience (one after the other): a profile query, a variant-size query and a count
//      query, each with `= ANY($1::uuid[])` of the audience's ids (issued together, Promise.all);
//   4. the demand filter, the sort, and the CSVs with fast-csv.
// Enrichment happens before the filter (the plan's order), so it reads every picked user.
//
// Only what the contract needs to produce the same bytes was added: TimeZone = UTC on the
// connections, created_at read as epoch microseconds (a JS Date keeps milliseconds, which would
// break rule 3's tie-breaks and the row order), includeEndRowDelimiter, and fields as text.
const fs = require('node:fs');
const path = require('node:path');
const { Pool } = require('pg');
const { format } = require('fast-csv');

const HOUR_US = 3600e6;
const KINDS = [
  { kind: 'offer_created', audience: 'offer_creators', prefix: 'recent-offer-creators', demand: 'inventory' },
  { kind: 'closet_add', audience: 'closet_adders', prefix: 'recent-closet-adders', demand: 'wishlist' },
  { kind: 'wishlist_add', audience: 'wishlist_adders', prefix: 'recent-wishlist-adders', demand: 'inventory' },
];
const PRIORITY = { offer_created: 0, closet_add: 1, wishlist_add: 2 };
const BASE_HEADER = ['user_id', 'username', 'firstName', 'usersize', 'relevant_variant_size', 'product_name', 'variantID', 'lastActive'];

const ACTIVITY_SQL = `
SELECT 'offer_created' AS kind, o.creator_user_id AS user_id, fi.product_variant_id,
       (extract(epoch FROM o.created_at::timestamptz) * 1000000)::float8 AS created_us, o.id AS record_id
  FROM offers o
  JOIN (SELECT oi.offer_id, oi.product_variant_id,
               ROW_NUMBER() OVER (PARTITION BY oi.offer_id ORDER BY oi.id) AS rn
          FROM offer_items oi
          JOIN offers wo ON wo.id = oi.offer_id
         WHERE wo.created_at >= $1::timestamp AND wo.created_at < $2::timestamp) fi
    ON fi.offer_id = o.id AND fi.rn = 1
  JOIN users u ON u.id = o.creator_user_id AND u.deleted_at = 0
 WHERE o.created_at >= $1::timestamp AND o.created_at < $2::timestamp
UNION ALL
SELECT 'closet_add', i.user_id, i.product_variant_id,
       (extract(epoch FROM i.created_at::timestamptz) * 1000000)::float8, i.id
  FROM inventory_items i
  JOIN users u ON u.id = i.user_id AND u.deleted_at = 0
 WHERE i.status::text = 'OPEN_FOR_TRADE' AND i.created_at >= $1::timestamp AND i.created_at < $2::timestamp
UNION ALL
SELECT 'wishlist_add', w.user_id, w.product_variant_id,
       (extract(epoch FROM w.created_at::timestamptz) * 1000000)::float8, w.id
  FROM wishlist_items w
  JOIN users u ON u.id = w.user_id AND u.deleted_at = 0
 WHERE w.deleted_at = 0 AND w.created_at >= $1::timestamp AND w.created_at < $2::timestamp`;

const PROFILE_SQL = `
SELECT u.id, u.username::text AS username, coalesce(u.first_name::text, '') AS first_name,
       coalesce((SELECT min(av.value::text COLLATE "C")
                   FROM user_preferences up
                   JOIN attribute_preferences ap ON ap.user_preference_id = up.id AND ap.preferred
                   JOIN attribute_values av ON av.id = ap.attribute_value_id
                   JOIN attributes a ON a.id = av.attribute_id AND a.name::text = 'mens_size'
                  WHERE up.user_id = u.id), '') AS usersize,
       coalesce((SELECT max(ua.last_active)::text FROM user_activities ua WHERE ua.user_id = u.id), '') AS last_active
  FROM users u
 WHERE u.id = ANY($1::uuid[])`;

const VARIANT_SQL = `
SELECT pv.id, coalesce(pv.index_cache::jsonb ->> 'mens_size', 'Unknown') AS size, coalesce(p.name::text, '') AS product_name
  FROM product_variants pv
  LEFT JOIN products p ON p.id = pv.product_id
 WHERE pv.id = ANY($1::uuid[])`;

const COUNT_SQL = {
  inventory: `
SELECT i.product_variant_id AS id, count(*) AS n
  FROM inventory_items i
  JOIN users u ON u.id = i.user_id AND u.deleted_at = 0
 WHERE i.product_variant_id = ANY($1::uuid[]) AND i.status::text = 'OPEN_FOR_TRADE'
 GROUP BY i.product_variant_id`,
  wishlist: `
SELECT w.product_variant_id AS id, count(*) AS n
  FROM wishlist_items w
  JOIN users u ON u.id = w.user_id AND u.deleted_at = 0
 WHERE w.product_variant_id = ANY($1::uuid[]) AND w.deleted_at = 0
 GROUP BY w.product_variant_id`,
};

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
  return args;
}

/** Wall-clock UTC as the `timestamp` the window is bound as: 'YYYY-MM-DD HH:MM:SS.ffffff'. */
function utcTimestamp(us) {
  const ms = Math.floor(us / 1000);
  const micros = String(Math.round(us - ms * 1000)).padStart(3, '0');
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}${micros}`;
}

function stamp(date) {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
}

function writeCsv(file, header, rows) {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(file);
    const csv = format({ headers: header, includeEndRowDelimiter: true });
    csv.on('error', reject);
    out.on('error', reject);
    out.on('finish', resolve);
    csv.pipe(out);
    for (const row of rows) csv.write(row);
    csv.end();
  });
}

async function main() {
  const started = new Date();
  const args = parseArgs(process.argv.slice(2));
  const lookback = Number(args['lookback-hours'] ?? 48);
  const cooling = Number(args['cooling-hours'] ?? 12);
  const minInventory = Number(args['min-inventory-count'] ?? 3);
  const minWishlist = Number(args['min-wishlist-count'] ?? 2);
  const outputDir = path.resolve(args['output-dir'] ?? '.script-outputs');
  const asOfUs = Date.parse(args['as-of']) * 1000;
  const start = utcTimestamp(asOfUs - Math.round((lookback - cooling) * HOUR_US));
  const end = utcTimestamp(asOfUs - Math.round(cooling * HOUR_US));

  const pool = new Pool({ connectionString: args['database-url'], options: '-c TimeZone=UTC' });
  const phases = {};
  let t = Date.now();
  const phase = (name) => {
    phases[name] = Date.now() - t;
    t = Date.now();
  };
  try {
    // 1. Activity.
    const activity = await pool.query(ACTIVITY_SQL, [start, end]);
    phase('activity');

    // 2. Prioritization in a Map: user -> { action, latestUs }.
    const picks = new Map();
    for (const a of activity.rows) {
      const current = picks.get(a.user_id);
      if (!current) {
        picks.set(a.user_id, { action: a, latestUs: a.created_us });
        continue;
      }
      if (a.created_us > current.latestUs) current.latestUs = a.created_us;
      const b = current.action;
      const better =
        PRIORITY[a.kind] !== PRIORITY[b.kind]
          ? PRIORITY[a.kind] < PRIORITY[b.kind]
          : a.created_us !== b.created_us
            ? a.created_us > b.created_us
            : a.record_id < b.record_id;
      if (better) current.action = a;
    }
    phase('prioritize');

    fs.mkdirSync(outputDir, { recursive: true });
    const fileStamp = stamp(started);
    const now = new Date().toISOString();
    const written = [];
    for (const spec of KINDS) {
      const members = [...picks.values()].filter((p) => p.action.kind === spec.kind);
      const userIds = members.map((p) => p.action.user_id);
      const variantIds = [...new Set(members.map((p) => p.action.product_variant_id))];

      // 3. Enrichment: three queries per audience, each with the audience's id array.
      const [profiles, variants, counts] = await Promise.all([
        pool.query(PROFILE_SQL, [userIds]),
        pool.query(VARIANT_SQL, [variantIds]),
        pool.query(COUNT_SQL[spec.demand], [variantIds]),
      ]);
      const profileById = new Map(profiles.rows.map((r) => [r.id, r]));
      const variantById = new Map(variants.rows.map((r) => [r.id, r]));
      const countById = new Map(counts.rows.map((r) => [r.id, Number(r.n)]));

      // 4. Demand filter, order, CSV.
      const min = spec.demand === 'inventory' ? minInventory : minWishlist;
      const kept = [];
      for (const p of members) {
        const count = countById.get(p.action.product_variant_id) ?? 0;
        if (count >= min) kept.push({ p, count });
      }
      kept.sort((x, y) =>
        y.p.latestUs - x.p.latestUs || (x.p.action.user_id < y.p.action.user_id ? -1 : x.p.action.user_id > y.p.action.user_id ? 1 : 0),
      );
      const rows = kept.map(({ p, count }) => {
        const profile = profileById.get(p.action.user_id);
        const variant = variantById.get(p.action.product_variant_id);
        return [
          p.action.user_id,
          profile?.username ?? '',
          profile?.first_name ?? '',
          profile?.usersize ?? '',
          variant?.size ?? 'Unknown',
          variant?.product_name ?? '',
          p.action.product_variant_id,
          profile?.last_active ?? '',
          String(count),
        ];
      });
      const header = [...BASE_HEADER, spec.demand === 'inventory' ? 'inventory_count' : 'wishlist_count'];
      const file = path.join(outputDir, `${spec.prefix}_${fileStamp}.csv`);
      await writeCsv(file, header, rows);
      const first = rows[0];
      const testRow = [
        '0e54067c-4c0e-4e4a-8a23-a47661578059', 'beems', 'Mbiyimoh', '13',
        first ? first[4] : '13', first ? first[5] : 'Test Product', first ? first[6] : 'test-variant-id',
        now, first ? first[8] : '',
      ];
      const testFile = path.join(outputDir, `${spec.prefix}_TEST_${fileStamp}.csv`);
      await writeCsv(testFile, header, [testRow]);
      written.push({ path: file, rowCount: rows.length, isTestFile: false, audienceType: spec.audience });
      written.push({ path: testFile, rowCount: 1, isTestFile: true, audienceType: spec.audience });
      phase(spec.audience);
    }
    const audienceSize = written.filter((f) => !f.isTestFile).reduce((s, f) => s + f.rowCount, 0);
    process.stdout.write(`${JSON.stringify({ success: true, csvFiles: written, audienceSize, phasesMs: phases })}\n`);
  } finally {
    await pool.end();
  }
}

main().catch((error) => {
  console.error(`[seed-plan] error: ${error.stack ?? error}`);
  process.exit(1);
});
