package feedpeer

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestSZSEFramesPinned encodes messages and compares them with the
// hand-assembled ones in testdata/szse.frames.
func TestSZSEFramesPinned(t *testing.T) {
	frames := readFrames(t, "testdata/szse.frames")
	w := szseWire{date: 20250102, pad: ' '}
	const ts = 34_200_123_000_000 // 09:30:00.123
	ev := Event{Symbol: "000001", Time: ts, Price: 123400}
	order, trade, cancel, ownBest := ev, ev, ev, ev
	order.Kind, order.Side, order.Qty = KindAdd, Buy, 300
	ownBest.Kind, ownBest.Side, ownBest.Qty, ownBest.Price, ownBest.OwnBest = KindAdd, Sell, 500, 0, true
	trade.Kind, trade.Side, trade.Qty = KindExecute, Sell, 100
	cancel.Kind, cancel.Side, cancel.Qty = KindDelete, Sell, 200
	tests := []struct {
		name string
		got  []byte
	}{
		{name: "order", got: appendSZSE(nil, szseOrder, w.orderBody(2011, 5, order))},
		{name: "own-best order", got: appendSZSE(nil, szseOrder, w.orderBody(2011, 8, ownBest))},
		{name: "trade", got: appendSZSE(nil, szseTrade, w.tradeBody(2011, 6, 5, 3, 'F', trade))},
		{name: "cancel", got: appendSZSE(nil, szseTrade, w.tradeBody(2011, 7, 0, 3, '4', cancel))},
		{name: "channel heartbeat", got: appendSZSE(nil, szseChannelHB, channelHeartbeatBody(2011, 7, false))},
		{name: "logon answer", got: appendSZSE(nil, szseLogon, logonBody("MDGW", "CLIENT1", 3, "", "1.00", ' '))},
		{name: "heartbeat", got: appendSZSE(nil, szseHeartbeat, nil)},
		{name: "retransmit answer", got: appendSZSE(nil, szseReTransmit, reTransmit{resendType: 1, channel: 2011, beg: 3, end: 7, resendStatus: resendDone}.body(' '))},
		{name: "snapshot", got: appendSZSE(nil, szseSnapshot, w.snapshotBody(snapshotInput{
			symbol: "000001", channel: 1011, time: ts, prevClose: 120000,
			stats:    Stats{Trades: 1, Volume: 100, Value: 12340000, Open: 123400, High: 123400, Low: 123400, Last: 123400},
			bids:     []Level{{Price: 123400, Qty: 300, Orders: 2}},
			asks:     []Level{{Price: 123500, Qty: 100, Orders: 1}},
			bidQueue: []int64{100, 200}, askQueue: []int64{100},
		}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := frames[tc.name]
			if !ok {
				t.Fatalf("no frame %q in testdata", tc.name)
			}
			if !bytes.Equal(tc.got, want) {
				t.Errorf("message\n got %x\nwant %x", tc.got, want)
			}
			// The fixture's own checksum is the byte sum, independently.
			var sum uint32
			for _, c := range want[:len(want)-4] {
				sum += uint32(c)
			}
			if got := binary.BigEndian.Uint32(want[len(want)-4:]); got != sum%256 {
				t.Errorf("fixture checksum %d, byte sum mod 256 is %d", got, sum%256)
			}
		})
	}
}

func TestSZSETime(t *testing.T) {
	tests := []struct {
		ns   int64
		want int64
	}{
		{ns: 0, want: 20250102000000000},
		{ns: 34_200_123_456_789, want: 20250102093000123},
		{ns: 86_399_999_000_000, want: 20250102235959999},
	}
	for _, tc := range tests {
		if got := szseTime(20250102, tc.ns); got != tc.want {
			t.Errorf("szseTime(%d) = %d, want %d", tc.ns, got, tc.want)
		}
	}
}
