package szse_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"sgw/feed/szse"
)

// The structs below restate the spec's field tables as packed Go structs,
// in wire order. encoding/binary reads and writes them by reflection, big
// endian and without padding: a reference model that shares no code with
// the package's hand-written offsets.

type modelOrder struct {
	ChannelNo        uint16
	ApplSeqNum       int64
	MDStreamID       [3]byte
	SecurityID       [8]byte
	SecurityIDSource [4]byte
	Price            int64
	OrderQty         int64
	Side             byte
	TransactTime     int64
	OrdType          byte
}

type modelTrade struct {
	ChannelNo        uint16
	ApplSeqNum       int64
	MDStreamID       [3]byte
	BidApplSeqNum    int64
	OfferApplSeqNum  int64
	SecurityID       [8]byte
	SecurityIDSource [4]byte
	LastPx           int64
	LastQty          int64
	ExecType         byte
	TransactTime     int64
}

type modelChannelHeartbeat struct {
	ChannelNo      uint16
	ApplLastSeqNum int64
	EndOfChannel   uint16
}

type modelReTransmit struct {
	ResendType    uint8
	ChannelNo     uint16
	ApplBegSeqNum int64
	ApplEndSeqNum int64
	NewsID        [8]byte
	ResendStatus  uint8
	RejectText    [16]byte
}

type modelLogon struct {
	SenderCompID     [20]byte
	TargetCompID     [20]byte
	HeartBtInt       int32
	Password         [16]byte
	DefaultApplVerID [32]byte
}

type modelLogout struct {
	SessionStatus int32
	Text          [200]byte
}

type modelSnapshot struct {
	OrigTime         int64
	ChannelNo        uint16
	MDStreamID       [3]byte
	SecurityID       [8]byte
	SecurityIDSource [4]byte
	TradingPhaseCode [8]byte
	PrevClosePx      int64
	NumTrades        int64
	TotalVolumeTrade int64
	TotalValueTrade  int64
	NoMDEntries      uint32
}

type modelEntry struct {
	MDEntryType    [2]byte
	MDEntryPx      int64
	MDEntrySize    int64
	MDPriceLevel   uint16
	NumberOfOrders int64
	NoOrders       uint32
}

// modelCase reads random bytes into a model struct and returns the frame
// carrying them and the message the package must decode from it.
type modelCase struct {
	name  string
	model func(r *rand.Rand) (wire []byte, want szse.Message)
}

// fixedModel returns a modelCase for a fixed layout: random body bytes, a
// model of type M read from them, and conv mapping the model to the
// package's message.
func fixedModel[M any](name string, t szse.MsgType, conv func(*M) szse.Message) modelCase {
	return modelCase{name: name, model: func(r *rand.Rand) ([]byte, szse.Message) {
		var m M
		body := randomBytes(r, binary.Size(&m))
		if err := binary.Read(bytes.NewReader(body), binary.BigEndian, &m); err != nil {
			panic(err)
		}
		want := conv(&m)
		want.Type = t
		return frame(t, body), want
	}}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// snapshotModel builds a random snapshot with binary.Write.
func snapshotModel(r *rand.Rand) ([]byte, szse.Message) {
	var body bytes.Buffer
	var head modelSnapshot
	if err := binary.Read(bytes.NewReader(randomBytes(r, binary.Size(&head))), binary.BigEndian, &head); err != nil {
		panic(err)
	}
	head.NoMDEntries = uint32(r.IntN(12))
	want := szse.Message{Type: szse.TypeSnapshot, Snapshot: szse.Snapshot{
		OrigTime: szse.Timestamp(head.OrigTime), ChannelNo: head.ChannelNo, MDStreamID: head.MDStreamID,
		SecurityID: head.SecurityID, SecurityIDSource: head.SecurityIDSource, TradingPhaseCode: head.TradingPhaseCode,
		PrevClosePx: szse.Price4(head.PrevClosePx), NumTrades: head.NumTrades,
		TotalVolumeTrade: szse.Qty2(head.TotalVolumeTrade), TotalValueTrade: szse.Amount4(head.TotalValueTrade)}}
	must(binary.Write(&body, binary.BigEndian, &head))
	for range head.NoMDEntries {
		var e modelEntry
		must(binary.Read(bytes.NewReader(randomBytes(r, binary.Size(&e))), binary.BigEndian, &e))
		e.NoOrders = uint32(r.IntN(4)) * uint32(r.IntN(20))
		must(binary.Write(&body, binary.BigEndian, &e))
		orders := make([]int64, e.NoOrders)
		for i := range orders {
			orders[i] = int64(r.Uint64())
		}
		must(binary.Write(&body, binary.BigEndian, orders))
		me := szse.MDEntry{MDEntryType: e.MDEntryType, MDEntryPx: szse.Price6(e.MDEntryPx),
			MDEntrySize: szse.Qty2(e.MDEntrySize), MDPriceLevel: e.MDPriceLevel, NumberOfOrders: e.NumberOfOrders}
		for _, q := range orders {
			me.Orders = append(me.Orders, szse.Qty2(q))
		}
		want.Snapshot.Entries = append(want.Snapshot.Entries, me)
	}
	return frame(szse.TypeSnapshot, body.Bytes()), want
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// TestAgainstModel decodes random frames laid out by the reflection model
// and checks Decode agrees with the model and Append restores the frame.
func TestAgainstModel(t *testing.T) {
	cases := []modelCase{
		fixedModel("order", szse.TypeOrder, func(m *modelOrder) szse.Message {
			return szse.Message{Order: szse.Order{ChannelNo: m.ChannelNo, ApplSeqNum: m.ApplSeqNum,
				MDStreamID: m.MDStreamID, SecurityID: m.SecurityID, SecurityIDSource: m.SecurityIDSource,
				Price: szse.Price4(m.Price), OrderQty: szse.Qty2(m.OrderQty), Side: m.Side,
				TransactTime: szse.Timestamp(m.TransactTime), OrdType: m.OrdType}}
		}),
		fixedModel("trade", szse.TypeTrade, func(m *modelTrade) szse.Message {
			return szse.Message{Trade: szse.Trade{ChannelNo: m.ChannelNo, ApplSeqNum: m.ApplSeqNum,
				MDStreamID: m.MDStreamID, BidApplSeqNum: m.BidApplSeqNum, OfferApplSeqNum: m.OfferApplSeqNum,
				SecurityID: m.SecurityID, SecurityIDSource: m.SecurityIDSource, LastPx: szse.Price4(m.LastPx),
				LastQty: szse.Qty2(m.LastQty), ExecType: m.ExecType, TransactTime: szse.Timestamp(m.TransactTime)}}
		}),
		fixedModel("channel heartbeat", szse.TypeChannelHeartbeat, func(m *modelChannelHeartbeat) szse.Message {
			return szse.Message{ChannelHeartbeat: szse.ChannelHeartbeat(*m)}
		}),
		fixedModel("retransmit", szse.TypeReTransmit, func(m *modelReTransmit) szse.Message {
			return szse.Message{ReTransmit: szse.ReTransmit(*m)}
		}),
		fixedModel("logon", szse.TypeLogon, func(m *modelLogon) szse.Message {
			return szse.Message{Logon: szse.Logon(*m)}
		}),
		fixedModel("logout", szse.TypeLogout, func(m *modelLogout) szse.Message {
			return szse.Message{Logout: szse.Logout(*m)}
		}),
		{name: "snapshot", model: snapshotModel},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got szse.Message // reused, as a reader would
			for i := range 200 {
				wire, want := c.model(r)
				n, err := szse.Decode(wire, &got)
				if err != nil || n != len(wire) {
					t.Fatalf("case %d: n = %d, err = %v", i, n, err)
				}
				if !equalMessage(&got, &want) {
					t.Fatalf("case %d: decoded\n%s\nwant\n%s", i, show(&got), show(&want))
				}
				enc, err := szse.Append(nil, &want)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, wire) {
					t.Fatalf("case %d: encoded\n% x\nwant\n% x", i, enc, wire)
				}
			}
		})
	}
}
