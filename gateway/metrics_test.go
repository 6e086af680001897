package gateway

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"sgw/orderbook"
)

type bookStats orderbook.Stats

func (s bookStats) Stats() orderbook.Stats { return orderbook.Stats(s) }

// TestBooksCollectorReasons: every reason a book refuses a feed event for
// is exported, the repeated executions a relay delivered again among them.
func TestBooksCollectorReasons(t *testing.T) {
	c := NewBooksCollector(bookStats{UnknownOrder: 1, DuplicateOrder: 2, OverExecution: 3, BadMessage: 4, Mismatch: 5, Repeated: 6})
	want := `
# HELP gateway_book_rejected_messages_total Feed events the books could not apply, by reason.
# TYPE gateway_book_rejected_messages_total counter
gateway_book_rejected_messages_total{reason="bad_message"} 4
gateway_book_rejected_messages_total{reason="duplicate"} 2
gateway_book_rejected_messages_total{reason="over_execution"} 3
gateway_book_rejected_messages_total{reason="repeated"} 6
gateway_book_rejected_messages_total{reason="snapshot_mismatch"} 5
gateway_book_rejected_messages_total{reason="unknown_order"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "gateway_book_rejected_messages_total"); err != nil {
		t.Fatal(err)
	}
}
