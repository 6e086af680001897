// Package loadtest will hold the load tester (`gateway loadtest`): open-loop
// market-data and order scenarios against the gateway and the simulator,
// with latency recorded in HdrHistogram and corrected for coordinated
// omission. It is built by the load-tester issue; nothing here runs yet.
package loadtest
