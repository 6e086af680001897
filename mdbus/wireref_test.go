package mdbus_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sgw/mdbus"
	"sgw/mdbus/internal/wireref"
	"sgw/orderbook"
	"sgw/refdata"
)

// These tests hold wire.go to the specification of the package
// documentation through internal/wireref, an implementation of that text
// which shares no code with wire.go.

// namedFrame is a reference frame and its name, for the failure message.
type namedFrame struct {
	name  string
	frame *wireref.Frame
}

// refFrames returns the reference's edge cases and n random valid frames
// of a fixed seed, always in the same order.
func refFrames(n int) []namedFrame {
	edge := wireref.EdgeCases()
	var frames []namedFrame
	for _, name := range slices.Sorted(maps.Keys(edge)) {
		frames = append(frames, namedFrame{name: name, frame: edge[name]})
	}
	g := wireref.NewGenerator(20240601)
	for i := range n {
		frames = append(frames, namedFrame{name: "random " + strconv.Itoa(i), frame: g.Frame()})
	}
	return frames
}

// TestDecodeReferenceFrames: frames the reference encodes decode with
// Decode, into one reused Message, to exactly the reference's values.
func TestDecodeReferenceFrames(t *testing.T) {
	var m mdbus.Message
	for _, nf := range refFrames(2000) {
		name, f := nf.name, nf.frame
		b := wireref.Encode(f)
		if err := mdbus.Decode(b, &m); err != nil {
			t.Fatalf("%s: Decode(% x): %v", name, b, err)
		}
		if got := frameOf(t, &m); !reflect.DeepEqual(got, f) {
			t.Fatalf("%s: Decode(% x)\ngot  %s\nwant %s", name, b, show(got), show(f))
		}
	}
}

// TestEncodeForReference: the encoders write, for the reference's
// values, the reference's bytes, which the reference decodes to the
// same values.
func TestEncodeForReference(t *testing.T) {
	for _, nf := range refFrames(2000) {
		name, f := nf.name, nf.frame
		b := appendFrame(nil, f)
		if want := wireref.Encode(f); !bytes.Equal(b, want) {
			t.Fatalf("%s: encoded % x\nreference    % x", name, b, want)
		}
		got, err := wireref.Decode(b)
		if err != nil || !reflect.DeepEqual(got, f) {
			t.Fatalf("%s: reference decodes % x: %v\ngot  %s\nwant %s", name, b, err, show(got), show(f))
		}
	}
}

// TestEncodersClip: what the specification says the encoders cut, the
// reference decodes cut.
func TestEncodersClip(t *testing.T) {
	var deep orderbook.View
	for i := range 25 {
		deep.Bids = append(deep.Bids, orderbook.Level{Price: refdata.Price(17_000_000 - i), Qty: 1, Orders: 1})
	}
	deep.Asks = deep.Bids[:21]
	u := orderbook.Update{Kind: orderbook.KindBook, N: 3, Changes: [2]orderbook.LevelChange{
		{Side: orderbook.Bid, Level: orderbook.Level{Price: 1, Qty: 1, Orders: 1}},
		{Side: orderbook.Ask, Level: orderbook.Level{Price: 2, Qty: 2, Orders: 2}},
	}}
	long := strings.Repeat("x", 300)
	tests := []struct {
		name  string
		b     []byte
		check func(f *wireref.Frame) bool
	}{
		{name: "snapshot keeps 20 levels", b: mdbus.AppendSnapshot(nil, 1, "X", &deep), check: func(f *wireref.Frame) bool {
			return len(f.Snapshot.Bids) == 20 && len(f.Snapshot.Asks) == 20 && f.Snapshot.Bids[19].Price == 17_000_000-19
		}},
		{name: "update keeps 2 changes", b: mdbus.AppendUpdate(nil, 1, "X", &u), check: func(f *wireref.Frame) bool {
			return len(f.Update.Changes) == 2
		}},
		{name: "error keeps 256 bytes", b: mdbus.AppendError(nil, 1, "X", long), check: func(f *wireref.Frame) bool {
			return f.Text == long[:256]
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := wireref.Decode(tc.b)
			if err != nil || !tc.check(f) {
				t.Fatalf("reference decodes %v %s", err, show(f))
			}
		})
	}
}

// TestHeartbeatEncodersMatchReference: AppendHeartbeat and AppendBeat
// write a heartbeat's header and count, then each entry, as given, like
// the reference's EncodeHeartbeat, even a count out of range or unlike
// the entries and an entry's symbol of 0 or more than 16 bytes; both
// decoders refuse those frames.
func TestHeartbeatEncodersMatchReference(t *testing.T) {
	beat := wireref.Beat{Symbol: "600519.SH", Seq: 7}
	tests := []struct {
		name  string
		count int
		beats []wireref.Beat
		valid bool
	}{
		{name: "valid", count: 2, beats: []wireref.Beat{beat, {Symbol: "000001.SZ"}}, valid: true},
		{name: "count 0", count: 0},
		{name: "count 4097", count: mdbus.MaxBeats + 1, beats: slices.Repeat([]wireref.Beat{beat}, mdbus.MaxBeats+1)},
		{name: "count above the entries", count: 3, beats: []wireref.Beat{beat}},
		{name: "count below the entries", count: 1, beats: []wireref.Beat{beat, beat}},
		{name: "entry symbol of 0 bytes", count: 1, beats: []wireref.Beat{{Seq: 1}}},
		{name: "entry symbol of 17 bytes", count: 1, beats: []wireref.Beat{{Symbol: strings.Repeat("A", 17), Seq: 1}}},
		{name: "entry symbol of 255 bytes", count: 1, beats: []wireref.Beat{{Symbol: strings.Repeat("A", 255), Seq: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := wireref.EncodeHeartbeat(300, wireref.HeartbeatSymbol, uint64(tc.count), tc.beats)
			b, err := appendHeartbeatNoPanic(300, tc.count, tc.beats)
			if err != nil || !bytes.Equal(b, want) {
				t.Fatalf("encoded % x (%v)\nreference % x", b, err, want)
			}
			if accepted := agree(t, tc.name, b); accepted != tc.valid {
				t.Fatalf("both decoders accept % x: %v", b, accepted)
			}
		})
	}
}

// appendHeartbeatNoPanic writes a heartbeat with AppendHeartbeat and
// AppendBeat, a panic turned into an error.
func appendHeartbeatNoPanic(epoch uint64, count int, beats []wireref.Beat) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	b = mdbus.AppendHeartbeat(nil, epoch, count)
	for _, e := range beats {
		b = mdbus.AppendBeat(b, e.Symbol, e.Seq)
	}
	return b, nil
}

// TestRefusesWhatReferenceRefuses: every frame the specification refuses
// (the reference's cases, every strict prefix of its updates, snapshots
// and heartbeats among them) Decode refuses with the error it names.
func TestRefusesWhatReferenceRefuses(t *testing.T) {
	for _, c := range wireref.Refused() {
		want := mdbus.ErrMalformed
		if c.Version {
			want = mdbus.ErrVersion
		}
		var m mdbus.Message
		if err := decodeNoPanic(c.Bytes, &m); !errors.Is(err, want) {
			t.Errorf("%s: Decode(% x) = %v, want %v", c.Name, c.Bytes, err, want)
		}
	}
}

// TestDecodersAgree mutates valid frames (a byte changed, a bit flipped,
// a byte removed or inserted, a varint padded, a cut) and requires both
// decoders to take the result the same way: the same refusal, or the same
// values.
func TestDecodersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var accepted, refused int
	for _, nf := range refFrames(1000) {
		name, f := nf.name, nf.frame
		b := wireref.Encode(f)
		for range 4 {
			mb := mutate(rng, b)
			if ok := agree(t, name, mb); ok {
				accepted++
			} else {
				refused++
			}
		}
	}
	t.Logf("%d mutated frames accepted, %d refused", accepted, refused)
}

// FuzzAgainstReference decodes arbitrary bytes with both decoders, seeded
// with the reference's frames: they must agree. Frames above maxSeed
// bytes (heartbeats of hundreds or 4096 entries, which the tests above
// cover) are left out: the fuzzer minimizes every new input it keeps, in
// time that grows with the square of its size, and stalls on them.
func FuzzAgainstReference(f *testing.F) {
	const maxSeed = 2048
	for _, nf := range refFrames(50) {
		if b := wireref.Encode(nf.frame); len(b) <= maxSeed {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) { agree(t, "fuzz", b) })
}

// TestExamplesOfTheDocumentation: the worked frames of doc.go are the
// encoders' bytes for their values, and the reference's examples are
// doc.go's, byte for byte.
func TestExamplesOfTheDocumentation(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	dumps := hexDumps(string(doc))
	for _, e := range wireref.Examples() {
		t.Run(e.Name, func(t *testing.T) {
			b := e.Bytes()
			if !dumps[string(b)] {
				t.Fatalf("% x is not a hex dump of doc.go", b)
			}
			if got := appendFrame(nil, e.Frame); !bytes.Equal(got, b) {
				t.Fatalf("encoded % x\ndoc.go  % x", got, b)
			}
			var m mdbus.Message
			if err := mdbus.Decode(b, &m); err != nil || !reflect.DeepEqual(frameOf(t, &m), e.Frame) {
				t.Fatalf("Decode: %v %s", err, show(frameOf(t, &m)))
			}
		})
	}
}

// hexDumps returns the bytes of every hex dump of a doc comment: runs of
// comment lines that start with two-digit hex bytes.
func hexDumps(doc string) map[string]bool {
	line := regexp.MustCompile(`^//\t((?:[0-9a-f]{2} )*[0-9a-f]{2})(?:\s|$)`)
	dumps := map[string]bool{}
	var cur []byte
	for l := range strings.SplitSeq(doc, "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			if cur != nil {
				dumps[string(cur)] = true
			}
			cur = nil
			continue
		}
		for h := range strings.FieldsSeq(m[1]) {
			v, _ := strconv.ParseUint(h, 16, 8)
			cur = append(cur, byte(v))
		}
	}
	return dumps
}

// agree decodes b with both decoders and fails t unless they agree; it
// reports whether they accepted b.
func agree(t *testing.T, name string, b []byte) bool {
	t.Helper()
	ref, refErr := wireref.Decode(b)
	var m mdbus.Message
	err := decodeNoPanic(b, &m)
	switch {
	case refErr == nil && err == nil:
		if got := frameOf(t, &m); !reflect.DeepEqual(got, ref) {
			t.Fatalf("%s: % x decodes to\n%s\nreference\n%s", name, b, show(got), show(ref))
		}
		return true
	case errors.Is(refErr, wireref.ErrVersion) && errors.Is(err, mdbus.ErrVersion),
		errors.Is(refErr, wireref.ErrRefused) && errors.Is(err, mdbus.ErrMalformed):
		return false
	}
	t.Fatalf("%s: % x: Decode %v, reference %v", name, b, err, refErr)
	return false
}

// mutate returns a copy of b with one random change.
func mutate(rng *rand.Rand, b []byte) []byte {
	b = bytes.Clone(b)
	i := rng.IntN(len(b))
	switch rng.IntN(6) {
	case 0:
		b[i] = byte(rng.Uint32())
	case 1:
		b[i] ^= 1 << rng.IntN(8)
	case 2:
		b = append(b[:i], b[i+1:]...)
	case 3:
		b = append(b[:i], append([]byte{byte(rng.Uint32())}, b[i:]...)...)
	case 4:
		// A byte without continuation gets one and a zero group after:
		// the same value, if it ended a varint, not in its shortest form.
		b[i] |= 0x80
		b = append(b[:i+1], append([]byte{0}, b[i+1:]...)...)
	default:
		b = b[:i]
	}
	return b
}

// decodeNoPanic is Decode with a panic turned into an error.
func decodeNoPanic(b []byte, m *mdbus.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return mdbus.Decode(b, m)
}

// frameOf converts a decoded Message to the reference's Frame, failing t
// if the Message breaks a promise of the specification the Frame cannot
// show (a decoded Update's Symbol is 0).
func frameOf(t *testing.T, m *mdbus.Message) *wireref.Frame {
	t.Helper()
	f := &wireref.Frame{Type: m.Type, Epoch: m.Epoch, Symbol: string(m.Symbol)}
	switch m.Type {
	case mdbus.TypeUpdate:
		u := &m.Update
		if u.Symbol != 0 {
			t.Errorf("decoded Update.Symbol %d", u.Symbol)
		}
		r := &wireref.Update{Seq: u.Seq, Time: u.Time, Recv: u.Recv, Kind: byte(u.Kind), State: byte(u.State),
			EnterSide: byte(u.EnterSide), TradePrice: int64(u.TradePrice), TradeQty: u.TradeQty,
			Last: int64(u.Last), Volume: u.Volume, Turnover: u.Turnover, Checksum: u.Checksum, Checksum5: u.Checksum5}
		for _, c := range u.Changes[:min(int(u.N), len(u.Changes))] {
			r.Changes = append(r.Changes, wireref.Change{Side: byte(c.Side), Rank: c.Rank, Level: refLevel(c.Level)})
		}
		for i, l := range u.Enter {
			r.Enter[i] = refLevel(l)
		}
		f.Update = r
	case mdbus.TypeSnapshot:
		v := &m.View
		f.Snapshot = &wireref.Snapshot{Seq: v.Seq, Time: v.Time, State: byte(v.State),
			Last: int64(v.Last), LastQty: v.LastQty, Volume: v.Volume, Turnover: v.Turnover,
			Open: int64(v.Open), High: int64(v.High), Low: int64(v.Low),
			Checksum: v.Checksum, Checksum5: v.Checksum5, Bids: refLevels(v.Bids), Asks: refLevels(v.Asks)}
	case mdbus.TypeHeartbeat:
		// Only a heartbeat's Beats are read: a reused Message may keep
		// an earlier heartbeat's in any other, and a Frame holds none.
		for _, b := range m.Beats {
			f.Beats = append(f.Beats, wireref.Beat{Symbol: string(b.Symbol), Seq: b.Seq})
		}
	case mdbus.TypeError:
		f.Text = string(m.Text)
	}
	return f
}

func refLevel(l orderbook.Level) wireref.Level {
	return wireref.Level{Price: int64(l.Price), Qty: l.Qty, Orders: uint64(int64(l.Orders))}
}

func refLevels(ls []orderbook.Level) []wireref.Level {
	var r []wireref.Level
	for _, l := range ls {
		r = append(r, refLevel(l))
	}
	return r
}

// appendFrame encodes the reference's valid frame f with the package's
// encoders.
func appendFrame(b []byte, f *wireref.Frame) []byte {
	switch f.Type {
	case wireref.TypeUpdate:
		r := f.Update
		u := orderbook.Update{Seq: r.Seq, Time: r.Time, Recv: r.Recv, Kind: orderbook.UpdateKind(r.Kind),
			State: orderbook.TradingState(r.State), N: uint8(len(r.Changes)), EnterSide: orderbook.Side(r.EnterSide),
			TradePrice: refdata.Price(r.TradePrice), TradeQty: r.TradeQty, Last: refdata.Price(r.Last),
			Volume: r.Volume, Turnover: r.Turnover, Checksum: r.Checksum, Checksum5: r.Checksum5}
		for i, c := range r.Changes {
			u.Changes[i] = orderbook.LevelChange{Side: orderbook.Side(c.Side), Rank: c.Rank, Level: bookLevel(c.Level)}
		}
		for i, l := range r.Enter {
			u.Enter[i] = bookLevel(l)
		}
		return mdbus.AppendUpdate(b, f.Epoch, f.Symbol, &u)
	case wireref.TypeSnapshot:
		r := f.Snapshot
		v := orderbook.View{Seq: r.Seq, Time: r.Time, State: orderbook.TradingState(r.State),
			Last: refdata.Price(r.Last), LastQty: r.LastQty, Volume: r.Volume, Turnover: r.Turnover,
			Open: refdata.Price(r.Open), High: refdata.Price(r.High), Low: refdata.Price(r.Low),
			Checksum: r.Checksum, Checksum5: r.Checksum5, Bids: bookLevels(r.Bids), Asks: bookLevels(r.Asks)}
		return mdbus.AppendSnapshot(b, f.Epoch, f.Symbol, &v)
	case wireref.TypeHeartbeat:
		// The header symbol is always "*": AppendHeartbeat takes none.
		b = mdbus.AppendHeartbeat(b, f.Epoch, len(f.Beats))
		for _, e := range f.Beats {
			b = mdbus.AppendBeat(b, e.Symbol, e.Seq)
		}
		return b
	}
	return mdbus.AppendError(b, f.Epoch, f.Symbol, f.Text)
}

func bookLevel(l wireref.Level) orderbook.Level {
	return orderbook.Level{Price: refdata.Price(l.Price), Qty: l.Qty, Orders: int32(l.Orders)}
}

func bookLevels(ls []wireref.Level) []orderbook.Level {
	var r []orderbook.Level
	for _, l := range ls {
		r = append(r, bookLevel(l))
	}
	return r
}

// show formats a Frame with its body, a heartbeat's entries as their
// count and each symbol quoted at its seq.
func show(f *wireref.Frame) string {
	if f == nil {
		return "<nil>"
	}
	head := *f
	head.Beats = nil
	s := fmt.Sprintf("%+v update %+v snapshot %+v", head, f.Update, f.Snapshot)
	if f.Beats != nil {
		var b strings.Builder
		fmt.Fprintf(&b, " %d beats", len(f.Beats))
		for _, e := range f.Beats {
			fmt.Fprintf(&b, " %q@%d", e.Symbol, e.Seq)
		}
		s += b.String()
	}
	return s
}
