package feedpeer

import (
	"bytes"
	"errors"
	"testing"
)

// TestITCHFramesPinned encodes events and compares the packets with the
// hand-assembled ones in testdata/itch.frames.
func TestITCHFramesPinned(t *testing.T) {
	frames := readFrames(t, "testdata/itch.frames")
	const ts = 34_200_000_000_123
	const id = 1234567
	tests := []struct {
		name string
		ev   Event
	}{
		{name: "system event", ev: Event{Kind: KindSystem, Code: 'Q'}},
		{name: "stock directory", ev: Event{Kind: KindDirectory, Symbol: "600519", Locate: 1, Qty: 100}},
		{name: "trading action", ev: Event{Kind: KindTradingAction, Symbol: "600519", Code: 'T'}},
		{name: "add order", ev: Event{Kind: KindAdd, Symbol: "600519", Order: id, Side: Buy, Qty: 300, Price: 17000000}},
		{name: "add order with MPID", ev: Event{Kind: KindAdd, Symbol: "600519", Order: id, Side: Sell, Qty: 100, Price: 17001000, MPID: "GSCO"}},
		{name: "order executed", ev: Event{Kind: KindExecute, Symbol: "600519", Order: id, Qty: 100, Price: 17000000, Match: 7}},
		{name: "order executed with price", ev: Event{Kind: KindExecute, Symbol: "600519", Order: id, Qty: 100, Price: 17000000, Match: 8, WithPrice: true}},
		{name: "order cancel", ev: Event{Kind: KindCancel, Symbol: "600519", Order: id, Qty: 100}},
		{name: "order delete", ev: Event{Kind: KindDelete, Symbol: "600519", Order: id, Qty: 300}},
		{name: "order replace", ev: Event{Kind: KindReplace, Symbol: "600519", Order: id, NewOrder: id + 1, Qty: 200, Price: 17001000}},
		{name: "trade", ev: Event{Kind: KindTrade, Symbol: "600519", Side: Sell, Qty: 300, Price: 17000000, Match: 9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, ok := frames[tc.name]
			if !ok {
				t.Fatalf("no frame %q in testdata", tc.name)
			}
			ev := tc.ev
			ev.Time = ts
			locate := uint16(1)
			if ev.Kind == KindSystem {
				locate = 0
			}
			msg, err := appendITCH(nil, ev, locate, 0x1234)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendSoup(nil, soupSequenced, msg); !bytes.Equal(got, want) {
				t.Errorf("packet\n got %x\nwant %x", got, want)
			}
		})
	}
	t.Run("login accepted", func(t *testing.T) {
		if got := appendLoginAccepted(nil, "SGWPEER", 42); !bytes.Equal(got, frames["login accepted"]) {
			t.Errorf("got %q, want %q", got, frames["login accepted"])
		}
	})
}

func TestITCHRefusesTwoSidedExecution(t *testing.T) {
	if _, err := appendITCH(nil, Event{Kind: KindExecute, Order: 1, Contra: 2, Qty: 1}, 1, 0); !errors.Is(err, ErrBadEvent) {
		t.Errorf("err = %v", err)
	}
}

func TestParseLoginRequest(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    loginRequest
		bad     bool
	}{
		{name: "blank session, numeric left-padded", payload: "user  secret              " + "                  17", want: loginRequest{username: "user", password: "secret", sequence: 17}},
		{name: "session and zero", payload: "u     p         SGWPEER   " + "                   0", want: loginRequest{username: "u", password: "p", session: "SGWPEER"}},
		{name: "right-padded number", payload: "u     p                   " + "5                   ", want: loginRequest{username: "u", password: "p", sequence: 5}},
		{name: "blank number means 0", payload: "u     p                   " + "                    ", want: loginRequest{username: "u", password: "p"}},
		{name: "not a number", payload: "u     p                   " + "                 1x2", bad: true},
		{name: "short", payload: "u", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLoginRequest([]byte(tc.payload))
			if tc.bad {
				if !errors.Is(err, ErrProtocol) {
					t.Errorf("err = %v, want ErrProtocol", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
