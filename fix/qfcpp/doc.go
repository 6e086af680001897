// Package qfcpp runs QuickFIX C++ peers on loopback for tests, so that the
// gateway's FIX code is proven against an engine it shares no code with:
// QuickFIX C++ 1.15 from Debian (libquickfix-dev, libquickfix-doc). It also
// has a peer written by hand in Go, RawEngine. It is a test-support
// package: only tests import it.
//
//	gateway (fix.Upstream) ──> executor | ordermatch      venues: QuickFIX's own examples, unmodified
//	gateway (fix.Upstream) ──> statusvenue                a venue of ours that answers status requests
//	initiator ──> gateway (fix/broker) | venue | test     a broker: ours, driven line by line
//
// # The peers
//
// executor is the example from examples/executor/C++: a venue that fills
// every limit order at once. Sessions: FIX.4.2 and FIX.4.4 (several on
// one port). What it answers:
//
//   - D with OrdType 2: one ExecutionReport, filled in full at the order's
//     price: FIX 4.2 ExecTransType 0, ExecType 2, OrdStatus 2; FIX 4.4
//     ExecType F, OrdStatus 2. It carries ClOrdID, Account (if sent),
//     Symbol, Side, OrderQty, LastQty (32) = CumQty = OrderQty, LeavesQty 0,
//     LastPx = AvgPx = the order's Price, and OrderID and ExecID from two
//     counters that start at 1 with the process (a restarted executor
//     repeats them). It does not echo SecurityExchange (207), Price,
//     TimeInForce or TransactTime.
//   - D with another OrdType: session-level Reject (3), RefSeqNum (45),
//     RefTagID 40, SessionRejectReason 5 (value out of range).
//   - D without Price (or another field it reads): BusinessMessageReject
//     (j), BusinessRejectReason 5 (conditionally required field missing),
//     Text "Conditionally Required Field Missing (44)".
//   - F, G, H and every other application message: BusinessMessageReject
//     (j) with RefSeqNum (45) = the request's MsgSeqNum, RefMsgType (372),
//     BusinessRejectReason 3 (unsupported message type) and Text
//     "Unsupported Message Type"; no BusinessRejectRefID (379) and no
//     ClOrdID.
//
// ordermatch is the example from examples/ordermatch: a FIX 4.2 limit
// order book per Symbol (55; SecurityExchange is ignored), matching in
// price-time order at the resting order's price, with no self-match
// prevention: orders of one session, or of two sessions of the same
// venue, trade with each other. FIX.4.2 only: it would answer a FIX 4.4 D
// with a BusinessMessageReject and send its reports as FIX.4.2, so
// StartOrderMatch refuses other versions. What it answers:
//
//   - D, limit, day (TimeInForce absent or 0): ExecutionReport ExecType 0,
//     OrdStatus 0 (ExecTransType 0), OrderID = ClOrdID, OrderQty, CumQty 0,
//     LeavesQty, AvgPx 0; no Account, Price or SecurityExchange. Then, for
//     each trade it makes, one report to each side's own session: ExecType
//     = OrdStatus = 1 (partial) or 2 (filled), LastShares (32), LastPx
//     (31), CumQty, LeavesQty, AvgPx. Prices are printed as the shortest
//     decimal (16.9).
//   - D that is not a day limit order, or has a side other than 1 or 2:
//     ExecutionReport ExecType 8, OrdStatus 8 with Text ("Unsupported TIF,
//     use Day").
//   - F naming a resting order by OrigClOrdID, Symbol and Side:
//     ExecutionReport ExecType 4, OrdStatus 4, LeavesQty 0, under the
//     order's own ClOrdID (11), not the cancel's, and without OrigClOrdID.
//     F naming no resting order (unknown, filled, canceled): no answer at
//     all.
//   - G and H: BusinessMessageReject, reason 3, as the executor.
//   - V (MarketDataRequest): read, never answered.
//
// statusvenue is ours (statusvenue/statusvenue.cpp, see its header): a
// FIX 4.2 and 4.4 venue that rests every order (ExecType 0, OrdStatus 0;
// a ClOrdID it has seen, PossDup resend or not, is rejected with
// OrdRejReason 6, "Duplicate ClOrdID"), cancels it on F (ExecType 4 under
// the cancel's ClOrdID; an unknown or canceled order gets an
// OrderCancelReject), and answers H, as neither example does, with an
// ExecutionReport ExecType I (FIX 4.2: ExecTransType 3) carrying the
// order's OrdStatus, or OrdStatus 8 with OrdRejReason 5 ("Unknown order").
// It logs with ScreenLog, as the examples do, and keeps its orders in
// memory.
//
// The three venues keep their books and id counters in memory: Restart starts
// them empty, with ExecIDs from 1 again. Their sequence numbers and sent
// messages are in a FileStore in the test's temporary directory, kept
// across Restart. They log with QuickFIX's ScreenLog only, on stdout:
// Proc.Await reads it as Entries.
//
// Kill is a crash (SIGKILL). QuickFIX C++ stores the sequence number of a
// request only after the application has answered it: a venue killed in
// between asks for the request again after Restart and, as neither example
// recognizes a PossDup resend, executes it again, under new ids. To kill a
// venue cleanly between requests, first Await an incoming message that
// follows the last request (the counterparty's next Heartbeat or
// TestRequest, within HeartBtInt).
//
// The initiator is ours (initiator/initiator.cpp, see its header): a
// broker that logs on to one FIX.4.2 or FIX.4.4 session, with Password
// (554) and Username (553) in the Logon if configured, sends the D, F, G
// and H requests it reads on stdin (Initiator.Send; a header field such as
// PossResend (97) goes into the header) and prints every message it
// receives on stdout (Initiator.Await), and every Reject (3) or
// BusinessMessageReject (j) its session sends (EventReject: a message it
// refused, which its application never sees). It validates what it
// receives with QuickFIX's data dictionary (see Settings). A refusal fails
// Initiator.AwaitApp at once (ErrRefused) and, unless Broker.AllowRejects,
// the test when it ends. It logs with QuickFIX's FileLog.
//
// # A peer written by hand
//
// RawEngine (raw.go) is not QuickFIX C++ but one end of a FIX 4.4 session
// written by hand in Go, on a connection the test dials or accepts, for
// orderings a real engine produces only by chance: a message lost on the
// way, then a ResendRequest of its own. It numbers and keeps what it
// sends; Serve answers TestRequests and ResendRequests as an engine must,
// and the test sends the rest (Logon, Logout). Frame, Checksum,
// VerifyFrame and SplitFrame are its framing, for tests that build or
// check frames by hand. Like the C++ peers it shares no code with quickfix
// or package fix: it is built from the FIX specification alone.
//
// # Settings
//
// Each peer gets a settings file in the test's temporary directory:
// a daily session whose boundary, when QuickFIX C++ logs out and starts
// again from sequence number 1, is 12 hours from the peer's start (so no
// test runs across it, whatever the hour: with StartTime = EndTime =
// 00:00:00 a test running at midnight UTC saw its venue reset) and a
// FileStore beside it. Sequence numbers persist and are never reset at
// logon, as the gateway requires.
//
// Debian installs no FIX42.xml or FIX44.xml (neither libquickfix-dev nor
// libquickfix-doc ships the spec directory), and QuickFIX C++ reads a data
// dictionary from a file only. The QuickFIX project's dictionaries, in the
// format QuickFIX C++ reads, come with the quickfixgo module the gateway
// builds with: DataDictionary finds them in the Go module cache (go list
// -m), where they are read, never copied into this repository. The
// initiator (a broker) validates every message it receives with its
// version's dictionary when it is found (UseDataDictionary=Y: a missing
// required field, a value outside a field's enumeration, a field its
// message type does not define, a field out of its group: a Reject), as a
// broker's engine does, and with UseDataDictionary=N otherwise (logged
// with t.Log; a test whose point is that validation takes the dictionary
// from RequireDataDictionary, which skips it without one, or fails it
// under CI=true). The venues run with UseDataDictionary=N and check only the
// fields their code reads. Venue.Settings and Broker.Settings add to or
// override the defaults, such as {"UseDataDictionary": "N"} for a broker
// that validates nothing, or {"AllowUnknownMsgFields": "Y"} for one that
// takes fields its version does not define.
//
// A venue listens on a port picked free on 127.0.0.1 (QuickFIX C++ 1.15
// takes a port number only and listens on every interface); if the port
// is taken before the venue binds it, the venue is started again on
// another. The port is kept across Restart.
//
// # Build and cache
//
// Build compiles the four peers with g++ (-std=gnu++14: the 1.15 headers
// use dynamic exception specifications) against -lquickfix, the examples'
// gzipped sources expanded into the build directory with the empty
// config.h they include. It runs once per test binary. Each executable is
// cached in $XDG_CACHE_HOME/sgw-qfcpp/<name>-<hash> (os.UserCacheDir),
// the hash covering its sources, the compiler's version and target, the
// flags and the library file, so a warm start costs nothing and a change
// to initiator.cpp rebuilds the initiator alone. A cold build of all four
// takes about 40 s on two cores. A build holds a lock in the cache (test
// binaries started together compile once), compiles into a temporary
// directory and renames it into place. Remove the directory to force a
// rebuild.
//
// # Skipping
//
// Without g++, the headers, the library or the example sources, Build
// skips the test, saying what is missing and how to install it, except
// under CI=true, where it fails the test: CI installs the packages
// (apt-get install -y libquickfix-dev libquickfix-doc g++). Under go test
// -short it always skips.
//
// # Lines that lose frames
//
// A test puts a sim/faultproxy between the gateway and a peer to lose
// chosen messages: faultproxy.NewFramed with SplitFIX forwards whole FIX
// frames, and DropOnce with a FrameIs match loses one (the first
// ExecutionReport of an order, say), as a line that garbles it.
//
// # Waiting and logs
//
// Tests wait for what a peer prints, never for time: Proc.Await and
// Initiator.Await return the first entry or event a match function
// accepts, reading the peer's stdout as it arrives, and fail at once with
// ErrExited if the peer exits. The match function sees each entry once,
// in order, from the first of the run, so a counting closure waits for
// the n-th. Every peer is killed when its test ends; if the test failed,
// its stdout, stderr and log files are shown with t.Log.
//
// # Concurrency
//
// Kit, Proc and Initiator are safe for concurrent use (RawEngine says
// which of its methods are). Start*, Restart
// and Build take the test's testing.TB and end it with Fatal on failure:
// call them from the test's goroutine. Await, Send, Kill and Quit return
// errors and may be called from any goroutine. A peer is started with
// Pdeathsig on Linux, so it dies with a test binary that crashes.
//
// # Example
//
//	kit := qfcpp.Build(t)
//	venue := kit.StartExecutor(t, qfcpp.Venue{BeginString: qfcpp.FIX44, SenderCompID: "EXEC", TargetCompID: "GW"})
//	// ... point the gateway's upstream line at venue.Addr() ...
//	broker := kit.StartInitiator(t, qfcpp.Broker{Addr: gatewayAddr, SenderCompID: "BROKER1", TargetCompID: "GW", Password: "pw1"})
//	if err := broker.AwaitLogon(ctx); err != nil {
//		t.Fatal(err)
//	}
//	if _, err := broker.Send(ctx, qfcpp.Request{MsgType: "D", ClOrdID: "c1", Account: "A1", Symbol: "600519",
//		SecurityExchange: "XSHG", Side: '1', OrderQty: 100, Price: "1700.00"}); err != nil {
//		t.Fatal(err)
//	}
//	fill, err := broker.AwaitApp(ctx, func(m qfcpp.Message) bool { return m.Type() == "8" && m.Get(11) == "c1" && m.Get(39) == "2" })
package qfcpp
