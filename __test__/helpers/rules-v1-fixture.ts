// The fixture of the `rules: 'v1'` tests (docs/layer3-contract.md, section 9): one user or item
// per row of the section's table, with the rows each rule set must write worked out by hand.
import { Fixture, id } from './db';

export const AS_OF = '2026-11-28T12:00:00Z';
// v2 window: [asOf - 36 h, asOf - 12 h) = [27T00:00, 28T00:00).
// v1 window: created_at >= 27T00:00 and <= asOf (28T12:00): the cooling period counts.
export const at = (iso: string) => new Date(`2026-11-${iso}Z`);

export const HOLDER = id(100); // the stock and wishes behind the demand counts
export const DELETED_HOLDER = id(101);

export const V = {
  A: id(501), // mens_size '10', a name that needs quoting
  B: id(502), // mens_size '' -> '' under v2, 'Unknown' under v1
  N: id(503), // mens_size 10.5 (a JSON number)
  C: id(504), // no mens_size -> 'Unknown' under both
  LOW: id(505), // below both thresholds
};
export const NAMES = { A: 'Air Max 1, "Patta"', B: 'Samba OG', N: 'Dunk Low', C: 'Yeezy 350', LOW: 'Gazelle' };

export const U = {
  ada: id(1), // complete; offer (two items, the first by item id is V.A); lastActive .120000
  cal: id(2), // complete; only action an offer in the cooling period: v1 only
  dee: id(3), // closet add in the v2 window, then an offer in the cooling period: v2 closet, v1 offer
  eve: id(4), // first name ''
  fay: id(5), // first name NULL
  gus: id(6), // no preferred size
  hal: id(7), // preferred size ''
  ivy: id(10), // two offers at the same instant: the smaller offer id (V.A) wins
  jo: id(11), // same latest time as kai: ordered by user id
  kai: id(12),
  lu: id(13), // offer below the inventory threshold
  max: id(14), // closet add (V.B, wishlist count 2): the one closet adder under v1
  ned: id(15), // closet add below the wishlist threshold
  ola: id(16), // wishlist add below the inventory threshold
  pia: id(17), // wishlist add, no size: v2 only, so v1's wishlist audience is empty
  quin: id(18), // offer exactly at asOf: v1 only (the end is included)
  rex: id(19), // offer one second after asOf: neither
  gone: id(20), // deleted user with a complete profile and an offer in the window
};

export async function loadRulesV1Fixture(url: string): Promise<void> {
  const { fixture: f, close } = await Fixture.open(url);
  try {
    await f.product(NAMES.A, [{ id: V.A, indexCache: { mens_size: '10' } }]);
    await f.product(NAMES.B, [{ id: V.B, indexCache: { mens_size: '' } }]);
    await f.product(NAMES.N, [{ id: V.N, indexCache: { mens_size: 10.5 } }]);
    await f.product(NAMES.C, [{ id: V.C, indexCache: { color: 'onyx' } }]);
    await f.product(NAMES.LOW, [{ id: V.LOW, indexCache: { mens_size: '9' } }]);

    await f.user({ id: HOLDER, username: 'holder', sizes: [{ value: '10' }] });
    await f.user({ id: DELETED_HOLDER, username: 'gone_holder', deleted: true });
    // Inventory: A 5 (+ dee's closet add = 6), B 4 (+ max's = 5), N 3, C 3, LOW 1 (+ ned's = 2;
    // the deleted holder's 5 do not count). Wishes: A 3 (+ pia's = 4), B 2, LOW 0 (+ ola's = 1;
    // the deleted holder's 3 do not count).
    await f.stock(HOLDER, V.A, 5);
    await f.stock(HOLDER, V.B, 4);
    await f.stock(HOLDER, V.N, 3);
    await f.stock(HOLDER, V.C, 3);
    await f.stock(HOLDER, V.LOW, 1);
    await f.stock(DELETED_HOLDER, V.LOW, 5);
    await f.wanted(HOLDER, V.A, 3);
    await f.wanted(HOLDER, V.B, 2);
    await f.wanted(DELETED_HOLDER, V.LOW, 3);

    // Offer creators.
    await f.user({
      id: U.ada,
      username: 'ada, the first',
      firstName: 'Ada',
      sizes: [{ value: '9.5' }, { value: '10' }, { value: '8', preferred: false }],
      lastActive: [at('26T08:00:00'), at('27T21:30:15.120')],
    });
    await f.offer(U.ada, at('27T10:00:00'), [[id(1002), V.N], [id(1001), V.A]]);
    await f.user({ id: U.cal, username: 'cal', firstName: 'Cal', sizes: [{ value: '11' }], lastActive: [at('28T05:00:00')] });
    await f.offer(U.cal, at('28T06:00:00'), [[id(1003), V.N]]);
    await f.user({ id: U.dee, username: 'dee', firstName: 'Dee', sizes: [{ value: '8' }] });
    // Microseconds, which a JS Date cannot carry; the column's own type (timestamp or timestamptz).
    await f.query("INSERT INTO user_activities (id, user_id, last_active) VALUES ($1, $2, '2026-11-27 22:00:00.123456+00')", [id(4003), U.dee]);
    await f.inventory(U.dee, V.A, at('27T05:00:00'));
    await f.offer(U.dee, at('28T03:00:00'), [[id(1004), V.B]]);
    await f.user({ id: U.eve, username: 'eve', firstName: '', sizes: [{ value: '10' }] });
    await f.offer(U.eve, at('27T12:00:00'), [[id(1005), V.A]]);
    await f.user({ id: U.fay, username: 'fay', firstName: null, sizes: [{ value: '10' }] });
    await f.offer(U.fay, at('27T13:00:00'), [[id(1006), V.A]]);
    await f.user({ id: U.gus, username: 'gus', firstName: 'Gus' });
    await f.offer(U.gus, at('27T14:00:00'), [[id(1007), V.A]]);
    await f.user({ id: U.hal, username: 'hal', firstName: 'Hal', sizes: [{ value: '' }] });
    await f.offer(U.hal, at('27T15:00:00'), [[id(1008), V.A]]);
    await f.user({ id: U.ivy, username: 'ivy', firstName: 'Ivy', sizes: [{ value: '12' }] });
    await f.offer(U.ivy, at('27T17:00:00'), [[id(1010), V.N]], id(2001));
    await f.offer(U.ivy, at('27T17:00:00'), [[id(1009), V.A]], id(2000));
    await f.user({ id: U.kai, username: 'kai', firstName: 'Kai', sizes: [{ value: '9' }] });
    await f.offer(U.kai, at('27T18:00:00'), [[id(1012), V.A]]);
    await f.user({ id: U.jo, username: 'jo', firstName: 'Jo', sizes: [{ value: '9' }] });
    await f.offer(U.jo, at('27T18:00:00'), [[id(1011), V.C]]);
    await f.user({ id: U.lu, username: 'lu', firstName: 'Lu', sizes: [{ value: '9' }] });
    await f.offer(U.lu, at('27T19:00:00'), [[id(1013), V.LOW]]);
    await f.user({ id: U.quin, username: 'quin', firstName: 'Quin', sizes: [{ value: '10' }] });
    await f.offer(U.quin, at('28T12:00:00'), [[id(1018), V.A]]);
    await f.user({ id: U.rex, username: 'rex', firstName: 'Rex', sizes: [{ value: '10' }] });
    await f.offer(U.rex, at('28T12:00:01'), [[id(1019), V.A]]);
    await f.user({ id: U.gone, username: 'gone', firstName: 'Gone', sizes: [{ value: '10' }], deleted: true, lastActive: [at('27T23:00:00')] });
    await f.offer(U.gone, at('27T16:00:00'), [[id(1020), V.A]]);

    // Closet adders.
    await f.user({ id: U.max, username: 'max', firstName: 'Max', sizes: [{ value: '13' }] });
    await f.inventory(U.max, V.B, at('27T08:00:00'));
    await f.user({ id: U.ned, username: 'ned', firstName: 'Ned', sizes: [{ value: '9' }] });
    await f.inventory(U.ned, V.LOW, at('27T09:00:00'));

    // Wishlist adders.
    await f.user({ id: U.ola, username: 'ola', firstName: 'Ola', sizes: [{ value: '9' }] });
    await f.wishlist(U.ola, V.LOW, at('27T20:00:00'));
    await f.user({ id: U.pia, username: 'pia', firstName: 'Pia' });
    await f.wishlist(U.pia, V.A, at('27T21:00:00'));
  } finally {
    await close();
  }
}

export const HEADER_INVENTORY = 'user_id,username,firstName,usersize,relevant_variant_size,product_name,variantID,lastActive,inventory_count';
export const HEADER_WISHLIST = 'user_id,username,firstName,usersize,relevant_variant_size,product_name,variantID,lastActive,wishlist_count';
export const TEST_USER = '0e54067c-4c0e-4e4a-8a23-a47661578059,beems,Mbiyimoh,13';
const QUOTED_A = '"Air Max 1, ""Patta"""';

/**
 * The files rules v1 must write, worked out by hand from section 9 (name prefix -> exact bytes).
 * `tz` is the lastActive suffix: '' for `timestamp` columns, '+00:00' for `timestamptz`.
 */
export function expectedV1Files(tz: '' | '+00:00'): Record<string, string> {
  const crlf = (lines: string[]) => lines.map((line) => `${line}\r\n`).join('');
  return {
    // Newest action first: quin (28T12:00, = asOf), cal (28T06), dee (28T03, its offer beats its
    // closet add), jo and kai (27T18, by user id), ivy (27T17), ada (27T10). Left out: eve and
    // fay (no first name), gus (no size), hal (size ''), lu (demand), rex (after asOf), gone (deleted).
    'recent-offer-creators_': crlf([
      HEADER_INVENTORY,
      `${U.quin},quin,Quin,10,10,${QUOTED_A},${V.A},,6`,
      `${U.cal},cal,Cal,11,10.5,Dunk Low,${V.N},2026-11-28 05:00:00${tz},3`,
      `${U.dee},dee,Dee,8,Unknown,Samba OG,${V.B},2026-11-27 22:00:00.123456${tz},5`,
      `${U.jo},jo,Jo,9,Unknown,Yeezy 350,${V.C},,3`,
      `${U.kai},kai,Kai,9,10,${QUOTED_A},${V.A},,6`,
      `${U.ivy},ivy,Ivy,12,10,${QUOTED_A},${V.A},,6`,
      `${U.ada},"ada, the first",Ada,10,10,${QUOTED_A},${V.A},2026-11-27 21:30:15.120000${tz},6`,
    ]),
    // Row 2 of the audience: cal's.
    'recent-offer-creators_TEST_': crlf([HEADER_INVENTORY, `${TEST_USER},10.5,Dunk Low,${V.N},2025-08-05 20:00:00.000000+00:00,3`]),
    // One row (ned is below the threshold, dee is an offer creator under v1).
    'recent-closet-adders_': crlf([HEADER_WISHLIST, `${U.max},max,Max,13,Unknown,Samba OG,${V.B},,2`]),
    // One row: the test file takes row 1.
    'recent-closet-adders_TEST_': crlf([HEADER_WISHLIST, `${TEST_USER},Unknown,Samba OG,${V.B},2025-08-05 20:00:00.000000+00:00,2`]),
    // Wishlist adders: ola below the threshold, pia without a size: empty, so no file at all.
  };
}

/** What the default rules (v2) put in each audience on the same data, in order. */
export const V2_USERS = {
  offer_creators: [U.jo, U.kai, U.ivy, U.hal, U.gus, U.fay, U.eve, U.ada],
  closet_adders: [U.max, U.dee],
  wishlist_adders: [U.pia],
};
