package wireref

import (
	"encoding/hex"
	"strings"
)

// An Example is a worked frame of the specification: its hex dump as
// written there and the frame it encodes.
type Example struct {
	Name  string
	Hex   string
	Frame *Frame
}

// Bytes returns the example's frame, parsed from its hex dump.
func (e Example) Bytes() []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(e.Hex), ""))
	if err != nil {
		panic("wireref: bad example " + e.Name + ": " + err.Error())
	}
	return b
}

// Examples returns the worked frames of mdbus's package documentation,
// copied from there byte for byte.
func Examples() []Example {
	return []Example{
		{
			Name: "trade",
			Hex: `01 55 ac 02 09 36 30 30 35 31 39 2e 53 48
				07 00 01 02 54 01
				02 00 c0 c2 cf 01 00 00
				00
				c0 c2 cf 01 c8 01
				c0 c2 cf 01 c8 01 80 fa 8f a2 01
				44 33 22 11 dd cc bb aa`,
			Frame: &Frame{Type: TypeUpdate, Epoch: 300, Symbol: "600519.SH", Update: &Update{
				Seq: 7, Time: 0, Recv: -1, Kind: KindTrade, State: 'T',
				Changes:    []Change{{Side: SideAsk, Rank: 0, Level: Level{Price: 1_700_000}}},
				TradePrice: 1_700_000, TradeQty: 100, Last: 1_700_000, Volume: 100, Turnover: 170_000_000,
				Checksum: 0x11223344, Checksum5: 0xaabbccdd,
			}},
		},
		{
			Name: "heartbeat",
			Hex: `01 48 ac 02 01 2a
				02
				09 36 30 30 35 31 39 2e 53 48 07
				09 30 30 30 30 30 31 2e 53 5a 00`,
			Frame: &Frame{Type: TypeHeartbeat, Epoch: 300, Symbol: HeartbeatSymbol, Beats: []Beat{
				{Symbol: "600519.SH", Seq: 7},
				{Symbol: "000001.SZ", Seq: 0},
			}},
		},
		{
			Name:  "error",
			Hex:   `01 45 01 01 3f 75 6e 6b 6e 6f 77 6e 20 73 79 6d 62 6f 6c`,
			Frame: &Frame{Type: TypeError, Epoch: 1, Symbol: "?", Text: "unknown symbol"},
		},
	}
}
