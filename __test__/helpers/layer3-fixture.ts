// The Layer 3 fixture: users and items made for each rule of docs/layer3-contract.md.
// Used by the rule tests, the explain tests and the V1/V2 parity tests.
import { Fixture, id } from './db';

export const AS_OF = '2026-11-28T12:00:00.000Z';
// Window with the defaults: [asOf - 36 h, asOf - 12 h) = [27T00:00, 28T00:00)
export const at = (iso: string) => new Date(`2026-11-${iso}Z`);

export const H = id(100); // holds the stock and wishes that make the demand counts
export const V = { v1: id(501), v2: id(502), v3: id(503), v4: id(504), v5: id(505), v6: id(506), v9: id(509) };
export const NAMES = {
  v1: 'Air Jordan 1, "Chicago"',
  v2: 'Dunk Low\nPanda 🐼',
  v3: 'Yeezy 350',
  v4: 'New Balance 550 — white/green',
  v5: 'Samba',
  v6: '=HYPERLINK("x")',
  v9: 'Gel-Kayano 14',
};

export async function loadFixture(url: string): Promise<void> {
  const { fixture: f, close } = await Fixture.open(url);
  try {
    await f.product(NAMES.v1, [{ id: V.v1, indexCache: { mens_size: '10' } }]);
    await f.product(NAMES.v2, [{ id: V.v2, indexCache: { mens_size: 10.5 } }]);
    await f.product(NAMES.v3, [{ id: V.v3, indexCache: { color: 'onyx' } }]);
    await f.product(NAMES.v4, [{ id: V.v4, indexCache: { mens_size: '9' } }]);
    await f.product(NAMES.v5, [{ id: V.v5, indexCache: { mens_size: '8' } }]);
    await f.product(NAMES.v6, [{ id: V.v6, indexCache: { mens_size: '11' } }]);
    await f.product(NAMES.v9, [{ id: V.v9, indexCache: { mens_size: '12' } }]);

    await f.user({ id: H, username: 'holder' });
    const deleted = await f.user({ id: id(5), username: 'gone', deleted: true });
    // Demand: V1 inventory 4, V2 inventory 3 (at the limit), V3 inventory 2 (one below;
    // the deleted user's 5 items do not count), V6 inventory 2, V4 wishlist 2 (at the
    // limit), V5 wishlist 1 (a deleted wish and a deleted user's wish do not count).
    await f.stock(H, V.v1, 4);
    await f.stock(H, V.v2, 3);
    await f.stock(H, V.v3, 2);
    await f.stock(deleted, V.v3, 5);
    await f.stock(H, V.v6, 2);
    await f.inventory(H, V.v6, at('01T00:00:00'), { status: 'SOLD' });
    await f.wanted(H, V.v4, 2);
    await f.wanted(H, V.v5, 1);
    await f.wishlist(H, V.v5, at('01T00:00:00'), { deleted: true });
    await f.wanted(deleted, V.v5, 1);

    // U1: multi-item offer (the item with the smaller id was inserted second), and a
    // later closet add: the offer wins, the closet add sets the order time.
    await f.user({
      id: id(1),
      username: 'sneakerhead',
      firstName: 'Ada',
      sizes: [{ value: '9.5' }, { value: '10' }, { value: '8', preferred: false }, { value: '7', attribute: 'womens_size' }],
      lastActive: [at('26T08:00:00'), at('27T21:30:00')],
    });
    await f.offer(id(1), at('27T10:00:00'), [[id(1002), V.v2], [id(1001), V.v1]]);
    await f.inventory(id(1), V.v4, at('27T20:00:00'));
    // U2: offer on a low-demand variant: dropped, no fallback to its wishlist add.
    await f.user({ id: id(2) });
    await f.offer(id(2), at('27T05:00:00'), [[id(1003), V.v3]]);
    await f.wishlist(id(2), V.v1, at('27T06:00:00'));
    // U3: offer exactly at the window start (included); no profile extras.
    await f.user({ id: id(3), firstName: null });
    await f.offer(id(3), at('27T00:00:00'), [[id(1004), V.v1]]);
    // U4: offer exactly at the window end (excluded).
    await f.user({ id: id(4) });
    await f.offer(id(4), at('28T00:00:00'), [[id(1005), V.v1]]);
    // U5 (deleted): an offer in the window is no activity.
    await f.offer(deleted, at('27T09:00:00'), [[id(1006), V.v1]]);
    // U15: same latest time as U1: ordered after it by user id.
    await f.user({ id: id(15) });
    await f.offer(id(15), at('27T20:00:00'), [[id(1007), V.v1]]);

    // U6: closet add at the wishlist limit (kept).
    await f.user({ id: id(6), sizes: [{ value: '11' }] });
    await f.inventory(id(6), V.v4, at('27T12:00:00'));
    // U7: closet add one below the limit (dropped).
    await f.user({ id: id(7) });
    await f.inventory(id(7), V.v5, at('27T12:30:00'));
    // U8: a SOLD item is no activity; its wishlist add is.
    await f.user({ id: id(8) });
    await f.inventory(id(8), V.v4, at('27T12:00:00'), { status: 'SOLD' });
    await f.wishlist(id(8), V.v1, at('27T13:00:00'));
    // U14: closet add whose count reaches the limit only with the user's own wish.
    await f.user({ id: id(14) });
    await f.inventory(id(14), V.v9, at('27T02:00:00'));
    await f.wanted(id(14), V.v9, 1);
    await f.wanted(H, V.v9, 1);
    // U16: two closet adds at the same instant: the smaller item id wins (V9).
    await f.user({ id: id(16) });
    await f.inventory(id(16), V.v4, at('27T08:00:00'), { id: id(2002) });
    await f.inventory(id(16), V.v9, at('27T08:00:00'), { id: id(2001) });

    // U9: wishlist add; a deleted wishlist item later in the window is no activity.
    await f.user({ id: id(9) });
    await f.wishlist(id(9), V.v1, at('27T15:00:00'));
    await f.wishlist(id(9), V.v2, at('27T16:00:00'), { deleted: true });
    // U10: wishlist add at the inventory limit (kept). U11: one below (dropped).
    await f.user({ id: id(10) });
    await f.wishlist(id(10), V.v2, at('27T14:00:00'));
    await f.user({ id: id(11) });
    await f.wishlist(id(11), V.v6, at('27T14:00:00'));
    // U12: wishlist add before the window (excluded).
    await f.user({ id: id(12) });
    await f.wishlist(id(12), V.v1, at('26T23:59:59'));
  } finally {
    await close();
  }
}

