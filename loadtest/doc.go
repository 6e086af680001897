// Package loadtest is the gateway's load tester (`gateway loadtest`). It
// drives open-loop load against the gateway and the exchange simulator,
// records latency in HdrHistogram (3 significant digits, corrected for
// coordinated omission where the load is paced by the tester), checks the
// integrity of everything it receives, and writes a report an operator can
// gate a release on: a human summary, a JSON summary, .hgrm percentile
// files and an HTML chart.
//
// Scenarios:
//   - marketdata: N WebSocket clients subscribe to K symbols each while the
//     simulator publishes at R book updates per second; it measures
//     tick-to-client latency (simulator event time to client receipt),
//     delivered messages per second and the gateway's memory per
//     connection, and every client checks sequence continuity and
//     checksums. Checksums prove only that a client holds the book the
//     gateway serves; with the simulator in this process, the run ends by
//     pausing its flow and comparing the gateway's books with the
//     simulator's own (venue_mismatches, an integrity violation).
//   - orders: M trading sessions (WebSocket connections authenticated
//     with the target's token, each subscribed to its account's orders
//     channel) send new orders at a fixed total rate, open loop: each
//     order's intended send time comes from a schedule, and its latency
//     is measured from that time, so a stall of the gateway is charged to
//     every order it delayed. An order belongs to the measurement window
//     by its intended time, and a sender behind its schedule when the
//     window ends still sends the window's orders. Orders cycle over the instruments: a
//     marketable buy, a resting buy, a marketable sell and a resting sell
//     of one lot each, priced from the live quotes within the band and on
//     the tick; what still works after 500 ms is cancelled. Measures:
//     order_ack (intended send to the gateway's accepted) and
//     order_first_exec (to the first execution report); a measured order
//     still waiting for either when the tester stops waiting counts at
//     its age then, a lower bound, and the report warns that the
//     percentiles are lower bounds (Measure.Outstanding). Every order must
//     end with exactly one final outcome; duplicates, reports out of
//     order and orders never answered are integrity violations; rejects
//     are counted by code. With -fix-sessions, some sessions are FIX 4.4
//     brokers on the gateway's broker acceptor instead (a QuickFIX/Go
//     initiator each, paced and logged with package fix's toolkit,
//     sending Symbol with SecurityExchange as a broker does).
//   - mixed: marketdata and orders at once, both measure sets in one
//     report.
//   - soak: mixed, with faults injected into the in-process simulator:
//     the feed's primary source is stopped at 1/3 of the run and started
//     again at 1/2, FIX line 0 is cut at 2/3 and restored at 5/6. The
//     integrity checks must hold throughout.
//
// The simulator stamps its events when it takes them, so a simulator the
// machine starves (it falls behind its -rate and skips what is more than a
// second late) would look fast to tick-to-client. The report gives the
// simulator's actions per second over the window and what it skipped (read
// in process, or from a demo's gateway_sim_flow_* metrics), and warns when
// it skipped any.
//
// The tester either starts the gateway and simulator as a child process
// (`gateway demo` with a generated configuration: separate file-descriptor
// limits and an honest resident-memory reading) or targets a running
// gateway by address. Load goes to loopback only; every run is bounded in
// time and stops by itself. A gateway the tester starts for a scenario with
// orders has its order throttles and per-connection message limit opened
// all the way (a sender behind its schedule catches up in one burst) and
// the traded accounts funded for the whole run
// (the tester measures latency, not those limits); against a -target, the
// gateway's limits apply and what they refuse is reported.
//
// Goroutines: each market-data client has one reader goroutine; each
// trading session a sender (the schedule) and a reader, which share the
// session's order tracker; recorders are sharded and safe for concurrent
// use; Run owns everything else.
package loadtest
