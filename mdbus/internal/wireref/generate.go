package wireref

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Generator makes frames the specification calls valid, from a seed, so
// a failing case can be replayed. Its values favour the edges of every
// encoding: each uvarint length, zero, negative and extreme prices, full
// and empty sides, the longest symbol and text, the fullest heartbeat.
type Generator struct {
	rng *rand.Rand
}

// NewGenerator returns a Generator whose frames depend only on seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x6d64627573))}
}

// Frame returns a random valid frame of any type.
func (g *Generator) Frame() *Frame {
	f := &Frame{Epoch: g.u64(), Symbol: g.symbol()}
	switch g.rng.IntN(6) {
	case 0, 1:
		f.Type, f.Update = TypeUpdate, g.update()
	case 2, 3:
		f.Type, f.Snapshot = TypeSnapshot, g.snapshot()
	case 4:
		f.Type, f.Symbol, f.Beats = TypeHeartbeat, HeartbeatSymbol, g.beats()
	default:
		f.Type, f.Text = TypeError, string(g.bytes(g.rng.IntN(MaxErrorText+1)))
	}
	return f
}

func (g *Generator) update() *Update {
	u := &Update{
		Seq:       g.u64(),
		Time:      g.u64(),
		Recv:      g.i64(),
		Kind:      byte(KindBook + g.rng.IntN(KindReset)),
		State:     g.state(),
		Last:      g.price(),
		Volume:    g.i64(),
		Turnover:  g.i64(),
		Checksum:  g.rng.Uint32(),
		Checksum5: g.rng.Uint32(),
	}
	for range g.rng.IntN(MaxChanges + 1) {
		u.Changes = append(u.Changes, Change{Side: g.side(), Rank: int8(g.rng.Uint32()), Level: g.level()})
	}
	if g.rng.IntN(2) == 0 {
		u.EnterSide = g.side()
		for i := range u.Enter {
			if g.rng.IntN(4) > 0 {
				u.Enter[i] = g.level()
			}
		}
	}
	if u.Kind == KindTrade {
		u.TradePrice, u.TradeQty = g.price(), g.i64()
	}
	return u
}

func (g *Generator) snapshot() *Snapshot {
	s := &Snapshot{
		Seq: g.u64(), Time: g.u64(), State: g.state(),
		Last: g.price(), LastQty: g.i64(), Volume: g.i64(), Turnover: g.i64(),
		Open: g.price(), High: g.price(), Low: g.price(),
		Checksum: g.rng.Uint32(), Checksum5: g.rng.Uint32(),
	}
	s.Bids, s.Asks = g.levels(), g.levels()
	return s
}

// beats returns 1 to 4096 heartbeat entries: one often, a few or some
// hundreds usually, 4096 rarely. Their symbols are any 1 to 16 bytes,
// the same one twice at times, and their seqs of every uvarint length.
func (g *Generator) beats() []Beat {
	var n int
	switch r := g.rng.IntN(64); {
	case r == 0:
		n = MaxBeats
	case r < 16:
		n = 1
	case r < 40:
		n = 1 + g.rng.IntN(16)
	default:
		n = 1 + g.rng.IntN(400)
	}
	beats := make([]Beat, n)
	for i := range beats {
		beats[i] = Beat{Symbol: g.symbol(), Seq: g.u64()}
	}
	return beats
}

// levels returns 0 to 20 levels, empty and full sides often.
func (g *Generator) levels() []Level {
	var n int
	switch g.rng.IntN(4) {
	case 0:
		n = 0
	case 1:
		n = MaxLevels
	default:
		n = g.rng.IntN(MaxLevels + 1)
	}
	var ls []Level
	for range n {
		ls = append(ls, g.level())
	}
	return ls
}

func (g *Generator) level() Level {
	l := Level{Price: g.price(), Qty: g.i64()}
	switch g.rng.IntN(4) {
	case 0:
		l.Orders = MaxOrders - uint64(g.rng.IntN(2))
	case 1:
		l.Orders = 0
	default:
		l.Orders = g.rng.Uint64N(MaxOrders + 1)
	}
	return l
}

func (g *Generator) side() byte { return byte(SideBid + g.rng.IntN(2)) }

func (g *Generator) state() byte {
	if g.rng.IntN(4) == 0 {
		return byte(g.rng.Uint32())
	}
	return "\x00HPQTs"[g.rng.IntN(6)]
}

// symbol returns 1 to 16 bytes: usually a gateway symbol, sometimes any
// bytes at all (the decoder does not check them).
func (g *Generator) symbol() string {
	switch g.rng.IntN(4) {
	case 0:
		return string(g.bytes(1 + g.rng.IntN(MaxSymbol)))
	case 1:
		return strings.Repeat("9", MaxSymbol)
	}
	return [...]string{"600519.SH", "000001.SZ", "X", "?", "688981.SH"}[g.rng.IntN(5)]
}

func (g *Generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return b
}

// u64 returns an unsigned value whose bit length is uniform, so that every
// uvarint length from 1 to 10 bytes comes up, or an edge value.
func (g *Generator) u64() uint64 {
	if g.rng.IntN(4) == 0 {
		return [...]uint64{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1<<63 - 1, 1 << 63, math.MaxUint64}[g.rng.IntN(9)]
	}
	bits := g.rng.IntN(65)
	if bits == 0 {
		return 0
	}
	return g.rng.Uint64()>>(64-bits) | 1<<(bits-1)
}

// i64 returns a signed value of uniform bit length and either sign, or
// an edge value.
func (g *Generator) i64() int64 {
	if g.rng.IntN(4) == 0 {
		return [...]int64{0, 1, -1, 63, -64, 64, -65, math.MaxInt64, math.MinInt64}[g.rng.IntN(9)]
	}
	x := int64(g.u64() >> 1)
	if g.rng.IntN(2) == 0 {
		return -x - 1
	}
	return x
}

// price returns a fixed-point price: usually an A-share price (0.01 to
// 10000.00 in units of 0.0001), else zero, negative or extreme.
func (g *Generator) price() int64 {
	if g.rng.IntN(3) == 0 {
		return g.i64()
	}
	return 100 * (1 + g.rng.Int64N(1_000_000))
}

// A Case is a frame the specification refuses, and why.
type Case struct {
	Name string
	// Version is set when the refusal is for the version, not a
	// malformed frame.
	Version bool
	Bytes   []byte
}

// EdgeCases returns named valid frames at the limits of the
// specification.
func EdgeCases() map[string]*Frame {
	full := make([]Level, MaxLevels)
	for i := range full {
		full[i] = Level{Price: 17_000_000 - 100*int64(i), Qty: int64(100 * (i + 1)), Orders: uint64(i + 1)}
	}
	extreme := Level{Price: math.MinInt64, Qty: math.MaxInt64, Orders: MaxOrders}
	// fullest: 4096 entries of the longest symbols, all different, whose
	// seqs take every bit length.
	fullest := make([]Beat, MaxBeats)
	for i := range fullest {
		fullest[i] = Beat{Symbol: fmt.Sprintf("%0*d", MaxSymbol, i), Seq: math.MaxUint64 >> (i % 65)}
	}
	return map[string]*Frame{
		"update without changes": {Type: TypeUpdate, Epoch: 1, Symbol: "600519.SH",
			Update: &Update{Seq: 1, Kind: KindStatus, State: 'H'}},
		"reset": {Type: TypeUpdate, Epoch: 1, Symbol: "600519.SH",
			Update: &Update{Seq: 2, Kind: KindReset, State: 's', Checksum: 0xffffffff, Checksum5: 0xffffffff}},
		"two changes and enter levels": {Type: TypeUpdate, Epoch: 2, Symbol: "000001.SZ", Update: &Update{
			Seq: 99, Time: 34_200_000_000_001, Recv: 1_700_000_000_123_456_789, Kind: KindBook, State: 'T',
			Changes: []Change{
				{Side: SideAsk, Rank: 3, Level: Level{Price: 17_000_100}},
				{Side: SideAsk, Rank: -1, Level: Level{Price: 17_100_000, Qty: 5, Orders: 1}},
			},
			EnterSide: SideAsk, Enter: [3]Level{{Price: 17_000_500, Qty: 100, Orders: 1}, {}, {Price: 1, Qty: 1, Orders: 1}},
		}},
		"trade at extreme values": {Type: TypeUpdate, Epoch: math.MaxUint64, Symbol: strings.Repeat("Z", MaxSymbol), Update: &Update{
			Seq: math.MaxUint64, Time: math.MaxUint64, Recv: math.MinInt64, Kind: KindTrade, State: 0xff,
			Changes:   []Change{{Side: SideBid, Rank: math.MinInt8, Level: extreme}, {Side: SideAsk, Rank: math.MaxInt8, Level: extreme}},
			EnterSide: SideBid, Enter: [3]Level{extreme, extreme, extreme},
			TradePrice: math.MaxInt64, TradeQty: math.MinInt64, Last: -1, Volume: math.MaxInt64, Turnover: math.MinInt64,
			Checksum: 0xffffffff, Checksum5: 0,
		}},
		"trade at zero":  {Type: TypeUpdate, Epoch: 0, Symbol: "X", Update: &Update{Kind: KindTrade}},
		"empty snapshot": {Type: TypeSnapshot, Epoch: 1, Symbol: "600519.SH", Snapshot: &Snapshot{}},
		"full snapshot": {Type: TypeSnapshot, Epoch: 1 << 40, Symbol: "688981.SH", Snapshot: &Snapshot{
			Seq: 12345, Time: 34_200_000_000_999, State: 'T', Last: 17_000_000, LastQty: 100, Volume: 5000,
			Turnover: 85_000_000_000, Open: 16_900_000, High: 17_100_000, Low: 16_800_000,
			Checksum: 0xdeadbeef, Checksum5: 0x01020304, Bids: full, Asks: full,
		}},
		"snapshot of negative and extreme prices": {Type: TypeSnapshot, Epoch: 7, Symbol: "\x00\xff", Snapshot: &Snapshot{
			Last: -17_000_000, LastQty: -1, Volume: math.MinInt64, Turnover: math.MaxInt64,
			Open: math.MinInt64, High: math.MaxInt64, Low: -1,
			Bids: []Level{{Price: -1, Qty: -1}, extreme}, Asks: []Level{{Price: math.MaxInt64, Qty: math.MinInt64, Orders: MaxOrders}},
		}},
		"heartbeat of one entry": {Type: TypeHeartbeat, Epoch: 1, Symbol: HeartbeatSymbol,
			Beats: []Beat{{Symbol: "600519.SH", Seq: 7}}},
		"heartbeat of 4096 entries": {Type: TypeHeartbeat, Epoch: 300, Symbol: HeartbeatSymbol, Beats: fullest},
		"heartbeat at extreme values": {Type: TypeHeartbeat, Epoch: math.MaxUint64, Symbol: HeartbeatSymbol, Beats: []Beat{
			{Symbol: "\x00", Seq: 0}, {Symbol: strings.Repeat("\xff", MaxSymbol), Seq: math.MaxUint64},
			{Symbol: "*", Seq: 1 << 63}, {Symbol: strings.Repeat("\x80", MaxSymbol), Seq: 0x7f},
		}},
		"heartbeat in epoch 0": {Type: TypeHeartbeat, Epoch: 0, Symbol: HeartbeatSymbol,
			Beats: []Beat{{Symbol: "X", Seq: 0}, {Symbol: "000001.SZ", Seq: 0x80}}},
		"heartbeat naming a symbol twice": {Type: TypeHeartbeat, Epoch: 2, Symbol: HeartbeatSymbol,
			Beats: []Beat{{Symbol: "600519.SH", Seq: 8}, {Symbol: "000001.SZ", Seq: 1}, {Symbol: "600519.SH", Seq: 7}}},
		"error without text":      {Type: TypeError, Epoch: 1, Symbol: "?"},
		"error of longest text":   {Type: TypeError, Epoch: 1, Symbol: strings.Repeat("A", MaxSymbol), Text: strings.Repeat("x", MaxErrorText)},
		"error of unknown symbol": {Type: TypeError, Epoch: 1, Symbol: "?", Text: "unknown symbol"},
	}
}

// Refused returns frames the specification says a decoder must refuse,
// each breaking one rule.
func Refused() []Case {
	upd := func(mod func(u *Update)) []byte {
		u := &Update{Seq: 1, Kind: KindBook, State: 'T',
			Changes: []Change{{Side: SideBid, Level: Level{Price: 17_000_000, Qty: 100, Orders: 1}}}}
		mod(u)
		return Encode(&Frame{Type: TypeUpdate, Epoch: 1, Symbol: "600519.SH", Update: u})
	}
	snap := func(mod func(s *Snapshot)) []byte {
		s := &Snapshot{Seq: 1, Bids: []Level{{Price: 17_000_000, Qty: 100, Orders: 1}}}
		mod(s)
		return Encode(&Frame{Type: TypeSnapshot, Epoch: 1, Symbol: "600519.SH", Snapshot: s})
	}
	levels := func(n int) []Level { return make([]Level, n) }
	errFrame := func(sym, text string) []byte {
		return Encode(&Frame{Type: TypeError, Epoch: 1, Symbol: sym, Text: text})
	}
	// withEpoch is an error frame about "X" whose epoch is written as
	// the given bytes.
	withEpoch := func(epoch ...byte) []byte {
		b := append([]byte{Version, TypeError}, epoch...)
		return append(b, 1, 'X')
	}
	// heartbeat is a heartbeat in epoch 1 with the given header symbol,
	// count and entries, whether or not they agree.
	heartbeat := func(sym string, count uint64, beats ...Beat) []byte {
		return EncodeHeartbeat(1, sym, count, beats)
	}
	// withCount is a heartbeat of one entry whose count is written as
	// the given bytes.
	withCount := func(count ...byte) []byte {
		b := heartbeat(HeartbeatSymbol, 1, Beat{Symbol: "X", Seq: 5})
		i := len(b) - 4 // the count, then the entry 01 'X' 05
		return slices.Concat(b[:i], count, b[i+1:])
	}
	beat := Beat{Symbol: "600519.SH", Seq: 7}
	// seqPast64 is a heartbeat whose last seq has a 10th byte of 2.
	seqPast64 := heartbeat(HeartbeatSymbol, 1, Beat{Symbol: "X", Seq: math.MaxUint64})
	seqPast64[len(seqPast64)-1] = 0x02
	good := upd(func(*Update) {})
	cases := []Case{
		{Name: "empty", Bytes: nil},
		{Name: "version alone", Bytes: []byte{Version}},
		{Name: "other version alone", Bytes: []byte{2}},
		{Name: "version 0", Version: true, Bytes: append([]byte{0}, good[1:]...)},
		{Name: "version 2", Version: true, Bytes: append([]byte{2}, good[1:]...)},
		{Name: "version 255", Version: true, Bytes: []byte{255, TypeError}},
		{Name: "header only, no epoch", Bytes: []byte{Version, TypeError}},
		{Name: "type Z", Bytes: append([]byte{Version, 'Z'}, good[2:]...)},
		{Name: "type u", Bytes: append([]byte{Version, 'u'}, good[2:]...)},
		{Name: "type 0", Bytes: []byte{Version, 0, 1, 1, 'X'}},
		{Name: "no symbol length", Bytes: []byte{Version, TypeError, 1}},
		{Name: "symbol length 0", Bytes: errFrame("", "")},
		{Name: "symbol length 17", Bytes: errFrame(strings.Repeat("A", MaxSymbol+1), "")},
		{Name: "symbol length 255", Bytes: errFrame(strings.Repeat("A", 255), "")},
		{Name: "symbol cut short", Bytes: []byte{Version, TypeError, 1, 9, '6', '0', '0'}},
		{Name: "error text of 257 bytes", Bytes: errFrame("X", strings.Repeat("x", MaxErrorText+1))},
		{Name: "kind 0", Bytes: upd(func(u *Update) { u.Kind = 0 })},
		{Name: "kind 5 (reload)", Bytes: upd(func(u *Update) { u.Kind = 5 })},
		{Name: "kind 255", Bytes: upd(func(u *Update) { u.Kind = 255 })},
		{Name: "three changes", Bytes: upd(func(u *Update) { u.Changes = append(u.Changes, u.Changes[0], u.Changes[0]) })},
		{Name: "change side 0", Bytes: upd(func(u *Update) { u.Changes[0].Side = 0 })},
		{Name: "change side 3", Bytes: upd(func(u *Update) { u.Changes[0].Side = 3 })},
		{Name: "enterSide 3", Bytes: upd(func(u *Update) { u.EnterSide = 3 })},
		{Name: "enterSide 255", Bytes: upd(func(u *Update) { u.EnterSide = 255 })},
		{Name: "change orders 2^31", Bytes: upd(func(u *Update) { u.Changes[0].Level.Orders = MaxOrders + 1 })},
		{Name: "enter orders 2^64-1", Bytes: upd(func(u *Update) { u.EnterSide, u.Enter[2].Orders = SideAsk, math.MaxUint64 })},
		{Name: "snapshot orders 2^31", Bytes: snap(func(s *Snapshot) { s.Bids[0].Orders = MaxOrders + 1 })},
		{Name: "21 bids", Bytes: snap(func(s *Snapshot) { s.Bids = levels(MaxLevels + 1) })},
		{Name: "21 asks", Bytes: snap(func(s *Snapshot) { s.Asks = levels(MaxLevels + 1) })},
		{Name: "255 bids", Bytes: snap(func(s *Snapshot) { s.Bids = levels(255) })},
		{Name: "update and a byte more", Bytes: append(good, 0)},
		{Name: "snapshot and a byte more", Bytes: append(snap(func(*Snapshot) {}), 0)},
		{Name: "update body on a snapshot", Bytes: append([]byte{Version, TypeSnapshot}, good[2:]...)},
		{Name: "epoch 1 in two bytes", Bytes: withEpoch(0x81, 0x00)},
		{Name: "epoch 0 in two bytes", Bytes: withEpoch(0x80, 0x00)},
		{Name: "epoch 0 in ten bytes", Bytes: withEpoch(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)},
		{Name: "epoch with a 10th byte of 2", Bytes: withEpoch(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)},
		{Name: "epoch with a 10th byte of 0x81", Bytes: withEpoch(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00)},
		{Name: "epoch of 11 bytes", Bytes: withEpoch(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)},
		{Name: "epoch cut short", Bytes: []byte{Version, TypeError, 0x80}},
		{Name: "trailing orders padded", Bytes: padLast(snap(func(s *Snapshot) { s.Bids = nil; s.Asks = []Level{{Orders: 5}} }))},
		{Name: "heartbeat about X", Bytes: heartbeat("X", 1, beat)},
		{Name: "heartbeat about **", Bytes: heartbeat("**", 1, beat)},
		{Name: "heartbeat about 600519.SH", Bytes: heartbeat("600519.SH", 1, beat)},
		{Name: "heartbeat of symbol length 0", Bytes: heartbeat("", 1, beat)},
		{Name: "heartbeat of count 0", Bytes: heartbeat(HeartbeatSymbol, 0)},
		{Name: "heartbeat of count 0 and an entry", Bytes: heartbeat(HeartbeatSymbol, 0, beat)},
		{Name: "heartbeat of count 4097", Bytes: Encode(&Frame{Type: TypeHeartbeat, Epoch: 1, Symbol: HeartbeatSymbol,
			Beats: slices.Repeat([]Beat{beat}, MaxBeats+1)})},
		{Name: "heartbeat of count 2^32+1", Bytes: heartbeat(HeartbeatSymbol, 1<<32+1, beat)},
		{Name: "heartbeat of count 2^63", Bytes: heartbeat(HeartbeatSymbol, 1<<63, beat)},
		{Name: "heartbeat of count 2^64-1", Bytes: heartbeat(HeartbeatSymbol, math.MaxUint64, beat)},
		{Name: "heartbeat of count 3 and 2 entries", Bytes: heartbeat(HeartbeatSymbol, 3, beat, beat)},
		{Name: "heartbeat of count 1 and 2 entries", Bytes: heartbeat(HeartbeatSymbol, 1, beat, beat)},
		{Name: "heartbeat entry symbol length 0", Bytes: heartbeat(HeartbeatSymbol, 2, beat, Beat{Seq: 1})},
		{Name: "heartbeat entry symbol length 17", Bytes: heartbeat(HeartbeatSymbol, 2, beat,
			Beat{Symbol: strings.Repeat("A", MaxSymbol+1), Seq: 1})},
		{Name: "heartbeat entry symbol length 255", Bytes: heartbeat(HeartbeatSymbol, 1,
			Beat{Symbol: strings.Repeat("A", 255), Seq: 1})},
		{Name: "heartbeat count 1 in two bytes", Bytes: withCount(0x81, 0x00)},
		{Name: "heartbeat count 1 in ten bytes", Bytes: withCount(0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)},
		{Name: "heartbeat seq padded", Bytes: padLast(heartbeat(HeartbeatSymbol, 2, beat, Beat{Symbol: "X", Seq: 5}))},
		{Name: "heartbeat seq 0 padded", Bytes: padLast(heartbeat(HeartbeatSymbol, 1, Beat{Symbol: "X"}))},
		{Name: "heartbeat seq with a 10th byte of 2", Bytes: seqPast64},
		{Name: "heartbeat and a byte more", Bytes: append(heartbeat(HeartbeatSymbol, 1, beat), 0)},
		{Name: "heartbeat and an entry length more", Bytes: append(heartbeat(HeartbeatSymbol, 1, beat), 1)},
		{Name: "update body on a heartbeat", Bytes: append([]byte{Version, TypeHeartbeat}, good[2:]...)},
	}
	// Every strict prefix of an update, a snapshot or a heartbeat ends
	// inside a field. Of a frame longer than 2*maxCuts bytes (4096
	// heartbeat entries), only the first and the last maxCuts prefixes are
	// taken, so that the cases stay linear in the frame's size.
	const maxCuts = 512
	edge := EdgeCases()
	for _, name := range slices.Sorted(maps.Keys(edge)) {
		f := edge[name]
		if f.Type == TypeError {
			continue
		}
		b := Encode(f)
		for n := range len(b) {
			if n >= maxCuts && n < len(b)-maxCuts {
				continue
			}
			cases = append(cases, Case{Name: name + " cut to " + strconv.Itoa(n) + " bytes", Bytes: b[:n:n]})
		}
	}
	return cases
}

// padLast rewrites b's last byte, the end of a one-byte uvarint, as two
// bytes of the same value.
func padLast(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] |= 0x80
	return append(b, 0)
}
