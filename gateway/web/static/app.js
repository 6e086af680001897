// sgw trading page: live market data and order entry over the gateway's
// WebSocket protocol (docs/PROTOCOL.md, "WebSocket market data" and
// "WebSocket orders"). No framework, no outside resources. The page keeps a
// local copy of one symbol's book from a snapshot plus per-seq updates,
// verifies the book checksum after every message, and recovers by itself
// from seq gaps and checksum mismatches. With a ?token= it signs in, shows
// an order ticket for the selected symbol and the token's accounts' orders
// from the private orders channel, and their cash and positions (the
// account request). A token the gateway refuses (expired or bad) is
// dropped: the page says why in a banner and shows prices anonymously.
//
// For tests the page exposes window.gw (counters and state, plain data;
// window.gw.orders for order entry) and window.gwChecksumSelfTest() (Go/JS
// checksum agreement, see checksum_vectors.json).
'use strict';

(function () {

// ---------------------------------------------------------------------------
// Fixed-point prices. Prices travel as decimal strings ("1700.01") and are
// compared and hashed as integers in units of 0.0001; they never go through
// floating point.

const PRICE_DECIMALS = 4;
const PRICE_RE = /^(\d+)(?:\.(\d{1,4}))?$/;

// priceUnits parses a decimal price string into integer units of 0.0001:
// "1700.01" -> 17000100, "1700" -> 17000000, "0.0001" -> 1.
function priceUnits(text) {
  const m = PRICE_RE.exec(text);
  if (m === null) {
    throw new Error('bad price ' + JSON.stringify(text));
  }
  const whole = parseInt(m[1], 10);
  const frac = parseInt((m[2] || '').padEnd(PRICE_DECIMALS, '0'), 10);
  const units = whole * 10000 + frac;
  if (!Number.isSafeInteger(units)) {
    throw new Error('price out of range ' + JSON.stringify(text));
  }
  return units;
}

// formatUnits formats integer units of 0.0001 the way the gateway does:
// at least two decimals, no trailing zeros beyond them.
function formatUnits(units) {
  const sign = units < 0 ? '-' : '';
  const v = Math.abs(units);
  let frac = String(v % 10000).padStart(PRICE_DECIMALS, '0');
  while (frac.length > 2 && frac.endsWith('0')) {
    frac = frac.slice(0, -1);
  }
  return sign + Math.floor(v / 10000) + '.' + frac;
}

// groupDigits puts thousands separators into the integer part of a decimal
// string or a safe integer: "82110300.00" -> "82,110,300.00".
function groupDigits(value) {
  const s = String(value);
  const dot = s.indexOf('.');
  const whole = dot < 0 ? s : s.slice(0, dot);
  const rest = dot < 0 ? '' : s.slice(dot);
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + rest;
}

// ---------------------------------------------------------------------------
// Book checksum (PROTOCOL.md, "Book checksum"): CRC-32/IEEE over n rows of
// 32 bytes, row i = bid price, bid qty, ask price, ask qty of level i, each
// a big-endian signed 64-bit integer; a missing level is zeros. n is 10, or
// 5 for depth-5 subscribers (the first 160 bytes).

const CRC_TABLE = (function () {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) {
      c = (c & 1) ? (0xEDB88320 ^ (c >>> 1)) : (c >>> 1);
    }
    t[n] = c >>> 0;
  }
  return t;
})();

// crc32 is zlib's crc32 (reflected polynomial 0xEDB88320) of a byte array.
function crc32(bytes) {
  let c = 0xFFFFFFFF;
  for (let i = 0; i < bytes.length; i++) {
    c = CRC_TABLE[(c ^ bytes[i]) & 0xFF] ^ (c >>> 8);
  }
  return (c ^ 0xFFFFFFFF) >>> 0;
}

// putInt64 writes a safe integer as a big-endian signed 64-bit integer.
// JS bit operators work on 32 bits, so split into high and low words.
function putInt64(view, offset, n) {
  const high = Math.floor(n / 2 ** 32);
  const low = n >>> 0; // n mod 2^32
  view.setInt32(offset, high);
  view.setUint32(offset + 4, low);
}

// bookChecksum hashes the first n levels of bids and asks (best first;
// levels are {units, qty}).
function bookChecksum(bids, asks, n) {
  const view = new DataView(new ArrayBuffer(n * 32)); // zero-filled
  for (let i = 0; i < n; i++) {
    const row = i * 32;
    if (i < bids.length) {
      putInt64(view, row, bids[i].units);
      putInt64(view, row + 8, bids[i].qty);
    }
    if (i < asks.length) {
      putInt64(view, row + 16, asks[i].units);
      putInt64(view, row + 24, asks[i].qty);
    }
  }
  return crc32(new Uint8Array(view.buffer));
}

// checksumRows is how many levels the checksum of a subscription covers:
// the top-5 checksum for depth 5, the top-10 one for depth 10 and 20.
function checksumRows(depth) {
  return depth === 5 ? 5 : 10;
}

// ---------------------------------------------------------------------------
// Local book. One per subscription; replaced on symbol or depth change.

function newBook(symbol, depth) {
  return {
    symbol: symbol,
    depth: depth,
    valid: false,      // a snapshot was applied and nothing failed since
    seq: 0,            // seq of the last snapshot or update applied
    bids: [],          // {price (wire string), units, qty}, best (highest) first
    asks: [],          // best (lowest) first
    subId: 0,          // id of the last book subscribe sent
    recovering: false, // a resubscribe for a gap or a mismatch is under way
    stale: false,      // the last book message was marked stale: it may be wrong
    streak: 0,         // resubscribes since the last verified checksum
  };
}

// parseLevel turns a wire level ["1700.00", 300] into {price, units, qty}.
function parseLevel(wire) {
  if (!Array.isArray(wire) || wire.length < 2) {
    throw new Error('bad level ' + JSON.stringify(wire));
  }
  const qty = wire[1];
  if (!Number.isSafeInteger(qty) || qty < 0) {
    throw new Error('bad quantity ' + JSON.stringify(wire));
  }
  return { price: String(wire[0]), units: priceUnits(String(wire[0])), qty: qty };
}

function parseLevels(list) {
  return (list || []).map(parseLevel);
}

const bidBefore = (a, b) => a > b; // a better bid ranks first
const askBefore = (a, b) => a < b;

// applySide applies one side of an update to levels, as PROTOCOL.md says:
// for each [price, qty], qty 0 removes the level at that price; otherwise
// the level at that price is set, inserted in price order if new. Levels
// are keyed by price, never by position.
function applySide(levels, changes, before) {
  for (const change of parseLevels(changes)) {
    const i = levels.findIndex((l) => l.units === change.units);
    if (change.qty === 0) {
      if (i >= 0) {
        levels.splice(i, 1);
      }
    } else if (i >= 0) {
      levels[i] = change;
    } else {
      let at = levels.findIndex((l) => before(change.units, l.units));
      if (at < 0) {
        at = levels.length;
      }
      levels.splice(at, 0, change);
    }
  }
}

// expectedChecksum is the checksum the server sent for this subscription.
// The protocol puts it in `checksum` (the top-5 one for depth 5); accept a
// separate `checksum5` too, should a server send both.
function expectedChecksum(msg, depth) {
  if (depth === 5 && typeof msg.checksum5 === 'number') {
    return msg.checksum5;
  }
  return msg.checksum;
}

// ---------------------------------------------------------------------------
// Page state. window.gw is plain data for tests; keep it in step.

const gw = {
  state: 'connecting', // connecting | live | resyncing | closed
  symbol: '',
  depth: 10,
  seq: 0,         // seq of the local book
  applied: 0,     // book updates applied
  snapshots: 0,   // book snapshots applied
  verified: 0,    // checksums that matched (snapshots and updates)
  failures: 0,    // checksums that did not match, or undecodable book messages
  resyncs: 0,     // resubscribes to recover: checksum mismatch or seq gap
  gaps: 0,        // seq gaps seen (each one resumed)
  connects: 0,    // WebSocket connections opened
  trades: 0,      // trades in the "last trades" list (at most MAX_TRADES)
  orders: {
    signedIn: false,  // the auth reply arrived on the open connection
    sub: '',          // the token's user
    accounts: [],     // the accounts the token may trade
    list: [],         // the orders shown, oldest first: copies of the rows, see upsertOrder
    errors: [],       // order errors, oldest first: {code, msg, ref, local}
    lastError: null,  // the last of errors
    lastClOrdId: '',  // clOrdId of the last order.new sent
  },
  session: {
    state: 'none',    // none | pending | ok | failed | refused (the token was dropped)
    refused: '',      // why the gateway refused the token (close reason or REST error)
    banner: '',       // the banner text shown, '' if none
  },
  accounts: {},       // account -> the last account reply: {cash, reserved, openOrders, positions, updates}
  notice: '',         // the last text of the notice bar ('' before the first)
};
window.gw = gw;

const RECONNECT_MIN_MS = 250;
const CLOSE_TOKEN_EXPIRED = 4001; // PROTOCOL.md, "Errors and closes"
const CLOSE_BAD_TOKEN = 4003;
const RECONNECT_MAX_MS = 10000;
const RESYNC_BASE_MS = 250;  // delay of a resubscribe that follows a failed one,
const RESYNC_MAX_MS = 8000;  // doubling up to this
const MAX_TRADES = 30;

let ws = null;
let socketPhase = 'connecting'; // connecting | open | closed
let reconnectDelay = RECONNECT_MIN_MS;
let nextId = 1;
let book = null;
let quote = null;
let trades = [];
const instruments = new Map(); // symbol -> instrument JSON
let renderQueued = false;

const $ = (id) => document.getElementById(id);

// updateState derives the connection indicator from the socket and the book.
function updateState() {
  let s;
  if (socketPhase !== 'open') {
    s = socketPhase;
  } else if (book && book.valid && !book.recovering && book.stale) {
    s = 'stale'; // the server says its book may be wrong
  } else if (book && book.valid && !book.recovering) {
    s = 'live';
  } else if (book && book.recovering) {
    s = 'resyncing';
  } else {
    s = 'connecting'; // open, waiting for the first snapshot
  }
  gw.state = s;
  gw.seq = book ? book.seq : 0;
  scheduleRender();
}

// ---------------------------------------------------------------------------
// Connection.

// wsURL is ws(s)://HOST/ws, passing on the page's ?token= for browsers
// (which cannot set an Authorization header on a WebSocket).
function wsURL() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = session.token;
  let url = proto + '//' + location.host + '/ws';
  if (token) {
    url += '?token=' + encodeURIComponent(token);
  }
  return url;
}

function connect() {
  socketPhase = 'connecting';
  updateState();
  const sock = new WebSocket(wsURL());
  ws = sock;
  sock.onopen = () => {
    if (ws !== sock) {
      return;
    }
    socketPhase = 'open';
    gw.connects++;
    hideNotice();
    subscribeAll(true);
    authenticate();
    updateState();
  };
  sock.onmessage = (ev) => {
    if (ws !== sock) {
      return;
    }
    reconnectDelay = RECONNECT_MIN_MS; // the server talks to us: reset backoff
    onFrame(ev.data);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) {
      return;
    }
    ws = null;
    socketPhase = 'closed';
    if ((ev.code === CLOSE_TOKEN_EXPIRED || ev.code === CLOSE_BAD_TOKEN) && session.token) {
      // The gateway refused the token (at the upgrade, or it expired
      // while connected): drop it and carry on with prices only.
      tokenRefused(ev.code === CLOSE_TOKEN_EXPIRED, ev.reason || 'close ' + ev.code);
      signedOut();
      updateState();
      reconnectDelay = RECONNECT_MIN_MS;
      setTimeout(connect, 0);
      return;
    }
    signedOut();
    updateState();
    scheduleReconnect(ev);
  };
}

// scheduleReconnect reconnects after a jittered, doubling delay.
function scheduleReconnect(ev) {
  const delay = Math.round(reconnectDelay * (0.8 + 0.4 * Math.random()));
  reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
  let why = 'connection closed';
  if (ev && ev.code) {
    why += ' (' + ev.code + (ev.reason ? ': ' + ev.reason : '') + ')';
  }
  showNotice(why + '; reconnecting in ' + (delay / 1000).toFixed(1) + ' s');
  setTimeout(connect, delay);
}

// send sends one client message (one JSON object per frame) with a fresh id
// and returns the id.
function send(msg) {
  if (!ws || socketPhase !== 'open') {
    return 0;
  }
  msg.id = nextId++;
  ws.send(JSON.stringify(msg));
  return msg.id;
}

// onFrame handles one text frame: one or more JSON messages separated by
// "\n" (the server batches what it has queued for us).
function onFrame(data) {
  for (const line of String(data).split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (e) {
      console.error('gw: undecodable message', line, e);
      continue;
    }
    handle(msg);
  }
}

// ---------------------------------------------------------------------------
// Subscriptions.

// subscribeAll subscribes quote, trades and book for the selected symbol.
// After a reconnect a valid book resumes from its seq instead of asking for
// a snapshot.
function subscribeAll(resume) {
  if (!book || socketPhase !== 'open') {
    return;
  }
  send({ op: 'subscribe', channel: 'quote', symbols: [book.symbol] });
  send({ op: 'subscribe', channel: 'trades', symbols: [book.symbol] });
  subscribeBook(resume && book.valid);
}

// subscribeBook subscribes the book channel at the book's depth, with
// "resume" from the local seq and the local book's checksum when asked
// (the server then sends the missed updates, or a snapshot if it no longer
// holds them or its book at that seq is another one). A stale book is
// never resumed.
function subscribeBook(resume) {
  const msg = { op: 'subscribe', channel: 'book', symbols: [book.symbol], depth: book.depth };
  if (resume && !book.stale) {
    msg.resume = { [book.symbol]: book.seq };
    msg.checksums = { [book.symbol]: bookChecksum(book.bids, book.asks, checksumRows(book.depth)) };
    book.recovering = true;
  }
  book.subId = send(msg);
}

function unsubscribe(channel, symbol) {
  send({ op: 'unsubscribe', channel: channel, symbols: [symbol] });
}

// selectSymbol switches the page to symbol: unsubscribes the old one and
// subscribes the new one.
function selectSymbol(symbol) {
  if (book && book.symbol === symbol) {
    return;
  }
  if (book) {
    for (const ch of ['book', 'quote', 'trades']) {
      unsubscribe(ch, book.symbol);
    }
  }
  gw.symbol = symbol;
  book = newBook(symbol, gw.depth);
  quote = null;
  trades = [];
  gw.trades = 0;
  ticket.prefilled = '';
  ticket.edited = false;
  subscribeAll(false);
  updateState();
}

// selectDepth resubscribes the book at a new depth, from a fresh snapshot.
function selectDepth(depth) {
  gw.depth = depth;
  if (!book || book.depth === depth) {
    return;
  }
  unsubscribe('book', book.symbol);
  book = newBook(book.symbol, depth);
  subscribeBook(false);
  updateState();
}

// resync throws the local book away after a checksum mismatch and asks for
// a fresh snapshot: unsubscribe, then subscribe without resume. Updates of
// the old subscription still in flight are ignored (the book is not valid).
function resync() {
  book.valid = false;
  book.recovering = true;
  gw.resyncs++;
  const target = book;
  paced(target, () => {
    unsubscribe('book', target.symbol);
    subscribeBook(false);
  });
  updateState();
}

// resume recovers from a seq gap: the local book is still right as of
// book.seq, so resubscribe with resume and apply the missed updates when
// they come. Updates past the gap that are still in flight are ignored, as
// they are not book.seq+1.
function resume() {
  gw.gaps++;
  gw.resyncs++;
  book.recovering = true;
  const target = book;
  paced(target, () => {
    unsubscribe('book', target.symbol);
    subscribeBook(true);
  });
  updateState();
}

// paced runs a resubscribe of target at once if the book verified since
// the last one, else after a doubling delay, so that a persistent fault
// does not flood the server. Nothing runs if the book was replaced
// meanwhile; if the socket is down, the reconnect subscribes instead.
function paced(target, fn) {
  const n = target.streak++;
  const wait = n === 0 ? 0 : Math.min(RESYNC_BASE_MS * 2 ** (n - 1), RESYNC_MAX_MS);
  const run = () => {
    if (book === target) {
      fn();
    }
  };
  if (wait > 0) {
    setTimeout(run, wait);
  } else {
    run();
  }
}

// ---------------------------------------------------------------------------
// Server messages.

function handle(msg) {
  switch (msg.ch) {
    case 'book':
      onBook(msg);
      return;
    case 'quote':
      onQuote(msg);
      return;
    case 'trades':
      onTrade(msg);
      return;
    case 'orders':
      onOrderEvent(msg);
      return;
  }
  switch (msg.type) {
    case 'subscribed':
      onSubscribed(msg);
      return;
    case 'unsubscribed':
      return;
    case 'auth':
      onAuth(msg);
      return;
    case 'orders':
      onOrdersList(msg);
      return;
    case 'account':
      onAccount(msg);
      return;
    case 'error':
      onError(msg);
      return;
  }
  console.warn('gw: unknown message', msg);
}

// onSubscribed: the answer to a resume subscribe ends the recovery; the
// missed updates (or a snapshot) follow it.
function onSubscribed(msg) {
  if (book && msg.channel === 'book' && msg.id === book.subId && book.valid) {
    book.recovering = false;
    updateState();
  }
}

function onBook(msg) {
  if (!book || msg.sym !== book.symbol) {
    return; // a symbol we left; its unsubscribe is in flight
  }
  try {
    if (msg.type === 'snapshot') {
      onSnapshot(msg);
    } else if (msg.type === 'update') {
      onUpdate(msg);
    }
  } catch (e) {
    console.error('gw: bad book message', msg, e);
    gw.failures++;
    resync();
  }
}

// onSnapshot replaces the local book (also for "resync":true snapshots,
// which replace a backlog the server dropped).
function onSnapshot(msg) {
  if (msg.depth && msg.depth !== book.depth) {
    return; // from a subscription at another depth, unsubscribed
  }
  book.bids = parseLevels(msg.bids).slice(0, book.depth);
  book.asks = parseLevels(msg.asks).slice(0, book.depth);
  book.seq = msg.seq;
  book.stale = !!msg.stale;
  book.valid = true;
  book.recovering = false;
  gw.snapshots++;
  verify(msg);
}

// onUpdate applies the update with seq book.seq+1; older seqs are
// duplicates of what we have, newer ones mean we missed some.
function onUpdate(msg) {
  if (!book.valid) {
    return; // waiting for a snapshot
  }
  if (msg.seq <= book.seq) {
    return;
  }
  if (msg.seq !== book.seq + 1) {
    if (!book.recovering) {
      console.warn('gw: seq gap: have', book.seq, 'got', msg.seq);
      resume();
    }
    return;
  }
  applySide(book.bids, msg.bids, bidBefore);
  applySide(book.asks, msg.asks, askBefore);
  // Keep only the best `depth` levels of each side.
  book.bids.length = Math.min(book.bids.length, book.depth);
  book.asks.length = Math.min(book.asks.length, book.depth);
  book.seq = msg.seq;
  book.stale = !!msg.stale;
  book.recovering = false;
  gw.applied++;
  verify(msg);
}

// verify checks the local book against the message's checksum; a mismatch
// means the local copy is wrong and only a fresh snapshot can fix it.
function verify(msg) {
  const got = bookChecksum(book.bids, book.asks, checksumRows(book.depth));
  const want = expectedChecksum(msg, book.depth);
  if (got === want) {
    gw.verified++;
    book.streak = 0;
    updateState();
    return;
  }
  console.warn('gw: checksum mismatch at seq', msg.seq, 'got', got, 'want', want);
  gw.failures++;
  resync();
}

function onQuote(msg) {
  if (!book || msg.sym !== book.symbol) {
    return;
  }
  quote = msg;
  scheduleRender();
}

function onTrade(msg) {
  if (!book || msg.sym !== book.symbol) {
    return;
  }
  if (msg.type === 'resync') {
    // The connection fell behind and prints up to msg.seq may be missing:
    // the list shows where.
    trades.unshift({ gap: true, seq: msg.seq });
  } else {
    trades.unshift(msg);
  }
  if (trades.length > MAX_TRADES) {
    trades.length = MAX_TRADES;
  }
  gw.trades = trades.length;
  scheduleRender();
}

// ---------------------------------------------------------------------------
// Orders (PROTOCOL.md, "WebSocket orders"). The page's ?token= goes with
// the upgrade, and again in an `auth` message once the socket is open: the
// gateway accepts an upgrade token silently, and the `auth` reply is where
// the page learns the token's accounts. Then it subscribes the accounts'
// private orders channel and lists their orders. Rows are keyed by account
// and origClOrdId, the id an order was entered with: a replace changes the
// order's clOrdId, never its origClOrdId.

// WORKING are the statuses of an order that may still trade; such a row
// has a Cancel button.
const WORKING = new Set(['pending_new', 'new', 'partially_filled']);
const TERMINAL = new Set(['filled', 'canceled', 'rejected', 'expired']);
const MAX_ERRORS = 50;
const CST_OFFSET_MS = 8 * 3600 * 1000; // exchange time is China Standard Time

// TOKEN_KEY is where the tab keeps its token (sessionStorage): pageToken
// takes a ?token= out of the address bar at once, so that it stays out of
// the browser's history and of a copied link, and a reload of the tab
// still signs in.
const TOKEN_KEY = 'sgw.token';

function pageToken() {
  const q = new URLSearchParams(location.search);
  const t = q.get('token');
  if (t === null) {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch (e) {
      return '';
    }
  }
  q.delete('token');
  const rest = q.toString();
  history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  try {
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
    } else {
      sessionStorage.removeItem(TOKEN_KEY);
    }
  } catch (e) {
    // storage refused (a private window's quota): this load still signs in
  }
  return t;
}

const session = {
  token: pageToken(), // '' once refused
  state: 'none',  // none (no token) | pending (auth under way) | ok | failed | refused (token dropped)
  sub: '',
  accounts: [],
  authId: 0,      // id of the auth request in flight
  failure: '',    // why the last sign-in failed
};
const orders = new Map();    // account + '\n' + origClOrdId -> row, in arrival order
const orderReqs = new Map(); // id of an order request in flight -> {op, ref, key}
let clOrdSeq = 0;
let ordersDirty = true;      // the table needs drawing
let accountsDirty = true;    // the account panel needs drawing
let ticketError = null;      // the error shown next to the ticket
const ticket = {
  prefilled: '',  // the symbol whose touch price the ticket took
  edited: false,  // the user set the price: do not prefill over it
};

if (session.token) {
  session.state = 'pending';
}

// tokenRefused drops the page's token after the gateway refused it (close
// 4001 or 4003, or a REST 401 bad_token): the page goes on anonymously,
// with prices only, and says why in the banner until it is reloaded.
function tokenRefused(expired, reason) {
  if (!session.token) {
    return;
  }
  session.token = '';
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch (e) {
    // nothing kept
  }
  session.state = 'refused';
  session.failure = reason;
  session.accounts = [];
  gw.session.refused = reason;
  gw.session.banner = (expired ? 'token expired' : 'token refused') + ' \u2014 showing prices only';
  const el = $('token-banner');
  el.textContent = gw.session.banner;
  el.title = reason;
  el.hidden = false;
  hideNotice();
  ordersChanged();
}

// authenticate sends the page's token on a freshly opened socket.
function authenticate() {
  if (!session.token) {
    return;
  }
  session.state = 'pending';
  session.authId = send({ op: 'auth', token: session.token });
  ordersChanged();
}

// signedOut forgets what belonged to the closed connection: the sign-in
// and requests in flight. The rows stay; orders.list refreshes them after
// the reconnect.
function signedOut() {
  if (session.token) {
    session.state = 'pending';
  }
  accountReqs.clear();
  session.authId = 0;
  orderReqs.clear();
  for (const row of orders.values()) {
    row.canceling = '';
  }
  ordersChanged();
}

// onAuth takes the accounts of the auth reply and, on the first reply of a
// connection, subscribes their orders channel and lists their orders.
function onAuth(msg) {
  if (msg.ok === false) {
    signInFailed('bad_token', msg.msg || 'token refused');
    return;
  }
  const first = session.state !== 'ok';
  session.state = 'ok';
  session.sub = String(msg.sub || '');
  session.accounts = Array.isArray(msg.accounts) ? msg.accounts.map(String) : [];
  session.failure = '';
  if (first && session.accounts.length > 0) {
    track(send({ op: 'subscribe', channel: 'orders', accounts: session.accounts }), 'subscribe', '', '');
    for (const account of session.accounts) {
      listOrders(account, '');
      askAccount(account);
    }
  }
  ordersChanged();
}

function signInFailed(code, text) {
  session.state = 'failed';
  session.failure = code + (text ? ': ' + text : '');
  session.accounts = [];
  ordersChanged();
}

// track remembers an order request by its id, so that an error answering
// it is shown next to the ticket (errors of malformed requests carry the
// id but no ref).
function track(id, op, ref, key, order) {
  if (id) {
    orderReqs.set(id, { op: op, ref: ref, key: key, order: order || null });
  }
}

// settle forgets the requests that ref (a clOrdId) answered.
function settle(ref) {
  if (!ref) {
    return;
  }
  for (const [id, req] of orderReqs) {
    if (req.ref === ref) {
      orderReqs.delete(id);
    }
  }
}

// newClOrdId makes a client order id unique to this page: the time in
// base 36 and a counter.
function newClOrdId() {
  clOrdSeq++;
  return 'w' + Date.now().toString(36) + clOrdSeq.toString(36);
}

function orderKey(account, origClOrdId) {
  return account + '\n' + origClOrdId;
}

// AMENDS say what the venue did to an order's fills after the fact, by the
// execType of the event (PROTOCOL.md): the row keeps it in its Reason cell
// and the notice bar shows it when it arrives.
const AMENDS = new Map([
  ['trade_canceled', 'the exchange canceled trade'],
  ['trade_corrected', 'the exchange corrected trade'],
  ['restated', 'the exchange restated the order'],
]);

// amendText is what an exec event of a trade cancel, a trade correction or
// a restatement did, naming the trade; '' for any other view.
function amendText(o) {
  const text = o.type === 'exec' ? AMENDS.get(o.execType) : undefined;
  if (text === undefined) {
    return '';
  }
  if (o.execType === 'restated') {
    return text;
  }
  return o.execRefId ? text + ' ' + o.execRefId : text.replace(/trade$/, 'a trade');
}

// upsertOrder records an order view (an orders-channel event or an entry
// of an orders.list reply) and returns its row. A view older than the row
// is ignored: its time, the order's last change (Unix ns on the gateway's
// clock), is earlier. Such is an event of a change that an orders.list
// page already held, which may follow the page. A later view is taken
// whatever it says, also when it reopens a finished order: a venue that
// cancels or corrects a trade of a filled order (trade_canceled,
// trade_corrected, restated) may work it again, with less filled (before,
// the row stayed filled, showing the old fills and no Cancel button). Only
// a view of the row's own time (a JS number rounds the nanoseconds to 256)
// does not take a finished row back to working. A row of this page's own
// (rejectedRow, timed by the browser's clock) gives way to any view of the
// gateway's (TestRefusedRowGivesWayToGateway). Times are compared only
// within one connection: the gateway a reconnect reaches (another cluster
// node after a takeover) stamps changes by its own clock, which may be
// behind the last one's, so a view of a later connection is always taken
// (TestOrdersRelistedAfterReconnectWhateverTheClock).
function upsertOrder(o) {
  const orig = String(o.origClOrdId || o.clOrdId || '');
  if (!orig || typeof o.account !== 'string') {
    console.warn('gw: order without ids', o);
    return null;
  }
  const key = orderKey(o.account, orig);
  const row = orders.get(key);
  const time = typeof o.time === 'number' ? o.time : 0;
  if (row && !row.local && row.conn === gw.connects &&
    (time < row.time || (time === row.time && TERMINAL.has(row.status) && !TERMINAL.has(o.status)))) {
    return row;
  }
  const next = {
    key: key,
    time: time, // Unix ns of the order's last change
    clOrdId: String(o.clOrdId || orig),
    origClOrdId: orig,
    account: o.account,
    symbol: String(o.symbol || ''),
    side: String(o.side || ''),
    price: String(o.price || ''),
    qty: o.qty || 0,
    cumQty: o.cumQty || 0,
    leavesQty: o.leavesQty || 0,
    avgPx: String(o.avgPx || ''),
    status: String(o.status || 'unknown'),
    orderId: String(o.orderId || (row ? row.orderId : '')),
    text: String(o.text || ''),
    code: String(o.code || (row ? row.code : '')),
    conn: gw.connects, // the connection the view came on: times compare within one
    amend: amendText(o) || (row ? row.amend : ''), // the venue's last amend of its fills, see AMENDS
    canceling: row && WORKING.has(o.status) ? row.canceling : '', // clOrdId of our cancel in flight
  };
  orders.set(key, next);
  ordersChanged();
  return next;
}

// onOrderEvent handles the orders channel: accepted, exec, status and
// cancel_reject all carry the whole order.
function onOrderEvent(msg) {
  settle(msg.ref);
  const row = upsertOrder(msg);
  const amend = amendText(msg);
  if (row && amend) {
    // The order as the row has it now: an older event changed nothing.
    showNotice(row.clOrdId + ': ' + amend + ' \u2014 ' + groupDigits(row.cumQty) + ' of ' +
      groupDigits(row.qty) + ' filled, ' + row.status.replace('_', ' '));
  }
  if (typeof msg.account === 'string' && session.accounts.includes(msg.account)) {
    askAccount(msg.account); // the event may have moved its cash or shares
  }
  if (msg.type === 'cancel_reject') {
    if (row && row.canceling !== '' && row.canceling === msg.ref) {
      // Our cancel's answer; another's (a second tab, a broker over FIX)
      // leaves ours in flight (before, it brought the Cancel button back
      // while ours was: TestOthersCancelRejectKeepsOursInFlight).
      row.canceling = '';
    }
    orderError({ code: 'cancel_reject', msg: msg.text || 'the exchange refused the cancel', ref: msg.ref || '' });
  } else if (msg.type === 'exec' && msg.execType === 'rejected') {
    orderError({ code: 'rejected', msg: msg.text || 'the exchange rejected the order', ref: msg.ref || '' });
  }
}

// onOrdersList takes one page of an orders.list answer and asks for the
// next page, if there is one, once this one has arrived: the gateway pages
// the list (a page is bounded by count and by bytes) and hands out the
// cursor of the next page as `next`.
function onOrdersList(msg) {
  orderReqs.delete(msg.id);
  for (const o of Array.isArray(msg.orders) ? msg.orders : []) {
    upsertOrder(o);
  }
  if (typeof msg.next === 'string' && msg.next !== '' && session.accounts.includes(msg.account)) {
    listOrders(msg.account, msg.next);
  }
}

// listOrders asks for a page of an account's orders: the first when
// cursor is '', else the page the cursor names.
function listOrders(account, cursor) {
  const req = { op: 'orders.list', account: account };
  if (cursor) {
    req.cursor = cursor;
  }
  track(send(req), 'orders.list', '', '');
}

// onError shows an error that answers the sign-in or an order request next
// to the ticket, any other in the notice bar.
function onError(msg) {
  if (session.authId && msg.id === session.authId) {
    session.authId = 0;
    signInFailed(msg.code, msg.msg);
    return;
  }
  if (onAccountError(msg)) {
    return;
  }
  const req = orderReqs.get(msg.id);
  if (!req && typeof msg.ref !== 'string') {
    showNotice('server: ' + msg.code + (msg.msg ? ': ' + msg.msg : ''));
    return;
  }
  orderReqs.delete(msg.id);
  const ref = msg.ref || (req ? req.ref : '');
  const row = req && req.key ? orders.get(req.key) : null;
  if (row && row.canceling === ref) {
    row.canceling = '';
    ordersChanged();
  }
  if (req && req.op === 'order.new' && req.order) {
    rejectedRow(req.order, String(msg.code), String(msg.msg || ''));
  }
  orderError({ code: String(msg.code), msg: String(msg.msg || ''), ref: ref });
}

// rejectedRow shows a new order the gateway refused (risk, identifiers,
// access) in "my orders" as rejected, with the reason: the gateway keeps
// no record of a refused request, so the row lives in this page only.
function rejectedRow(order, code, text) {
  const key = orderKey(order.account, order.clOrdId);
  if (orders.has(key)) {
    return;
  }
  orders.set(key, {
    key: key, time: Date.now() * 1e6, clOrdId: order.clOrdId, origClOrdId: order.clOrdId,
    account: order.account, symbol: order.symbol, side: order.side, price: order.price,
    qty: order.qty, cumQty: 0, leavesQty: 0, avgPx: '', status: 'rejected', orderId: '',
    text: text, code: code, amend: '', canceling: '', local: true, conn: gw.connects,
  });
  ordersChanged();
}

// ---------------------------------------------------------------------------
// Cash and positions (PROTOCOL.md, "Account: cash and positions"): asked
// for each of the token's accounts at sign-in and again after every order
// event of the account. One request per account is in flight; an event
// that arrives meanwhile asks again once the answer is in.

const accountReqs = new Map(); // account -> {id, again}
const accountErrors = new Map(); // account -> the last error text

function askAccount(account) {
  const cur = accountReqs.get(account);
  if (cur) {
    cur.again = true;
    return;
  }
  const id = send({ op: 'account', account: account });
  if (id) {
    accountReqs.set(account, { id: id, again: false });
  }
}

// onAccount takes an account reply.
function onAccount(msg) {
  const account = String(msg.account || '');
  const cur = accountReqs.get(account);
  if (cur && cur.id === msg.id) {
    accountReqs.delete(account);
  }
  if (!session.accounts.includes(account)) {
    return;
  }
  const prev = gw.accounts[account];
  gw.accounts[account] = {
    cash: String(msg.cash || ''),
    reserved: String(msg.reserved || ''),
    openOrders: msg.openOrders || 0,
    killed: Boolean(msg.killed),
    positions: Array.isArray(msg.positions) ? msg.positions : [],
    updates: prev ? prev.updates + 1 : 1,
    time: Date.now() * 1e6,
  };
  accountErrors.delete(account);
  accountsDirty = true;
  scheduleRender();
  if (cur && cur.again) {
    askAccount(account);
  }
}

// onAccountError shows an error answering an account request in the
// account panel, and reports whether msg was one.
function onAccountError(msg) {
  for (const [account, req] of accountReqs) {
    if (req.id === msg.id) {
      accountReqs.delete(account);
      accountErrors.set(account, msg.code + (msg.msg ? ': ' + msg.msg : ''));
      accountsDirty = true;
      scheduleRender();
      return true;
    }
  }
  return false;
}

// orderError records an order error and shows it next to the ticket.
function orderError(e) {
  e.local = Boolean(e.local);
  const list = gw.orders.errors;
  list.push(e);
  if (list.length > MAX_ERRORS) {
    list.splice(0, list.length - MAX_ERRORS);
  }
  gw.orders.lastError = e;
  ticketError = e;
  scheduleRender();
}

// ordersChanged publishes the order state to window.gw and redraws.
function ordersChanged() {
  const o = gw.orders;
  o.signedIn = session.state === 'ok';
  o.sub = session.sub;
  o.accounts = session.accounts.slice();
  o.list = Array.from(orders.values(), (row) => Object.assign({}, row));
  gw.session.state = session.state;
  ordersDirty = true;
  accountsDirty = true;
  scheduleRender();
}

// canTrade reports whether the ticket may send.
function canTrade() {
  return session.state === 'ok' && session.accounts.length > 0 && socketPhase === 'open' && book !== null;
}

// submitOrder sends the ticket as order.new. Malformed input is refused
// here; everything else (band, tick, lot, cash ...) the gateway decides.
function submitOrder(ev) {
  ev.preventDefault();
  if (!canTrade()) {
    return;
  }
  const priceText = $('ticket-price').value.trim();
  const qtyText = $('ticket-qty').value.trim();
  let units = 0;
  try {
    units = priceUnits(priceText);
  } catch (e) {
    units = 0;
  }
  if (units <= 0) {
    orderError({ code: 'bad_order', msg: 'price ' + JSON.stringify(priceText) + ': want a positive decimal such as "1700.00"', ref: '', local: true });
    return;
  }
  const qty = /^\d+$/.test(qtyText) ? parseInt(qtyText, 10) : 0;
  if (!Number.isSafeInteger(qty) || qty <= 0) {
    orderError({ code: 'bad_order', msg: 'quantity ' + JSON.stringify(qtyText) + ': want a whole number of shares', ref: '', local: true });
    return;
  }
  const clOrdId = newClOrdId();
  const id = send({
    op: 'order.new', clOrdId: clOrdId, account: $('ticket-account').value, symbol: book.symbol,
    side: $('ticket-side').value, type: 'limit', price: formatUnits(units), qty: qty,
  });
  if (!id) {
    return;
  }
  track(id, 'order.new', clOrdId, '', {
    clOrdId: clOrdId, account: $('ticket-account').value, symbol: book.symbol,
    side: $('ticket-side').value, price: formatUnits(units), qty: qty,
  });
  gw.orders.lastClOrdId = clOrdId;
  ticketError = null;
  scheduleRender();
}

// cancelOrder sends order.cancel for a working row, naming the order by its
// current clOrdId.
function cancelOrder(key) {
  const row = orders.get(key);
  if (!row || !WORKING.has(row.status) || row.canceling || socketPhase !== 'open') {
    return;
  }
  const clOrdId = newClOrdId();
  const id = send({ op: 'order.cancel', clOrdId: clOrdId, origClOrdId: row.clOrdId, account: row.account });
  if (!id) {
    return;
  }
  track(id, 'order.cancel', clOrdId, key);
  row.canceling = clOrdId;
  ordersChanged();
}

// touchPrice is the price a new order of side would trade at now: the
// best ask for a buy, the best bid for a sell; '' if that side is empty.
function touchPrice(side) {
  if (book && book.valid) {
    const levels = side === 'sell' ? book.bids : book.asks;
    return levels.length > 0 ? levels[0].price : '';
  }
  const level = quote ? (side === 'sell' ? quote.bid : quote.ask) : null;
  return Array.isArray(level) ? String(level[0]) : '';
}

// prefillPrice puts the touch price into the ticket unless the user chose
// a price.
function prefillPrice() {
  if (!book || ticket.edited) {
    return;
  }
  const price = touchPrice($('ticket-side').value);
  if (price) {
    $('ticket-price').value = price;
    ticket.prefilled = book.symbol;
  }
}

// ---------------------------------------------------------------------------
// Rendering. Coalesced to one pass per animation frame.

function scheduleRender() {
  if (renderQueued) {
    return;
  }
  renderQueued = true;
  const run = () => {
    renderQueued = false;
    render();
  };
  if (document.hidden) {
    setTimeout(run, 250);
  } else {
    requestAnimationFrame(run);
  }
}

function render() {
  const st = $('conn-state');
  st.textContent = gw.state;
  st.className = 'state state-' + gw.state;
  $('seq').textContent = book && book.valid ? String(book.seq) : '–';
  $('applied').textContent = String(gw.applied);
  $('verified').textContent = String(gw.verified);
  $('failures').textContent = String(gw.failures);
  $('failures').className = gw.failures > 0 ? 'bad' : '';
  $('resyncs').textContent = String(gw.resyncs);
  $('book-sym').textContent = book ? book.symbol : '';
  renderLadder();
  renderQuote();
  renderTrades();
  renderTicket();
  renderOrders();
  renderAccounts();
}

// levelRow renders one ladder row; empty rows pad the ladder to its depth
// so it does not jump. Rows with a level carry data-price and data-qty.
function levelRow(level, maxQty) {
  const tr = document.createElement('tr');
  const px = document.createElement('td');
  const qty = document.createElement('td');
  const barCell = document.createElement('td');
  px.className = 'px';
  qty.className = 'qty';
  barCell.className = 'bar-col';
  if (level) {
    tr.dataset.price = level.price;
    tr.dataset.qty = String(level.qty);
    px.textContent = level.price;
    qty.textContent = groupDigits(level.qty);
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = (maxQty > 0 ? Math.max(1, Math.round(100 * level.qty / maxQty)) : 0) + '%';
    barCell.appendChild(bar);
  } else {
    tr.className = 'empty';
    px.textContent = '\u00a0';
  }
  tr.append(px, qty, barCell);
  return tr;
}

function renderLadder() {
  const depth = book ? book.depth : gw.depth;
  const bids = book && book.valid ? book.bids : [];
  const asks = book && book.valid ? book.asks : [];
  let maxQty = 0;
  for (const l of bids.concat(asks)) {
    maxQty = Math.max(maxQty, l.qty);
  }
  // Asks: worst at the top, best just above the spread.
  const askRows = [];
  for (let i = depth - 1; i >= 0; i--) {
    askRows.push(levelRow(asks[i], maxQty));
  }
  const bidRows = [];
  for (let i = 0; i < depth; i++) {
    bidRows.push(levelRow(bids[i], maxQty));
  }
  $('asks').replaceChildren(...askRows);
  $('bids').replaceChildren(...bidRows);
  let spread = '–';
  if (bids.length > 0 && asks.length > 0) {
    spread = 'spread ' + formatUnits(asks[0].units - bids[0].units);
  }
  $('spread').textContent = spread;
}

function levelText(level) {
  if (!Array.isArray(level) || level.length < 2) {
    return '–';
  }
  return level[0] + ' × ' + groupDigits(level[1]);
}

function renderQuote() {
  const inst = book ? instruments.get(book.symbol) : null;
  const q = quote || {};
  $('q-bid').textContent = levelText(q.bid);
  $('q-ask').textContent = levelText(q.ask);
  $('last').textContent = q.last || '–';
  $('q-volume').textContent = q.volume !== undefined ? groupDigits(q.volume) : '–';
  $('q-turnover').textContent = q.turnover ? groupDigits(q.turnover) : '–';
  $('q-limit-up').textContent = q.limitUp || (inst && inst.limitUp) || '–';
  $('q-limit-down').textContent = q.limitDown || (inst && inst.limitDown) || '–';
  $('q-state').textContent = q.state || '–';
}

// formatTime formats ns since midnight (exchange time) as HH:MM:SS.mmm.
function formatTime(ns) {
  if (typeof ns !== 'number') {
    return '';
  }
  const ms = Math.floor(ns / 1e6);
  const pad = (v, n) => String(v).padStart(n, '0');
  return pad(Math.floor(ms / 3600000), 2) + ':' + pad(Math.floor(ms / 60000) % 60, 2) + ':' +
    pad(Math.floor(ms / 1000) % 60, 2) + '.' + pad(ms % 1000, 3);
}

function renderTrades() {
  const rows = trades.map((t, i) => {
    const tr = document.createElement('tr');
    if (t.gap) {
      const td = document.createElement('td');
      td.colSpan = 3;
      td.className = 'gap';
      td.textContent = 'prints may be missing here';
      tr.appendChild(td);
      return tr;
    }
    const prev = trades[i + 1];
    if (prev && !prev.gap) {
      const d = priceUnitsOr(t.price) - priceUnitsOr(prev.price);
      tr.className = d > 0 ? 'up' : d < 0 ? 'down' : '';
    }
    for (const text of [formatTime(t.time), t.price, groupDigits(t.qty)]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    return tr;
  });
  $('trades').replaceChildren(...rows);
}

// bandOf is the day's price band of the symbol in units, from the
// instruments (the quote's copy before they load), or null.
function bandOf(symbol) {
  const inst = instruments.get(symbol) || {};
  const q = quote || {};
  try {
    return { lo: priceUnits(String(inst.limitDown || q.limitDown)), hi: priceUnits(String(inst.limitUp || q.limitUp)) };
  } catch (e) {
    return null;
  }
}

// ticketWarnings checks the ticket the way the gateway's risk checks will,
// to warn before sending; the gateway still decides.
function ticketWarnings(symbol) {
  const inst = instruments.get(symbol) || {};
  const out = [];
  let units = 0;
  try {
    units = priceUnits($('ticket-price').value.trim());
  } catch (e) {
    units = 0;
  }
  const band = bandOf(symbol);
  const outOfBand = units > 0 && band !== null && (units < band.lo || units > band.hi);
  if (outOfBand) {
    out.push('price outside the day\'s band ' + formatUnits(band.lo) + '–' + formatUnits(band.hi) + ': the gateway will reject it');
  }
  const tick = inst.tick ? priceUnitsOr(String(inst.tick)) : 0;
  if (units > 0 && tick > 0 && units % tick !== 0) {
    out.push('price not on the tick ' + inst.tick);
  }
  const lot = inst.lot || 100;
  const qty = Number($('ticket-qty').value);
  if ($('ticket-side').value === 'buy' && Number.isSafeInteger(qty) && qty > 0 && qty % lot !== 0) {
    out.push('a buy is a multiple of ' + lot + ' shares');
  }
  return { text: out.join('; '), outOfBand: outOfBand };
}

function renderTicket() {
  const symbol = book ? book.symbol : '';
  if (symbol && ticket.prefilled !== symbol) {
    prefillPrice();
  }
  let note = '';
  if (session.state === 'none') {
    note = 'sign in to trade';
  } else if (session.state === 'pending') {
    note = socketPhase === 'open' ? 'signing in…' : 'reconnecting…';
  } else if (session.state === 'failed') {
    note = 'sign-in failed: ' + session.failure;
  } else if (session.state === 'refused') {
    note = 'token refused, prices only: ' + session.failure;
  } else if (session.accounts.length === 0) {
    note = 'the token names no account to trade';
  }
  $('ticket-note').textContent = note;
  $('ticket-note').hidden = note === '';
  $('ticket-user').textContent = session.state === 'ok' && session.sub ? '· ' + session.sub : '';
  $('ticket-fields').disabled = !canTrade();

  const select = $('ticket-account');
  if (select.dataset.accounts !== session.accounts.join('\n')) {
    const was = select.value;
    select.replaceChildren(...session.accounts.map((a) => {
      const opt = document.createElement('option');
      opt.value = a;
      opt.textContent = a;
      return opt;
    }));
    select.dataset.accounts = session.accounts.join('\n');
    if (session.accounts.includes(was)) {
      select.value = was;
    }
  }
  $('ticket-symbol').textContent = symbol || '–';
  const inst = instruments.get(symbol);
  const lot = String((inst && inst.lot) || 100);
  const qty = $('ticket-qty');
  if (qty.step !== lot) {
    qty.step = lot;
    qty.min = lot;
  }
  const band = bandOf(symbol);
  $('ticket-band').textContent = band ? formatUnits(band.lo) + ' – ' + formatUnits(band.hi) : '–';
  const warn = ticketWarnings(symbol);
  $('ticket-warn').textContent = warn.text;
  $('ticket-warn').hidden = warn.text === '';
  $('ticket-price').classList.toggle('out-of-band', warn.outOfBand);
  const buy = $('ticket-side').value === 'buy';
  const submit = $('ticket-submit');
  submit.textContent = buy ? 'Buy' : 'Sell';
  submit.className = 'submit ' + (buy ? 'submit-buy' : 'submit-sell');

  const err = $('ticket-error');
  if (ticketError) {
    const code = document.createElement('code');
    code.textContent = ticketError.code;
    const parts = [code, ticketError.msg];
    if (ticketError.ref) {
      parts.push(' (' + ticketError.ref + ')');
    }
    err.replaceChildren(...parts);
  }
  err.hidden = ticketError === null;
}

// statusClass groups order statuses for colour: working, filled, canceled
// (also expired) and rejected.
function statusClass(status) {
  if (WORKING.has(status)) {
    return 'working';
  }
  return status === 'expired' ? 'canceled' : status;
}

// orderTime formats an order's Unix ns time as exchange time (CST).
function orderTime(ns) {
  if (!(ns > 0)) {
    return '';
  }
  const day = 86400000;
  const ms = (Math.floor(ns / 1e6) + CST_OFFSET_MS) % day;
  return formatTime(ms * 1e6);
}

// reasonText is why an order ended or was refused: its code and text, for
// a rejected, canceled or expired order; for a working or filled one, what
// the venue last did to its fills (AMENDS), if anything.
function reasonText(o) {
  if (WORKING.has(o.status) || o.status === 'filled') {
    return o.amend;
  }
  if (o.code && o.text) {
    return o.code + ': ' + o.text;
  }
  return o.code || o.text;
}

// renderAccounts draws the cash and positions of the token's accounts.
function renderAccounts() {
  if (!accountsDirty) {
    return;
  }
  accountsDirty = false;
  let note = '';
  if (session.state !== 'ok') {
    note = session.state === 'refused' ? 'token refused: no account data' : 'sign in to see your accounts';
  } else if (session.accounts.length === 0) {
    note = 'the token names no account';
  }
  $('account-note').textContent = note;
  $('account-note').hidden = note === '';
  const blocks = session.state !== 'ok' ? [] : session.accounts.map((account) => {
    const div = document.createElement('div');
    div.className = 'account';
    div.dataset.account = account;
    const h = document.createElement('h3');
    h.textContent = account;
    div.appendChild(h);
    const st = gw.accounts[account];
    const err = accountErrors.get(account);
    if (err) {
      const p = document.createElement('p');
      p.className = 'ticket-error';
      p.textContent = err;
      div.appendChild(p);
    }
    if (!st) {
      return div;
    }
    const dl = document.createElement('dl');
    dl.className = 'balances';
    const pairs = [['Cash', groupDigits(st.cash), 'cash'], ['Reserved', groupDigits(st.reserved), 'reserved'],
      ['Open orders', String(st.openOrders), 'open'], ['As of', orderTime(st.time), 'asof']];
    for (const [label, value, cls] of pairs) {
      const dt = document.createElement('dt');
      dt.textContent = label;
      const dd = document.createElement('dd');
      dd.textContent = value;
      dd.className = cls;
      dl.append(dt, dd);
    }
    div.appendChild(dl);
    const table = document.createElement('table');
    table.className = 'positions';
    const head = document.createElement('tr');
    for (const text of ['Symbol', 'Sellable', 'Reserved', 'Bought today']) {
      const th = document.createElement('th');
      th.textContent = text;
      head.appendChild(th);
    }
    const thead = document.createElement('thead');
    thead.appendChild(head);
    const tbody = document.createElement('tbody');
    for (const p of st.positions) {
      const tr = document.createElement('tr');
      tr.dataset.symbol = String(p.symbol);
      for (const text of [String(p.symbol), groupDigits(p.sellable || 0), groupDigits(p.reserved || 0), groupDigits(p.boughtToday || 0)]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    if (st.positions.length === 0) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = 4;
      td.className = 'muted';
      td.textContent = 'no positions';
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
    table.append(thead, tbody);
    div.appendChild(table);
    return div;
  });
  $('accounts').replaceChildren(...blocks);
}

// ORDER_COLUMNS name the cells of an orders row, as the table's head does.
const ORDER_COLUMNS = ['Time', 'ClOrdID', 'Account', 'Symbol', 'Side', 'Price', 'Qty', 'CumQty', 'LeavesQty', 'AvgPx', 'Status', 'Reason'];

// renderOrders draws the orders table, newest first, when it changed.
// Rows carry data-clordid (current), data-origclordid (the key) and
// data-status.
function renderOrders() {
  if (!ordersDirty) {
    return;
  }
  ordersDirty = false;
  const rows = Array.from(orders.values()).reverse().map((o) => {
    const tr = document.createElement('tr');
    tr.dataset.key = o.key;
    tr.dataset.clordid = o.clOrdId;
    tr.dataset.origclordid = o.origClOrdId;
    tr.dataset.status = o.status;
    tr.className = 'st-' + statusClass(o.status);
    const cells = [
      orderTime(o.time), o.clOrdId, o.account, o.symbol, o.side, o.price, groupDigits(o.qty),
      groupDigits(o.cumQty), groupDigits(o.leavesQty), o.cumQty > 0 ? o.avgPx : '–', o.status.replace('_', ' '),
      reasonText(o),
    ];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      td.dataset.label = ORDER_COLUMNS[i]; // the column's name, shown on phones (style.css)
      tr.appendChild(td);
    });
    const c = tr.children;
    if (o.clOrdId !== o.origClOrdId) {
      c[1].title = 'entered as ' + o.origClOrdId;
    }
    c[4].className = 'side-' + o.side;
    c[10].className = 'status';
    c[11].className = 'reason';
    if (o.text) {
      c[10].title = o.text;
      c[11].title = c[11].textContent;
    }
    const action = document.createElement('td');
    if (WORKING.has(o.status)) {
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.dataset.cancel = '1';
      btn.textContent = o.canceling ? 'canceling…' : 'Cancel';
      btn.disabled = o.canceling !== '' || socketPhase !== 'open';
      action.appendChild(btn);
    }
    tr.appendChild(action);
    return tr;
  });
  $('orders').replaceChildren(...rows);
  $('orders-empty').hidden = rows.length > 0;
}

function priceUnitsOr(text) {
  try {
    return priceUnits(String(text));
  } catch (e) {
    return 0;
  }
}

let noticeTimer = 0;

function hideNotice() {
  clearTimeout(noticeTimer);
  $('notice').hidden = true;
}

function showNotice(text) {
  gw.notice = text;
  const el = $('notice');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 8000);
}

// ---------------------------------------------------------------------------
// Instruments (GET /api/v1/instruments) and the pickers.

async function loadInstruments(delay) {
  try {
    // REST takes the token in the Authorization header (never the URL):
    // without anonymous market data, instruments need it.
    const headers = session.token ? { Authorization: 'Bearer ' + session.token } : {};
    const res = await fetch('/api/v1/instruments', { cache: 'no-store', headers });
    if (res.status === 401 && headers.Authorization) {
      // The token does not verify: drop it, as the WebSocket does, and
      // ask again without it (anonymous market data, where allowed).
      let reason = 'HTTP 401';
      try {
        const body = await res.json();
        reason = body.error.code + ': ' + body.error.message;
      } catch (e) {
        // keep the status
      }
      tokenRefused(/expired/.test(reason), reason); // the WebSocket is refused too (4001, 4003)
      loadInstruments(delay);
      return;
    }
    if (!res.ok) {
      throw new Error('HTTP ' + res.status);
    }
    const list = await res.json();
    const select = $('symbol');
    select.replaceChildren();
    for (const inst of list) {
      instruments.set(inst.symbol, inst);
      const opt = document.createElement('option');
      opt.value = inst.symbol;
      opt.textContent = inst.name ? inst.symbol + ' ' + inst.name : inst.symbol;
      select.appendChild(opt);
    }
    const wanted = new URLSearchParams(location.search).get('symbol');
    const first = instruments.has(wanted) ? wanted : (list.length > 0 ? list[0].symbol : '');
    if (first) {
      select.value = first;
      selectSymbol(first);
    }
  } catch (e) {
    const next = Math.min((delay || 500) * 2, RECONNECT_MAX_MS);
    showNotice('instruments: ' + e.message + '; retrying');
    setTimeout(() => loadInstruments(next), next);
  }
}

// ---------------------------------------------------------------------------
// Go/JS checksum agreement: recompute checksum_vectors.json (written by the
// Go test from orderbook.Checksum) and return the mismatches, [] if none.

window.gwChecksumSelfTest = async function () {
  const res = await fetch('checksum_vectors.json', { cache: 'no-store' });
  const vectors = await res.json();
  const mismatches = [];
  for (const v of vectors.checksums) {
    let got;
    try {
      got = bookChecksum(parseLevels(v.bids), parseLevels(v.asks), v.n);
    } catch (e) {
      got = String(e);
    }
    if (got !== v.checksum) {
      mismatches.push('checksum ' + v.name + ': got ' + got + ', want ' + v.checksum);
    }
  }
  for (const p of vectors.prices) {
    let got;
    try {
      got = priceUnits(p.text);
    } catch (e) {
      got = String(e);
    }
    if (got !== p.units) {
      mismatches.push('price ' + p.text + ': got ' + got + ', want ' + p.units);
    }
  }
  if (vectors.checksums.length === 0) {
    mismatches.push('no checksum vectors');
  }
  return mismatches;
};

// ---------------------------------------------------------------------------
// Start.

$('symbol').addEventListener('change', (ev) => selectSymbol(ev.target.value));
$('depth').addEventListener('change', (ev) => selectDepth(parseInt(ev.target.value, 10)));
$('ticket').addEventListener('submit', submitOrder);
$('ticket-side').addEventListener('change', () => {
  prefillPrice();
  scheduleRender();
});
$('ticket-price').addEventListener('input', () => {
  ticket.edited = true;
  scheduleRender();
});
$('ticket-qty').addEventListener('input', scheduleRender);
$('orders').addEventListener('click', (ev) => {
  const btn = ev.target.closest('button[data-cancel]');
  if (btn) {
    cancelOrder(btn.closest('tr').dataset.key);
  }
});
// A click on a ladder level puts its price into the ticket.
for (const id of ['asks', 'bids']) {
  $(id).addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-price]');
    if (tr && !$('ticket-fields').disabled) {
      $('ticket-price').value = tr.dataset.price;
      ticket.edited = true;
      scheduleRender();
    }
  });
}
gw.depth = parseInt($('depth').value, 10);
render();
connect();
loadInstruments();

})();
