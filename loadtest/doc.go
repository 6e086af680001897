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
//     checksums.
//
// The tester either starts the gateway and simulator as a child process
// (`gateway demo` with a generated configuration: separate file-descriptor
// limits and an honest resident-memory reading) or targets a running
// gateway by address. Load goes to loopback only; every run is bounded in
// time and stops by itself.
//
// Goroutines: each client has one reader goroutine; recorders are sharded
// and safe for concurrent use; Run owns everything else.
package loadtest
