// Package risk runs the pre-trade risk checks on every client request
// before it reaches the journal and the router, and keeps the account state
// those checks need.
//
//	WebSocket / FIX ─> decode ─> Checker.CheckNew / CheckCancel / CheckReplace
//	                                 │ accept: *Reservation     │ reject: *Reject
//	                                 v                          v
//	                 order, keeping its Reservations      client (WS error, FIX 35=8/9)
//	                                 │
//	                                 v
//	                    journal ─> router ─> upstream
//	execution reports ─> order ─> Checker.OnFill(r) / OnDone(r)        r: the order's Reservation
//	                              Checker.OnTradeAmended(r)            (a trade bust or correction)
//	                              Checker.OnReplaced(r) / OnReplaceRejected(r)
//	                                                                   r: its replace's Reservation
//
// A Checker holds, per account, the available and reserved cash, the
// positions (sellable since an earlier day, reserved by working sells,
// bought today and sellable from the next trading day: T+1), a record of
// each order accepted today (what it holds, its fills, its pending
// replace) and an index of the client order ids used today, which refuses
// duplicates and finds the order a cancel or replace names; per session
// and per account a token-bucket throttle; and the halts, restricted list
// and kill switches. The Reservation a Check method returns links to the
// order's record: the order path hands it back to the callbacks, which
// never look an order up by client order id. Its inputs are the Config
// (reference data, accounts, calendar, limits) and a Clock that tests set
// (ManualClock). New refuses an instrument whose board is not its code's
// (STAR 688xxx and 689xxx on SSE, ChiNext 30xxxx on SZSE): the board sets
// the band, the lots and the board maximum.
//
// # Reject codes
//
// Every reject is a *Reject with a stable Code, a human Text that reaches
// the client unchanged (WebSocket "msg", FIX Text(58)) and the FIX
// OrdRejReason (103) in FIXReason; Reject.CxlRejReason gives the tag 102
// value for an OrderCancelReject.
//
//	code                    103  when
//	risk.unknown_account     99  account not configured, or its credit flag differs from the order's
//	risk.unknown_symbol       1  symbol not in the reference data
//	risk.not_trading          2  symbol halted (SetHalted); the reference data is for another trading day (Config.RefDay)
//	risk.session_closed       2  outside 09:15-09:25, 09:30-11:30, 13:00-15:00; weekend; holiday
//	risk.no_cancel_period     2  cancel or replace 09:20-09:25 or 14:57-15:00 (call auctions)
//	risk.price_band           3  price outside the daily band (±10% main and ST, ±20% ChiNext/STAR), inclusive
//	risk.tick                99  price not a multiple of the tick
//	risk.lot                 99  buy not a multiple of the lot (100); STAR buy below 200
//	risk.odd_lot             99  sell with an odd part other than the whole odd remainder; STAR sell below 200 not the whole position
//	risk.max_qty              3  quantity above the board maximum (Config.MaxQty); an ST buy taking the day's buys of the share beyond Config.STDailyBuy
//	risk.max_notional         3  price × quantity above Config.MaxNotional
//	risk.cash                 3  buy value above the available cash
//	risk.position             3  sell above the sellable position (shares bought today are not sellable)
//	risk.duplicate_clordid    6  client order id already used by the account today
//	risk.restricted           0  symbol on the restricted list
//	risk.throttle_account     0  account over Config.AccountRate orders per second
//	risk.throttle_session     0  session over Config.SessionRate orders per second
//	risk.kill_switch          0  account or global kill switch on (cancels still pass)
//	risk.bad_qty             99  quantity not positive; replace quantity not above the filled quantity
//	risk.bad_price           99  price not positive
//	risk.unsupported_type    99  not a limit order (market orders); side not buy or sell; replace changes symbol or side
//	risk.bad_clordid         99  empty client order id
//	risk.unknown_order        5  cancel or replace of an order not accepted today, or already done
//	risk.replace_pending     99  replace of an order whose previous replace is unanswered
//
// 99 is FIX 4.4's "Other"; a FIX 4.2 session may send 0 instead. When
// several checks fail, the first in CheckNew's documented order is
// reported.
//
// # Trading day
//
// Sessions follow Phase: windows are half-open in China Standard Time, so
// 09:15:00.000 is open and 11:30:00.000 closed. The day rolls over when a
// check sees a later local date (or on Rollover): working orders expire,
// client order ids may be reused and today's buys become sellable.
// Commissions and taxes are not reserved; the core trading system
// enforces them. A credit account is checked like a cash account against
// its configured buying power and positions; financing and short-selling
// limits are the margin system's.
//
// # Concurrency
//
// A Checker is safe for concurrent use by any number of goroutines: each
// method holds the Checker's single mutex for its whole call, so a check
// sees every state change made before it, and a kill switch, halt or
// restricted-list change applies to the very next check. The Clock is read
// before the mutex is taken. The mutex is held for a few hundred
// nanoseconds and nothing blocks under it. Reservations, Rejects,
// OpenOrders and AccountStates returned are the caller's and never change;
// a Reservation's link to its order's record is opaque and only the
// Checker that made it follows it, under its mutex.
//
// # Replay
//
// The order path keeps the Reservation CheckNew returned with its order,
// and the one CheckReplace returned with the order's pending replace, and
// passes them back as execution reports arrive: the order's to OnFill,
// OnTradeAmended and OnDone, the replace's to OnReplaced or OnReplaceRejected. None of these,
// nor RestoreNew, RestoreCancel, RestoreReplace and Rollover, reads the
// clock: replaying a journal on a Checker built from the same Config, with
// ReplayFrom before its first record and Rollover before each later one,
// reproduces the account state, across days too. The replay runs the accepted requests
// through the Restore methods, which return the Reservations as the Check
// methods did, and the callbacks with those Reservations, in journal
// order. Throttles and kill switches are not restored. A restored
// request's price is bounded by the arithmetic only (its product with the
// board maximum fits), not by the configured band: it was within the
// band of its own day, and the reference data may be a later day's.
package risk
