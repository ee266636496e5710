// Test databases and fixture data. Each test file creates its own database on the
// suite's server, loads schema/marketplace.sql, and inserts the rows its rules need.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Client } from 'pg';

export const ROOT = path.resolve(__dirname, '..', '..');

export function adminUrl(): string {
  const url = process.env.AUDIENCE_ENGINE_TEST_ADMIN_URL;
  if (!url) throw new Error('AUDIENCE_ENGINE_TEST_ADMIN_URL is not set: run the tests through jest (global setup starts PostgreSQL)');
  return url;
}

export function urlFor(database: string, base = adminUrl()): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The column-type variants real schemas have. `alternate` converts created_at to
 * timestamptz, status to an enum and deleted_at to int after the schema is loaded.
 */
export type SchemaVariant = 'default' | 'alternate';

const ALTERNATE_TYPES_SQL = `
CREATE TYPE inventory_status AS ENUM ('OPEN_FOR_TRADE', 'SOLD', 'HIDDEN', 'IN_TRADE');
ALTER TABLE inventory_items ALTER COLUMN status TYPE inventory_status USING status::inventory_status;
ALTER TABLE inventory_items ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC';
ALTER TABLE wishlist_items ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC';
ALTER TABLE offers ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC';
ALTER TABLE user_activities ALTER COLUMN last_active TYPE timestamptz USING last_active AT TIME ZONE 'UTC';
ALTER TABLE users ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC';
ALTER TABLE desired_items ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC';
ALTER TABLE users ALTER COLUMN deleted_at TYPE int;
ALTER TABLE wishlist_items ALTER COLUMN deleted_at TYPE int;
ALTER TABLE desired_items ALTER COLUMN deleted_at TYPE int;
ALTER TABLE users ALTER COLUMN username TYPE varchar(255);
`;

/**
 * Creates (or recreates) a database with the marketplace schema and returns its URL: on the
 * suite's server, or on the server of the admin URL `server` (its query parameters are kept).
 */
export async function createTestDatabase(name: string, variant: SchemaVariant = 'default', server = adminUrl()): Promise<string> {
  const database = `ae_${name}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await withClient(server, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  });
  const url = urlFor(database, server);
  const schema = fs.readFileSync(path.join(ROOT, 'schema', 'marketplace.sql'), 'utf8');
  await withClient(url, async (client) => {
    await client.query(schema);
    if (variant === 'alternate') await client.query(ALTERNATE_TYPES_SQL);
  });
  return url;
}

/** Creates a login role that may only SELECT the database's tables; returns its URL. */
export async function selectOnlyRole(url: string, role: string): Promise<string> {
  const password = `${role}-password`;
  await withClient(url, async (client) => {
    const name = client.escapeIdentifier(role);
    await client.query(`DROP ROLE IF EXISTS ${name}`);
    await client.query(`CREATE ROLE ${name} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${name}`);
  });
  const readerUrl = new URL(url);
  readerUrl.username = role;
  readerUrl.password = password;
  return readerUrl.toString();
}

/** A readable, sortable uuid: id(1) = 00000000-0000-4000-8000-000000000001. */
export function id(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export const HOUR = 3_600_000;

/**
 * Inserts fixture rows. Times are Dates; they are stored as UTC wall-clock values
 * (the default schema's created_at is timestamp without time zone).
 */
export class Fixture {
  private readonly attributeIds = new Map<string, string>();
  private readonly valueIds = new Map<string, string>();

  constructor(private readonly client: Client) {}

  static async open(url: string): Promise<{ fixture: Fixture; close: () => Promise<void> }> {
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query("SET TimeZone = 'UTC'");
    return { fixture: new Fixture(client), close: () => client.end() };
  }

  query(sql: string, params: unknown[] = []) {
    return this.client.query(sql, params);
  }

  async user(opts: {
    id: string;
    username?: string;
    firstName?: string | null;
    deleted?: boolean;
    sizes?: { value: string; preferred?: boolean; attribute?: string }[];
    lastActive?: Date[];
  }): Promise<string> {
    await this.query('INSERT INTO users (id, username, first_name, deleted_at) VALUES ($1, $2, $3, $4)', [
      opts.id,
      opts.username ?? `user_${opts.id.slice(-4)}`,
      opts.firstName === undefined ? `First${opts.id.slice(-4)}` : opts.firstName,
      opts.deleted ? 1700000000 : 0,
    ]);
    if (opts.sizes?.length) {
      const preference = randomUUID();
      await this.query('INSERT INTO user_preferences (id, user_id) VALUES ($1, $2)', [preference, opts.id]);
      for (const size of opts.sizes) {
        const valueId = await this.attributeValue(size.attribute ?? 'mens_size', size.value);
        await this.query(
          'INSERT INTO attribute_preferences (id, user_preference_id, attribute_value_id, preferred) VALUES ($1, $2, $3, $4)',
          [randomUUID(), preference, valueId, size.preferred ?? true],
        );
      }
    }
    for (const at of opts.lastActive ?? []) {
      await this.query('INSERT INTO user_activities (id, user_id, last_active) VALUES ($1, $2, $3::timestamptz)', [
        randomUUID(),
        opts.id,
        at.toISOString(),
      ]);
    }
    return opts.id;
  }

  private async attributeValue(attribute: string, value: string): Promise<string> {
    let attributeId = this.attributeIds.get(attribute);
    if (!attributeId) {
      attributeId = randomUUID();
      await this.query('INSERT INTO attributes (id, name) VALUES ($1, $2)', [attributeId, attribute]);
      this.attributeIds.set(attribute, attributeId);
    }
    const key = `${attribute}\u0000${value}`;
    let valueId = this.valueIds.get(key);
    if (!valueId) {
      valueId = randomUUID();
      await this.query('INSERT INTO attribute_values (id, attribute_id, value) VALUES ($1, $2, $3)', [valueId, attributeId, value]);
      this.valueIds.set(key, valueId);
    }
    return valueId;
  }

  /** A product with one variant per entry of `variants` (its index_cache JSON). */
  async product(name: string, variants: { id: string; indexCache?: unknown }[]): Promise<void> {
    const productId = randomUUID();
    await this.query('INSERT INTO products (id, name) VALUES ($1, $2)', [productId, name]);
    for (const v of variants) {
      await this.query('INSERT INTO product_variants (id, product_id, index_cache) VALUES ($1, $2, $3)', [
        v.id,
        productId,
        v.indexCache === undefined ? JSON.stringify({ mens_size: '10' }) : JSON.stringify(v.indexCache),
      ]);
    }
  }

  async inventory(userId: string, variantId: string, createdAt: Date, opts: { status?: string; id?: string } = {}) {
    await this.query(
      'INSERT INTO inventory_items (id, user_id, product_variant_id, status, created_at) VALUES ($1, $2, $3, $4, ($5::timestamptz AT TIME ZONE \'UTC\'))',
      [opts.id ?? randomUUID(), userId, variantId, opts.status ?? 'OPEN_FOR_TRADE', createdAt.toISOString()],
    );
  }

  /** `count` open-for-trade items of the variant, held by `holder` (created long ago, outside any window). */
  async stock(holder: string, variantId: string, count: number, longAgo = new Date('2020-01-01T00:00:00Z')) {
    for (let i = 0; i < count; i += 1) await this.inventory(holder, variantId, longAgo);
  }

  async wishlist(userId: string, variantId: string, createdAt: Date, opts: { deleted?: boolean; id?: string } = {}) {
    await this.query(
      'INSERT INTO wishlist_items (id, user_id, product_variant_id, deleted_at, created_at) VALUES ($1, $2, $3, $4, ($5::timestamptz AT TIME ZONE \'UTC\'))',
      [opts.id ?? randomUUID(), userId, variantId, opts.deleted ? 1700000000 : 0, createdAt.toISOString()],
    );
  }

  /** `count` live wishlist items of the variant by `holder`, created long ago. */
  async wanted(holder: string, variantId: string, count: number, longAgo = new Date('2020-01-01T00:00:00Z')) {
    for (let i = 0; i < count; i += 1) await this.wishlist(holder, variantId, longAgo);
  }

  /** An offer whose items are `[itemId, variantId]` pairs. */
  async offer(userId: string, createdAt: Date, items: [string, string][], offerId: string = randomUUID()) {
    await this.query(
      'INSERT INTO offers (id, creator_user_id, created_at) VALUES ($1, $2, ($3::timestamptz AT TIME ZONE \'UTC\'))',
      [offerId, userId, createdAt.toISOString()],
    );
    for (const [itemId, variantId] of items) {
      await this.query('INSERT INTO offer_items (id, offer_id, product_variant_id) VALUES ($1, $2, $3)', [itemId, offerId, variantId]);
    }
    return offerId;
  }
}
