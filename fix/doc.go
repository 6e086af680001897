// Package fix is the gateway's FIX side. It holds the upstream relay:
// orders that passed risk and the journal leave here for the firm's core
// trading system (cash) and margin-trading system (credit), and their
// execution reports come back. It also holds the FIX toolkit every FIX
// engine of the gateway shares (the relay, the broker acceptor in
// fix/broker, the simulator's acceptor in sim/fixsim, the load tester);
// see Toolkit below.
//
//	order manager --Send--> Upstream --pacer--> quickfix session --> relay --> line A | line B
//	order manager <--Handler-- ExecReport / CancelReject <------------------------'
//
// # Upstreams and lines
//
// An Upstream is one FIX initiator session (QuickFIX/Go) to one upstream,
// configured by UpstreamConfig, with its lines (two leased lines from two
// carriers). The router picks the Upstream by account type. quickfix
// connects to a loopback relay owned by the Upstream (quickfix has no
// dialer hook); the relay dials the chosen line and copies bytes both
// ways. The session stays on a line until it fails there, then moves to
// the other:
//
//   - a broken line (reset, closed, refused) ends the session at once;
//   - a silent line is caught by the FIX heartbeat: after 1.2 HeartBtInt
//     without a message quickfix sends a TestRequest and after another 1.2
//     HeartBtInt it disconnects, 2.4 s with the default HeartBtInt of 1 s;
//   - the session reconnects over the other line after ReconnectInterval
//     (500 ms) and logs on again with its persisted sequence numbers.
//
// A line with LineConfig.TLS carries the session in TLS (1.3 by default,
// package netsec): the relay completes the handshake within DialTimeout
// and checks the upstream's certificate, offering the gateway's client
// certificate if asked; a line whose handshake fails counts as one that
// cannot be dialled, and the session moves on to the other. quickfix
// itself still speaks plain text, to the relay on loopback. A plain-text
// line must be on loopback unless LineConfig.Tunnel names what encrypts
// it.
//
// The relay listens on 127.0.0.1 only. It gives a local process no reach
// it lacks (the lines are routed from this host anyway), but a local
// process connecting to it would be relayed like quickfix and disturb the
// session: the gateway host is trusted.
//
// Right after a silent line the upstream may still hold the old session
// and refuse the new logon until its own heartbeat timeout; the relay then
// retries the working line (for up to LogonTimeout) rather than going back
// to the silent one. Measured on loopback with faultproxy: a stalled line
// is detected after 2.4 s and the session resumes over the other line
// 0.5 s later; a cut line resumes in 0.5 s.
//
// # Delivery: exactly once toward the upstream
//
// Send encodes the request and queues it; it fails fast with
// ErrNotLoggedOn while the session is down (nothing is queued). A queued
// request leaves the queue only while logged on: the pacer hands it to
// quickfix, which gives it the next MsgSeqNum and stores it in the file
// store before it is written. From then on FIX does the rest: a message
// lost in flight when a line fails is asked for by the upstream after the
// next logon (ResendRequest, since it sees a sequence gap) and resent from
// the store with PossDupFlag=Y; the upstream processes messages strictly
// in sequence and ignores a ClOrdID it already has when PossDup is set.
// Nothing handed to quickfix is ever re-submitted by this package, so the
// upstream sees such a ClOrdID more than once only as a PossDup resend.
// Execution reports lost the other way are likewise resent by the
// upstream (ExecReport.PossDup); the order manager deduplicates them by
// upstream and ExecID.
//
// When the session drops, the requests still queued (not yet handed to
// quickfix) are taken back and returned to the Handler with
// OnSessionDown (reclaimed): the order manager holds them, with its own
// time bound, and sends them after the next logon. The queue takes
// requests only until the logout, so a Send racing it is refused or
// reclaimed. A request quickfix refuses when the pacer submits it (its
// store could not save it: it was neither numbered nor queued) is
// reclaimed too: the pacer submits nothing after it and the Upstream
// ends the session (ErrSubmitFailed), as quickfix does itself when its
// store refuses a Heartbeat. A request is thus either handed to the
// session (and FIX resend delivers it) or back with its sender, never
// both, never neither. One refusal is not reclaimed: a save that failed
// and could not be undone (a sealed store's journal.ErrRollback: the
// fsync failed, then the cut of the record; a file store's index entry
// that could not be cut) may have left the message, numbered, in the
// store, and the next start would keep it and resend it. That request
// counts as handed, in doubt: the session ends, the store takes nothing
// more (its journal's failure is sticky; the file store refuses every
// later save), and the next start's Handed answers from what the store
// then holds.
//
// After a restart, Handed tells the order manager which requests the
// session had before the process stopped: the store held them under a
// sender sequence number below its next one (quickfix stores before it
// writes, and numbers only what it stored). A request the store does not
// hold never left, and is sent for the first time; one it holds is
// delivered by resend recovery. Only if the machine itself crashed (a new
// boot id, see Store) may the store have lost its tail: Handed then says
// HandedUnknown for what it does not hold, and the order manager asks the
// upstream (OrderStatusRequest) before sending such an order again,
// flagged PossResend. It says so at every later start too, until a
// reset of the store that starts a new period of the schedule, however
// the start that found the loss ended. A reset within the period (a
// Logon with ResetSeqNumFlag=Y in the middle of the day, or
// reset_on_logon) discards messages that can no longer be resent: Handed
// answers HandedUnknown for the requests the store held before it, and,
// at every later start until a reset that starts a new period, for every
// request the store does not hold, if the store held a NewOrderSingle or
// was lossy when it was reset (without a schedule the period never ends).
// The recovery rule is in package orders.
//
// The upstream's refusal of a message as a message — a
// BusinessMessageReject (j), such as "Unsupported Message Type" for an
// OrderStatusRequest or an OrderCancelReplaceRequest a venue does not
// implement, or a session-level Reject (3) — reaches the Handler as a
// Reject naming the refused request: BusinessRejectRefID when sent, else
// the ClOrdID of the message the session sent under RefSeqNum (the Upstream
// remembers the last 65,536, and those in the store at start). The order
// manager ends that request with the upstream's reason. A
// BusinessRejectRefID that is no identifier, or a RefMsgType that is no
// MsgType, counts as left out, and Text is cleaned and cut
// (refdata.CleanText): they are logged with every reject.
//
// Reports are normalised to FIX 4.4 values when decoded (see ExecReport):
// a FIX 4.2 upstream's fills (ExecType 1, 2) are trades (F), its status
// answers (ExecTransType 3) order status reports (I), and its corrections
// (ExecTransType 1, 2) restatements (D).
//
// # The in-process spin hazard, and the pacer
//
// quickfix's session goroutine hands each outgoing message to the
// connection's writer goroutine over an unbuffered channel. Messages sent
// with SendToTarget are queued and drained by SendAppMessages with a
// non-blocking channel send; when the writer is not parked on the channel
// at that instant (it is writing the previous message, or has been woken
// but not yet scheduled), sendQueued re-notifies the session's own event
// channel and the session loop comes straight back: it spins. The woken
// writer sits in the spinning goroutine's run queue. With an initiator
// and an acceptor in one process on two cores, both session loops spin,
// the writers wait for the scheduler's 10 ms preemption and throughput
// collapses: offered 1,000 orders/s, BenchmarkRoundTrip/naive completed
// 46 to 850 orders/s with median round trips of 1 to 38 s across runs.
//
// The fix, without touching quickfix: bound what its queue holds. The
// pacer (one goroutine per session) submits a message and goes on while
// fewer than UpstreamConfig.SendWindow of its messages have not yet been
// seen leaving on the connection (the relay scans the bytes quickfix
// writes); then it waits. With a window of one the session goroutine
// always finds the writer parked and nothing spins, but the session
// carries one message per hand-over chain (pacer, session, writer, relay:
// four goroutine wake-ups). Measured in one process on two cores,
// initiator and acceptor both paced (BenchmarkRoundTrip/paced, window=1):
// 11,500/s of 12,000 offered on a quiet machine, 11,000/s at saturation,
// and 8,000/s with about a core of other work in the process (busy=2); a
// gateway node sharing two cores with two other nodes, the simulator and
// the tester fell behind below 2,000 orders/s. The upstream's window is
// therefore wider (64 by default), and each turn of the session loop that
// finds the writer busy yields the processor to the writer (YieldOnSpin:
// the Upstream's stores detect such turns) instead of spinning: 12,000
// orders/s sustained with or without the other work, 17,000-19,000/s at
// saturation on a quiet machine, 12,500/s beside the other work
// (docs/PERFORMANCE.md). The relay also keeps quickfix's writer off the carrier
// socket (it writes to loopback).
//
// AcceptorPacer applies the same pacing, one message at a time, to a
// quickfix Acceptor in the process (the broker acceptor, test acceptors):
// a listener wrapper observes what each connection writes. The
// simulator's acceptor does without a pacer: its connections write into
// a buffer and its stores yield on spin turns (package fixsim).
//
// # Store
//
// The file store in StoreDir keeps sequence numbers and sent messages
// across restarts. By default it does not fsync each message (that caps a
// session near 1,000 messages/s; the journal is the durable record of
// orders). Instead an fsynced reservation bounds the sender sequence
// number. The reservation file is replaced atomically (written aside,
// fsynced, renamed), so it is always whole: one that does not parse is
// damage, and the session refuses to start (ErrReservation) rather than
// read it as "nothing reserved". It also records the machine's boot id.
// If the machine kept running (the same boot id: the process was killed,
// or crashed), the page cache kept every write and the store is whole:
// only the one message quickfix may have indexed under the next sender
// sequence number and not sent (killed between the two steps) is cut,
// and so are the first bytes of that message's index entry when the kill
// tore its write (a SIGKILL stops a write at a page boundary of the
// file; the message itself is then unwritten), and any other damage (a torn index or message file, a sequence number
// file that is not one or went back, a message failing its CheckSum)
// stops the start with ErrStoreDamaged naming it. If the machine
// restarted (power, kernel), the store's torn tail is cut and the next
// sender sequence number moves up to the reservation, so the gateway never
// reuses a sequence number the upstream already saw (it would refuse the
// logon); the skipped numbers are gap filled, and Handed answers
// HandedUnknown for what the store lost. StoreSync makes every write
// synchronous instead. A save that fails (ENOSPC, EIO) leaves no message
// indexed (quickfix does not send it). The store is locked (flock on
// <store>.lock) while open: a second process is refused (ErrStoreLocked).
// A message failing its CheckSum is never resent (LockedStore): the
// resend fails and quickfix drops the session, and the upstream asks again
// at every logon, so each failed read of the store's messages is logged as
// an error naming the store and counted (gateway_fix_store_read_errors_total;
// alert FIXStoreReadFailed), the broker acceptor's as the Upstream's.
//
// A store that lost messages is whole from the start that finds the loss
// on, but it still lacks them: the reservation keeps it marked lossy until
// a Reset that starts a new period of the schedule (the venue numbers it
// from 1, the store holds all of it, and the order manager sends no order
// of a past day again). Otherwise a later start (the process killed on the
// same boot, or stopped cleanly, before the order manager had resolved
// what was lost) would answer HandedNo for a lost order, and the order
// manager would send it again as a new order. A Reset within the period
// keeps the mark, and sets it if the store held a NewOrderSingle: the
// orders handed before it are in doubt, and their messages are gone. The
// mark is written before the messages are discarded, and a save waits
// for a reset under way; a NewOrderSingle numbered before the reset and
// saved after it (quickfix resets the store for the venue's Logon
// without the send lock it numbers messages under) sets the mark too.
// The mark rides in the boot id: "<next> 0 lost:<boot id>", or "<next> 0
// lost,clean:<boot id>" after a clean close (the clean flag stays 0). A
// build that predates the mark reads it as an unclean stop on another
// boot: it skips to the reservation (which stays above the next sender
// sequence number for this) and answers HandedUnknown, as it must; it
// would have answered HandedNo had it read a clean close.
//
// With a key ring (UpstreamConfig.Keys, broker.Config.Keys: the
// configuration's storage.encryption) the store is sealed instead
// (store_sealed.go, OpenSealedStore): one journal file per session,
// <prefix>.sealed, whose SM4-GCM records hold the creation time, the
// session's id, every change of the two sequence numbers and every message
// saved, and the reservation file is sealed too. A changed record or
// reservation, or a store moved or copied from another session's name, stops
// the session from starting (ErrTampered, naming the file and record), a
// missing or wrong key too (ErrKey, naming the key id), and the journal's
// recovery cuts a torn tail. A plain store where encryption is configured
// is refused (ErrPlain), and a sealed one where it is not (ErrKey): the
// switch is an operator's step. Reset starts a new file under the current
// key. See docs/SECURITY.md.
//
// With UpstreamConfig.Sessions (a SessionStores, store_sessions.go; the
// cluster's replicated state) the store and its reservation live there
// instead of in files, under the same logic: the reservation is written
// durably (committed on a quorum) before a sequence number past it is
// used, the writes in between need not be, and the "boot id" is the
// store's owner (node and leadership epoch), so a takeover by another
// leader after an unclean stop moves the next sender sequence number up to
// the reservation and Handed answers HandedUnknown for what it lost, at
// every later term until the store's reset (the owner is marked, as the
// boot id is).
//
// # Metrics
//
// Registered on the *prometheus.Registry passed to NewUpstream:
// gateway_fix_line_up{session,line} (1 while logged on over the line),
// gateway_fix_messages_total{session,line,direction} and
// gateway_fix_bytes_total{session,line,direction} (FIX frames and bytes
// through the relay; direction "in" is from the upstream), and
// gateway_fix_heartbeat_rtt_seconds{session,line}: every HeartBtInt the
// Upstream sends a TestRequest whose TestReqID carries its send time
// ("rtt:<unix ns>"); the Heartbeat answering it gives the round trip over
// the line, including the upstream's own queueing. Also
// gateway_fix_store_read_errors_total{session}: reads of the store's
// messages that failed (see Store), each a resend not made.
//
// # Toolkit
//
// One implementation of each FIX concept, used by every engine:
//   - reading received fields (field.go): FieldReader keeps the first
//     missing or malformed field as the session-level Reject to send and
//     the first identifier that breaks refdata.ValidID; EchoID is the
//     placeholder a report carries instead of an invalid identifier;
//     PossDup reads the resend flags;
//   - numbers (number.go): ParsePrice under two policies, PriceExact (a
//     limit price: a fifth significant decimal is refused) and PriceRound
//     (the upstream's AvgPx: rounded half away from zero); ParseQty;
//     ParseSide;
//   - exchange codes (exchange.go): SplitSymbol and JoinSymbol map a
//     gateway symbol to Symbol (55) and SecurityExchange (207) and back
//     (.SH is XSHG, .SZ is XSHE);
//   - inbound frames (inbound.go): CheckFrame verifies BeginString,
//     BodyLength and CheckSum; InboundConn lets an acceptor's quickfix read
//     only verified frames, bounds their size and holds a connection to a
//     Logon first, with a hook to check it before quickfix sees it;
//   - pacing (AcceptorPacer, the upstream's pacer; FrameCounter for a
//     load generator's own initiator);
//   - store locking (LockedStore, LockedStoreFactory; the simulator's idle
//     yield as YieldOnSpin);
//   - logging (LogFactory: quickfix's logs to slog, message contents only
//     below Info, passwords masked).
//
// # Concurrency
//
// Send and LoggedOn are safe from any goroutine and never block. Handler
// methods run on the session goroutine, one at a time per Upstream, and
// must not block. quickfix keeps a process-wide registry of sessions
// (SendToTarget looks sessions up there; it is the only way to submit to
// a quickfix session): two Upstreams in one process need distinct
// CompIDs, and a restarted Upstream reuses its session id only after the
// previous Run returned.
package fix
