// Package refdata holds the gateway's reference data: instruments with their
// board, tick and lot size and previous close, the daily price band derived
// from the board, and the fixed-point Price used from the feed to the client.
//
// Reference data is loaded once from configuration and is immutable after
// construction, so every value in this package is safe to share between
// goroutines without synchronisation.
package refdata
