// The Layer 5 fixture: users and items made for each rule of docs/layer5-contract.md, with the
// level each user must land in and the target shoe each level-3+ user must get, worked out by hand.
// For the rule tests, the explain tests and the V1/V2 parity tests (both schema variants).
//
// Production deletes catalogue rows under offers (the script's last target-shoe fallback exists
// for them), which the schema's foreign keys forbid: unless `deletedCatalogue: false`, the
// fixture drops the four foreign keys to products and variants of the tables Layer 5 reads
// (offer_items, desired_items, wishlist_items -> product_variants; product_variants -> products)
// and holds rows whose variant or product does not exist.
import { Fixture, id } from './db';

export const AS_OF = '2026-11-28T12:00:00.000Z';
// Window with the defaults (minHours 12, maxDays 14), both ends included:
// [asOf - 14 d, asOf - 12 h] = [2026-11-14T12:00:00Z, 2026-11-28T00:00:00Z].
export const at = (iso: string) => new Date(`2026-11-${iso}Z`);
const LONG_AGO = (day: string) => new Date(`2026-10-${day}Z`); // activity before the accounts' window

/**
 * Variant ids. `GONE_PRODUCT` (a variant whose product does not exist) and `GONE_VARIANT` (an id
 * with no variant row) are made and used only with `deletedCatalogue` (the default).
 */
export const V = {
  A: id(0x5501),
  B: id(0x5502),
  C: id(0x5503),
  D: id(0x5504),
  E: id(0x5505),
  F: id(0x5506),
  /** A variant whose product row is gone. */
  GONE_PRODUCT: id(0x5507),
  /** A variant id with no variant row (deleted). */
  GONE_VARIANT: id(0x5508),
};
export const NAMES = {
  A: 'Air Jordan 1, "Chicago"',
  B: 'Dunk Low\nPanda 🐼',
  C: 'Samba OG',
  D: 'Gel-Kayano 14',
  E: 'New Balance 990v6 — grey',
  F: '=HYPERLINK("x")',
};
export const UNKNOWN_PRODUCT = 'Unknown Product';

/** The users, by what they test. Ids are in uuid order as numbered (id(n) sorts by n). */
export const U = {
  // Excluded from the base set
  deleted: id(0x5001), // deleted_at <> 0, in the window, no closet
  noFirstName: id(0x5002), // first_name NULL
  tooOld: id(0x5003), // created 1 us before the window's start
  tooYoung: id(0x5004), // created 1 us after the window's end
  future: id(0x5005), // created after asOf
  infinity: id(0x5009), // created_at 'infinity'
  // Level 1: no inventory_items row
  emptyFirstName: id(0x5006), // first_name '' (kept, written empty)
  atStart: id(0x5007), // created exactly at the window's start (included)
  l1Everything: id(0x5010), // bio, offers, live wishlist, desired items: no closet decides
  // Level 2: a closet item (any status), no bio after trim() of spaces
  atEnd: id(0x5008), // created exactly at the window's end (included); bio NULL
  bioEmpty: id(0x5011), // only a SOLD item; bio ''
  bioSpaces: id(0x5012), // only a HIDDEN item; bio '   '
  l2Everything: id(0x5013), // bio ' ', offers, live wishlist
  // Level 3: closet, bio, no offer
  tabBio: id(0x5020), // bio '\t'; desired: a deleted one with the most offers_count (skipped), two
  //                     tied on offers_count: the newer wins (C)
  newlineBio: id(0x5021), // bio '\n'; desired: tied on offers_count and created_at: the smaller id (D)
  wishlistOnly: id(0x5022), // no desired; live wishes tied on created_at: the smaller id (E);
  //                           a newer deleted wish (A) is skipped
  noShoe3: id(0x5023), // nothing to take a shoe from: empty
  desiredGoneProduct: id(0x5024), // desired: the most offers_count on a variant without product
  //                                 (skipped), then A
  desiredGoneVariant: id(0x5025), // desired only on a missing variant; newest wish on a missing
  //                                 variant (skipped), then B
  // Level 4: closet, bio, offers, no live wishlist item
  twoOffers: id(0x5030), // only deleted wishes; the newer offer's items: the smaller item id (B)
  tiedOffers: id(0x5031), // two offers at one instant: the smaller offer id, its item (C)
  desiredBeatsOffer: id(0x5032), // a desired item with offers_count 0 (F) before a newer offer
  newestOfferGone: id(0x5033), // newest offer's only item on a missing variant: the older offer (C)
  offersAllGone: id(0x5034), // every offer item without variant or product: step 4, the newest
  //                            offer's item, Unknown Product (GONE_VARIANT)
  itemlessOffer: id(0x5035), // an offer without items, nothing else: empty
  mixedNewestOffer: id(0x5036), // newest offer: a missing variant (smaller item id) and D: D
  // Level 5 ("new stars"): everything
  star: id(0x5040), // two preferred sizes, three activity rows (the script repeats them); desired A
  starOffer: id(0x5041), // deleted desired item (skipped); offer E
  starWishlist: id(0x5042), // an itemless offer; live wish on E: step 3
  starGone: id(0x5043), // offer item on a variant without product, newest wish on a missing
  //                       variant: step 4 (GONE_PRODUCT, Unknown Product)
  starQuoting: id(0x5045), // username and first name that need quoting; desired F
};

export type Level = 1 | 2 | 3 | 4 | 5;
export const EXPECTED_LEVELS: Record<string, Level | 'excluded'> = {
  [U.deleted]: 'excluded',
  [U.noFirstName]: 'excluded',
  [U.tooOld]: 'excluded',
  [U.tooYoung]: 'excluded',
  [U.future]: 'excluded',
  [U.infinity]: 'excluded',
  [U.emptyFirstName]: 1,
  [U.atStart]: 1,
  [U.l1Everything]: 1,
  [U.atEnd]: 2,
  [U.bioEmpty]: 2,
  [U.bioSpaces]: 2,
  [U.l2Everything]: 2,
  [U.tabBio]: 3,
  [U.newlineBio]: 3,
  [U.wishlistOnly]: 3,
  [U.noShoe3]: 3,
  [U.desiredGoneProduct]: 3,
  [U.desiredGoneVariant]: 3,
  [U.twoOffers]: 4,
  [U.tiedOffers]: 4,
  [U.desiredBeatsOffer]: 4,
  [U.newestOfferGone]: 4,
  [U.offersAllGone]: 4,
  [U.itemlessOffer]: 4,
  [U.mixedNewestOffer]: 4,
  [U.star]: 5,
  [U.starOffer]: 5,
  [U.starWishlist]: 5,
  [U.starGone]: 5,
  [U.starQuoting]: 5,
};

/** `top_target_shoe` and `top_target_shoe_variantid` of each level-3+ user ('' when none). */
export const EXPECTED_TARGET_SHOES: Record<string, { name: string; variantId: string }> = {
  [U.tabBio]: { name: NAMES.C, variantId: V.C },
  [U.newlineBio]: { name: NAMES.D, variantId: V.D },
  [U.wishlistOnly]: { name: NAMES.E, variantId: V.E },
  [U.noShoe3]: { name: '', variantId: '' },
  [U.desiredGoneProduct]: { name: NAMES.A, variantId: V.A },
  [U.desiredGoneVariant]: { name: NAMES.B, variantId: V.B },
  [U.twoOffers]: { name: NAMES.B, variantId: V.B },
  [U.tiedOffers]: { name: NAMES.C, variantId: V.C },
  [U.desiredBeatsOffer]: { name: NAMES.F, variantId: V.F },
  [U.newestOfferGone]: { name: NAMES.C, variantId: V.C },
  [U.offersAllGone]: { name: UNKNOWN_PRODUCT, variantId: V.GONE_VARIANT },
  [U.itemlessOffer]: { name: '', variantId: '' },
  [U.mixedNewestOffer]: { name: NAMES.D, variantId: V.D },
  [U.star]: { name: NAMES.A, variantId: V.A },
  [U.starOffer]: { name: NAMES.E, variantId: V.E },
  [U.starWishlist]: { name: NAMES.E, variantId: V.E },
  [U.starGone]: { name: UNKNOWN_PRODUCT, variantId: V.GONE_PRODUCT },
  [U.starQuoting]: { name: NAMES.F, variantId: V.F },
};

/** `username` and `first_name` where a user has no default (`new_<last 4>`, `Name<last 4>`). */
const PROFILE_OVERRIDES: Record<string, { username?: string; firstName?: string | null }> = {
  [U.noFirstName]: { firstName: null },
  [U.emptyFirstName]: { firstName: '' },
  [U.starQuoting]: { username: 'kicks, "fresh"', firstName: 'Zoë\nAnn' },
};
const usernameOf = (user: string) => PROFILE_OVERRIDES[user]?.username ?? `new_${user.slice(-4)}`;
const firstNameOf = (user: string) => {
  const override = PROFILE_OVERRIDES[user];
  return override && 'firstName' in override ? (override.firstName ?? null) : `Name${user.slice(-4)}`;
};

/** Each user's `username` and `firstName` as the files write them (NULL as ''). */
export const PROFILES: Record<string, { username: string; firstName: string }> = Object.fromEntries(
  Object.keys(EXPECTED_LEVELS).map((user) => [user, { username: usernameOf(user), firstName: firstNameOf(user) ?? '' }]),
);

/** Creation times (UTC) of the base set's users; the order below is the files' order. */
const CREATED: Record<string, string> = {
  [U.deleted]: '20T09:00:00',
  [U.noFirstName]: '20T09:00:00',
  [U.tooOld]: '14T11:59:59.999999',
  [U.tooYoung]: '28T00:00:00.000001',
  [U.future]: '28T13:00:00',
  [U.emptyFirstName]: '27T08:00:00',
  [U.atStart]: '14T12:00:00',
  [U.l1Everything]: '22T10:30:00.123456',
  [U.atEnd]: '28T00:00:00',
  [U.bioEmpty]: '21T00:00:00',
  [U.bioSpaces]: '25T05:00:00',
  [U.l2Everything]: '16T16:16:16',
  [U.tabBio]: '26T12:00:00',
  [U.newlineBio]: '26T12:00:00', // same instant as tabBio: tabBio (smaller id) first
  [U.wishlistOnly]: '24T00:00:00',
  [U.noShoe3]: '18T07:00:00',
  [U.desiredGoneProduct]: '19T07:00:00',
  [U.desiredGoneVariant]: '23T07:00:00',
  [U.twoOffers]: '15T01:00:00',
  [U.tiedOffers]: '17T01:00:00',
  [U.desiredBeatsOffer]: '27T23:59:59.999999',
  [U.newestOfferGone]: '20T20:00:00',
  [U.offersAllGone]: '21T21:00:00',
  [U.itemlessOffer]: '22T22:00:00',
  [U.mixedNewestOffer]: '14T12:00:00.000001',
  [U.star]: '20T10:00:00', // star, starOffer, starWishlist: one instant, ordered by id
  [U.starOffer]: '20T10:00:00',
  [U.starWishlist]: '20T10:00:00',
  [U.starGone]: '19T19:19:19',
  [U.starQuoting]: '25T10:00:00',
};

/** The users of each level in file order: created_at descending, then user id ascending. */
export const EXPECTED_ORDER: Record<Level, string[]> = { 1: [], 2: [], 3: [], 4: [], 5: [] };
for (const level of [1, 2, 3, 4, 5] as Level[]) {
  EXPECTED_ORDER[level] = Object.keys(EXPECTED_LEVELS)
    .filter((user) => EXPECTED_LEVELS[user] === level)
    .sort((a, b) => {
      const ta = at(CREATED[a]).getTime() * 1000 + micros(CREATED[a]);
      const tb = at(CREATED[b]).getTime() * 1000 + micros(CREATED[b]);
      return tb - ta || (a < b ? -1 : a > b ? 1 : 0);
    });
}
function micros(iso: string): number {
  const fraction = /\.(\d+)$/.exec(iso)?.[1] ?? '';
  return Number(fraction.padEnd(6, '0').slice(3, 6));
}

/** The audience type of each level (the files' `audienceType`). */
export const AUDIENCE_TYPES: Record<Level, string> = { 1: 'no_shoes', 2: 'no_bio', 3: 'no_offers', 4: 'no_wishlist', 5: 'new_stars' };

/** `metadata.counts` of a run on the fixture with the defaults: 25 users in the base set. */
export const EXPECTED_COUNTS = {
  baseUsers: Object.values(EXPECTED_LEVELS).filter((level) => level !== 'excluded').length,
  levels: Object.fromEntries(
    ([1, 2, 3, 4, 5] as Level[]).map((level) => {
      const left = Object.values(EXPECTED_LEVELS).filter((l) => l !== 'excluded' && l > level).length;
      return [String(level), { audienceType: AUDIENCE_TYPES[level], extracted: EXPECTED_ORDER[level].length, remainingAfter: left }];
    }),
  ),
};

// Item ids, numbered so that the tie-breaks are visible (id(n) sorts by n).
const ITEM = (n: number) => id(0x6000 + n);

export async function loadLayer5Fixture(url: string, opts: { deletedCatalogue?: boolean } = {}): Promise<void> {
  const deletedCatalogue = opts.deletedCatalogue ?? true;
  const { fixture: f, close } = await Fixture.open(url);
  try {
    if (deletedCatalogue) {
      for (const [table, constraint] of [
        ['offer_items', 'offer_items_product_variant_id_fkey'],
        ['desired_items', 'desired_items_product_variant_id_fkey'],
        ['wishlist_items', 'wishlist_items_product_variant_id_fkey'],
        ['product_variants', 'product_variants_product_id_fkey'],
      ]) {
        await f.query(`ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${constraint}`);
      }
    }
    for (const key of ['A', 'B', 'C', 'D', 'E', 'F'] as const) {
      await f.product(NAMES[key], [{ id: V[key], indexCache: { mens_size: '10' } }]);
    }
    // The other variant of the user's shoes: closets use it (Layer 5 reads no closet product).
    const CLOSET = id(0x5509);
    await f.product('Closet Shoe', [{ id: CLOSET }]);
    if (deletedCatalogue) {
      // GONE_PRODUCT: a variant whose product id points nowhere. GONE_VARIANT: no row at all.
      await f.query('INSERT INTO product_variants (id, product_id, index_cache) VALUES ($1, $2, $3)', [
        V.GONE_PRODUCT,
        id(0x5599),
        JSON.stringify({ mens_size: '9' }),
      ]);
    }

    // A user created at CREATED[userId] (or `created`: 'infinity') with a bio (default a plain one).
    const user = async (
      userId: string,
      o: { bio?: string | null; deleted?: boolean; created?: string; sizes?: { value: string }[]; lastActive?: Date[] } = {},
    ) => {
      await f.user({
        id: userId,
        username: usernameOf(userId),
        firstName: firstNameOf(userId),
        deleted: o.deleted,
        sizes: o.sizes,
        lastActive: o.lastActive,
      });
      const created = o.created ?? CREATED[userId];
      await f.query(`UPDATE users SET bio = $2, created_at = ($3::timestamptz AT TIME ZONE 'UTC') WHERE id = $1`, [
        userId,
        o.bio === undefined ? 'Sneakers and more' : o.bio,
        created === 'infinity' ? 'infinity' : `2026-11-${created}Z`,
      ]);
    };
    const closet = (userId: string, status = 'OPEN_FOR_TRADE') => f.inventory(userId, CLOSET, LONG_AGO('01T00:00:00'), { status });
    const desired = (userId: string, variantId: string, offersCount: number, createdAt: Date, o: { id: string; deleted?: boolean }) =>
      f.query(
        `INSERT INTO desired_items (id, user_id, product_variant_id, offers_count, deleted_at, created_at)
         VALUES ($1, $2, $3, $4, $5, ($6::timestamptz AT TIME ZONE 'UTC'))`,
        [o.id, userId, variantId, offersCount, o.deleted ? 1700000000 : 0, createdAt.toISOString()],
      );

    // --- Excluded ---------------------------------------------------------------------------
    await user(U.deleted, { deleted: true, bio: null });
    await user(U.noFirstName);
    await closet(U.noFirstName);
    await user(U.tooOld, { bio: null });
    await user(U.tooYoung, { bio: null });
    await user(U.future, { bio: null });
    await user(U.infinity, { created: 'infinity', bio: null });

    // --- Level 1 ----------------------------------------------------------------------------
    await user(U.emptyFirstName, { bio: null });
    await user(U.atStart);
    await user(U.l1Everything);
    await f.offer(U.l1Everything, LONG_AGO('02T00:00:00'), [[ITEM(0x001), V.A]], ITEM(0x101));
    await f.wishlist(U.l1Everything, V.B, LONG_AGO('02T00:00:00'), { id: ITEM(0x201) });
    await desired(U.l1Everything, V.C, 9, LONG_AGO('02T00:00:00'), { id: ITEM(0x301) });

    // --- Level 2 ----------------------------------------------------------------------------
    await user(U.atEnd, { bio: null });
    await closet(U.atEnd);
    await user(U.bioEmpty, { bio: '' });
    await closet(U.bioEmpty, 'SOLD');
    await user(U.bioSpaces, { bio: '   ' });
    await closet(U.bioSpaces, 'HIDDEN');
    await user(U.l2Everything, { bio: ' ' });
    await closet(U.l2Everything);
    await f.offer(U.l2Everything, LONG_AGO('02T00:00:00'), [[ITEM(0x002), V.A]], ITEM(0x102));
    await f.wishlist(U.l2Everything, V.B, LONG_AGO('02T00:00:00'), { id: ITEM(0x202) });

    // --- Level 3 ----------------------------------------------------------------------------
    await user(U.tabBio, { bio: '\t' });
    await closet(U.tabBio);
    await desired(U.tabBio, V.A, 5, LONG_AGO('10T00:00:00'), { id: ITEM(0x311), deleted: true }); // most, but deleted
    await desired(U.tabBio, V.B, 3, LONG_AGO('03T00:00:00'), { id: ITEM(0x312) }); // tied count, older
    await desired(U.tabBio, V.C, 3, LONG_AGO('04T00:00:00'), { id: ITEM(0x313) }); // tied count, newer: wins
    await desired(U.tabBio, V.D, 2, LONG_AGO('09T00:00:00'), { id: ITEM(0x314) }); // newest, fewer
    // A live wish must not matter (level 3 users may have one; the desired item comes first).
    await f.wishlist(U.tabBio, V.E, LONG_AGO('11T00:00:00'), { id: ITEM(0x211) });

    await user(U.newlineBio, { bio: '\n' });
    await closet(U.newlineBio);
    await desired(U.newlineBio, V.E, 4, LONG_AGO('05T00:00:00'), { id: ITEM(0x322) }); // tie, larger id
    await desired(U.newlineBio, V.D, 4, LONG_AGO('05T00:00:00'), { id: ITEM(0x321) }); // tie, smaller id: wins

    await user(U.wishlistOnly);
    await closet(U.wishlistOnly);
    await f.wishlist(U.wishlistOnly, V.A, LONG_AGO('08T00:00:00'), { id: ITEM(0x221), deleted: true }); // newest, deleted
    await f.wishlist(U.wishlistOnly, V.F, LONG_AGO('06T00:00:00'), { id: ITEM(0x224) }); // tie, larger id
    await f.wishlist(U.wishlistOnly, V.E, LONG_AGO('06T00:00:00'), { id: ITEM(0x223) }); // tie, smaller id: wins
    await f.wishlist(U.wishlistOnly, V.B, LONG_AGO('05T00:00:00'), { id: ITEM(0x222) }); // older

    await user(U.noShoe3);
    await closet(U.noShoe3);
    await desired(U.noShoe3, V.A, 1, LONG_AGO('05T00:00:00'), { id: ITEM(0x331), deleted: true });
    await f.wishlist(U.noShoe3, V.A, LONG_AGO('05T00:00:00'), { id: ITEM(0x231), deleted: true });

    await user(U.desiredGoneProduct);
    await closet(U.desiredGoneProduct);
    if (deletedCatalogue) await desired(U.desiredGoneProduct, V.GONE_PRODUCT, 7, LONG_AGO('05T00:00:00'), { id: ITEM(0x341) });
    await desired(U.desiredGoneProduct, V.A, 1, LONG_AGO('01T00:00:00'), { id: ITEM(0x342) });

    await user(U.desiredGoneVariant);
    await closet(U.desiredGoneVariant);
    if (deletedCatalogue) {
      await desired(U.desiredGoneVariant, V.GONE_VARIANT, 7, LONG_AGO('05T00:00:00'), { id: ITEM(0x351) });
      await f.wishlist(U.desiredGoneVariant, V.GONE_VARIANT, LONG_AGO('09T00:00:00'), { id: ITEM(0x251) });
    }
    await f.wishlist(U.desiredGoneVariant, V.B, LONG_AGO('03T00:00:00'), { id: ITEM(0x252) });

    // --- Level 4 ----------------------------------------------------------------------------
    await user(U.twoOffers);
    await closet(U.twoOffers);
    await f.wishlist(U.twoOffers, V.A, LONG_AGO('07T00:00:00'), { id: ITEM(0x261), deleted: true });
    await f.offer(U.twoOffers, LONG_AGO('03T00:00:00'), [[ITEM(0x011), V.A]], ITEM(0x111)); // older
    await f.offer(U.twoOffers, LONG_AGO('04T00:00:00'), [[ITEM(0x013), V.C], [ITEM(0x012), V.B]], ITEM(0x112)); // newer: B (item 0x012)

    await user(U.tiedOffers);
    await closet(U.tiedOffers);
    await f.offer(U.tiedOffers, LONG_AGO('04T00:00:00'), [[ITEM(0x021), V.D]], ITEM(0x122)); // tie, larger offer id
    await f.offer(U.tiedOffers, LONG_AGO('04T00:00:00'), [[ITEM(0x022), V.C]], ITEM(0x121)); // tie, smaller offer id: C

    await user(U.desiredBeatsOffer);
    await closet(U.desiredBeatsOffer);
    await f.offer(U.desiredBeatsOffer, LONG_AGO('09T00:00:00'), [[ITEM(0x031), V.A]], ITEM(0x131));
    await desired(U.desiredBeatsOffer, V.F, 0, LONG_AGO('01T00:00:00'), { id: ITEM(0x361) });

    await user(U.newestOfferGone);
    await closet(U.newestOfferGone);
    await f.offer(U.newestOfferGone, LONG_AGO('03T00:00:00'), [[ITEM(0x041), V.C]], ITEM(0x141)); // older: C
    if (deletedCatalogue) {
      await f.offer(U.newestOfferGone, LONG_AGO('05T00:00:00'), [[ITEM(0x042), V.GONE_VARIANT]], ITEM(0x142)); // newest, gone
    }

    await user(U.offersAllGone);
    await closet(U.offersAllGone);
    if (deletedCatalogue) {
      await f.offer(U.offersAllGone, LONG_AGO('03T00:00:00'), [[ITEM(0x051), V.GONE_PRODUCT]], ITEM(0x151)); // older
      await f.offer(U.offersAllGone, LONG_AGO('05T00:00:00'), [[ITEM(0x053), V.GONE_PRODUCT], [ITEM(0x052), V.GONE_VARIANT]], ITEM(0x152)); // newest: item 0x052
    } else {
      await f.offer(U.offersAllGone, LONG_AGO('03T00:00:00'), [], ITEM(0x151));
    }

    await user(U.itemlessOffer);
    await closet(U.itemlessOffer);
    await f.offer(U.itemlessOffer, LONG_AGO('03T00:00:00'), [], ITEM(0x161));
    await f.wishlist(U.itemlessOffer, V.A, LONG_AGO('03T00:00:00'), { id: ITEM(0x271), deleted: true });

    await user(U.mixedNewestOffer);
    await closet(U.mixedNewestOffer);
    await f.offer(U.mixedNewestOffer, LONG_AGO('02T00:00:00'), [[ITEM(0x061), V.A]], ITEM(0x171)); // older
    if (deletedCatalogue) {
      await f.offer(U.mixedNewestOffer, LONG_AGO('06T00:00:00'), [[ITEM(0x062), V.GONE_VARIANT], [ITEM(0x063), V.D]], ITEM(0x172));
    } else {
      await f.offer(U.mixedNewestOffer, LONG_AGO('06T00:00:00'), [[ITEM(0x063), V.D]], ITEM(0x172));
    }

    // --- Level 5 ----------------------------------------------------------------------------
    // Inserted in reverse id order: the files order them by id, not by insertion.
    await user(U.starWishlist);
    await closet(U.starWishlist);
    await f.offer(U.starWishlist, LONG_AGO('03T00:00:00'), [], ITEM(0x181));
    await f.wishlist(U.starWishlist, V.E, LONG_AGO('02T00:00:00'), { id: ITEM(0x281) });

    await user(U.starOffer);
    await closet(U.starOffer);
    await desired(U.starOffer, V.A, 9, LONG_AGO('09T00:00:00'), { id: ITEM(0x371), deleted: true });
    await f.offer(U.starOffer, LONG_AGO('03T00:00:00'), [[ITEM(0x071), V.E]], ITEM(0x191));
    await f.wishlist(U.starOffer, V.B, LONG_AGO('08T00:00:00'), { id: ITEM(0x291) });

    await user(U.star, {
      sizes: [{ value: '10' }, { value: '9.5' }],
      lastActive: [at('26T08:00:00'), at('27T09:00:00'), at('27T21:30:00')],
    });
    await closet(U.star);
    await closet(U.star, 'SOLD');
    await desired(U.star, V.A, 2, LONG_AGO('02T00:00:00'), { id: ITEM(0x381) });
    await f.offer(U.star, LONG_AGO('03T00:00:00'), [[ITEM(0x081), V.B]], ITEM(0x1a1));
    await f.offer(U.star, LONG_AGO('04T00:00:00'), [[ITEM(0x082), V.C]], ITEM(0x1a2));
    await f.wishlist(U.star, V.D, LONG_AGO('02T00:00:00'), { id: ITEM(0x2a1) });
    await f.wishlist(U.star, V.E, LONG_AGO('03T00:00:00'), { id: ITEM(0x2a2) });

    await user(U.starGone);
    await closet(U.starGone);
    if (deletedCatalogue) {
      await f.offer(U.starGone, LONG_AGO('03T00:00:00'), [[ITEM(0x091), V.GONE_PRODUCT]], ITEM(0x1b1));
      await f.wishlist(U.starGone, V.GONE_VARIANT, LONG_AGO('04T00:00:00'), { id: ITEM(0x2b1) });
    } else {
      await f.offer(U.starGone, LONG_AGO('03T00:00:00'), [], ITEM(0x1b1));
      await f.wishlist(U.starGone, V.F, LONG_AGO('04T00:00:00'), { id: ITEM(0x2b1) });
    }

    await user(U.starQuoting);
    await closet(U.starQuoting);
    await f.offer(U.starQuoting, LONG_AGO('03T00:00:00'), [[ITEM(0x0a1), V.A]], ITEM(0x1c1));
    await f.wishlist(U.starQuoting, V.A, LONG_AGO('03T00:00:00'), { id: ITEM(0x2c1) });
    await desired(U.starQuoting, V.F, 1, LONG_AGO('01T00:00:00'), { id: ITEM(0x391) });
  } finally {
    await close();
  }
}

/**
 * The shoes with `deletedCatalogue: false`: the rows on missing catalogue entries are not made
 * and the users concerned fall back further.
 */
export const EXPECTED_TARGET_SHOES_WITHOUT_DELETED_CATALOGUE: Record<string, { name: string; variantId: string }> = {
  ...EXPECTED_TARGET_SHOES,
  [U.desiredGoneVariant]: { name: NAMES.B, variantId: V.B },
  [U.offersAllGone]: { name: '', variantId: '' },
  [U.starGone]: { name: NAMES.F, variantId: V.F },
};
