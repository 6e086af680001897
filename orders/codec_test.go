package orders

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/risk"
)

// recordTypes are the journal record types with a sample body type each.
var recordTypes = []struct {
	typ byte
	rec any // a pointer to a zero record
}{
	{recNew, &newRec{}},
	{recCancel, &changeRec{}},
	{recReplace, &changeRec{}},
	{recExec, &execRec{}},
	{recCancelReject, &cancelRejectRec{}},
	{recRefused, &refusedRec{}},
	{recPeriod, &periodRec{}},
	{recDay, &dayRec{}},
	{recExpired, &refusedRec{}},
	{recKill, &killRec{}},
}

// fillAll sets every field of the struct v points to, recursively, to a
// value of its own that is not the zero value, so a field the codec
// leaves out cannot round-trip. sign makes the integers negative. A
// field tagged `json:"-"` is not part of a record's body (the reports'
// Period, which a periodRec carries) and is left zero.
func fillAll(t testing.TB, v reflect.Value, n *int, sign int64) {
	t.Helper()
	for i := range v.NumField() {
		f := v.Field(i)
		if v.Type().Field(i).Tag.Get("json") == "-" {
			continue
		}
		*n++
		switch f.Kind() {
		case reflect.String:
			f.SetString("v" + string(rune('a'+*n%26)) + "·值" + string(rune('0'+*n%10)))
		case reflect.Int, reflect.Int64:
			f.SetInt(sign * int64(*n) * 1_000_000_007)
		case reflect.Uint8:
			f.SetUint(uint64(200 + *n%50))
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Struct:
			if f.Type() == reflect.TypeFor[time.Time]() {
				f.Set(reflect.ValueOf(time.Date(2026, 12, 3, 9, 30, *n, 123456789, time.UTC)))
				continue
			}
			fillAll(t, f, n, sign)
		default:
			t.Fatalf("%s.%s: kind %s; teach fillAll and the codec", v.Type(), v.Type().Field(i).Name, f.Kind())
		}
	}
}

// TestRecordCodecRoundTrip: every field of every record type survives
// the binary form (a field added to a record and not to the codec fails
// here), and so does the zero record.
func TestRecordCodecRoundTrip(t *testing.T) {
	for _, tc := range recordTypes {
		for _, sign := range []int64{1, -1, 0} {
			want := reflect.New(reflect.TypeOf(tc.rec).Elem())
			if sign != 0 {
				n := 0
				fillAll(t, want.Elem(), &n, sign)
			}
			body := encodeRecord(want.Interface().(bodyRecord))
			if body[0] != bodyVersion(want.Interface().(bodyRecord)) {
				t.Fatalf("%c: body starts %#02x; want the version", tc.typ, body[0])
			}
			got, err := decodeRecord(journal.Record{Type: tc.typ, Body: body})
			if err != nil {
				t.Fatalf("%c sign %d: %v", tc.typ, sign, err)
			}
			if !reflect.DeepEqual(got, want.Interface()) {
				t.Errorf("%c sign %d: decoded\n%+v\nwant\n%+v", tc.typ, sign, got, want.Interface())
			}
		}
	}
}

// goldenRecords are one record of each type with every field set, the
// bodies TestRecordCodecGolden pins.
func goldenRecords() []struct {
	typ byte
	rec bodyRecord
} {
	at := time.Date(2026, 12, 3, 9, 30, 0, 123456789, time.UTC)
	src := Source{Kind: "fix", Session: "BROKER1"}
	return []struct {
		typ byte
		rec bodyRecord
	}{
		{recNew, &newRec{Account: "A1", ClOrdID: "c1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
			Price: 17000000, Qty: 100, Upstream: "core", Source: src, Time: at, UID: "GWmilnkq2a.1"}},
		{recReplace, &changeRec{Account: "A1", ClOrdID: "c2", Orig: "c1", Price: -5, Qty: 200, Source: src, UID: "GWmilnkq2a.2"}},
		{recExec, &execRec{Account: "A1", Upstream: "core", ER: fix.ExecReport{ClOrdID: "GWmilnkq2a.2", OrigClOrdID: "GWmilnkq2a.1",
			OrderID: "V1", ExecID: "E7", ExecType: 'F', OrdStatus: '1', ExecTransType: '0', Symbol: "600519.SH", Side: fix.Side('1'),
			Price: 17000000, LastPx: 16990000, AvgPx: 16995000, OrderQty: 200, LastQty: 100, CumQty: 150, LeavesQty: 50,
			Text: "部分成交", OrdRejReason: 99, PossDup: true, PossResend: false, TransactTime: at, SeqNum: 123456}}},
		{recCancelReject, &cancelRejectRec{Account: "A1", R: fix.CancelReject{ClOrdID: "GWmilnkq2a.3", OrigClOrdID: "GWmilnkq2a.2",
			OrderID: "V1", Reason: 1, Text: "too late", ResponseTo: '1', PossDup: true, SeqNum: 7}}},
		{recRefused, &refusedRec{Account: "A1", UID: "GWmilnkq2a.4", Code: "orders.upstream_unavailable", Text: "held too long"}},
		{recPeriod, &periodRec{Upstream: "core", Period: 1764806400}},
		{recDay, &dayRec{Date: 20261204}},
		{recKill, &killRec{Account: "A1", On: true}},
	}
}

// TestRecordCodecGolden pins version 1's layout: each golden record
// encodes to the body written here, byte for byte, and that body decodes
// to the record. A journal written today must replay after any later
// change; a change that fails this needs a new version (see codec.go).
func TestRecordCodecGolden(t *testing.T) {
	golden := map[byte]string{
		recNew:          "01024131026331093630303531392e5348010180999b10c80104636f7265036669780742524f4b455231b0da89b10d959aef3a0c47576d696c6e6b7132612e31",
		recReplace:      "01024131026332026331099003036669780742524f4b4552310c47576d696c6e6b7132612e32",
		recExec:         "0102413104636f72650c47576d696c6e6b7132612e320c47576d696c6e6b7132612e31025631024537463130093630303531392e53483180999b10e0fc9910f0ca9a109003c801ac02640ce983a8e58886e68890e4baa4c6010100b0da89b10d959aef3a80890f",
		recCancelReject: "010241310c47576d696c6e6b7132612e330c47576d696c6e6b7132612e320256310208746f6f206c61746531010e",
		recRefused:      "010241310c47576d696c6e6b7132612e341b6f72646572732e757073747265616d5f756e617661696c61626c650d68656c6420746f6f206c6f6e67",
		recPeriod:       "0104636f726580bc86930d",
		recDay:          "01a8a5a913",
		recKill:         "0102413101",
	}
	for _, g := range goldenRecords() {
		want, err := hex.DecodeString(golden[g.typ])
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeRecord(g.rec); !bytes.Equal(got, want) {
			t.Errorf("%c encodes to\n%x\nwant (version 1)\n%x", g.typ, got, want)
		}
		got, err := decodeRecord(journal.Record{Type: g.typ, Body: want})
		if err != nil || !reflect.DeepEqual(got, g.rec) {
			t.Errorf("%c: version 1 body decodes to %+v, %v; want %+v", g.typ, got, err, g.rec)
		}
	}
}

// TestRecordCodecGoldenV2 pins version 2: an execution report naming an
// earlier execution (ExecRefID: a trade cancel or correction) is version
// 1's body with the version byte 2 and ExecRefID after the last field;
// one naming none is still written in version 1 (TestRecordCodecGolden),
// which builds before version 2 read.
func TestRecordCodecGoldenV2(t *testing.T) {
	const v1 = "0102413104636f72650c47576d696c6e6b7132612e320c47576d696c6e6b7132612e31025631024537463130093630303531392e53483180999b10e0fc9910f0ca9a109003c801ac02640ce983a8e58886e68890e4baa4c6010100b0da89b10d959aef3a80890f"
	want, err := hex.DecodeString("02" + v1[2:] + "024536") // ExecRefID "E6"
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldenRecords() {
		if g.typ != recExec {
			continue
		}
		rec := *g.rec.(*execRec)
		rec.ER.ExecRefID = "E6"
		if got := encodeRecord(&rec); !bytes.Equal(got, want) {
			t.Errorf("encodes to\n%x\nwant (version 2)\n%x", got, want)
		}
		got, err := decodeRecord(journal.Record{Type: recExec, Body: want})
		if err != nil || !reflect.DeepEqual(got, &rec) {
			t.Errorf("version 2 body decodes to %+v, %v; want %+v", got, err, &rec)
		}
	}
}

// TestRecordCodecTimeRange: the first and last instants JSON's times can
// hold, and the zero time, come back as they went.
func TestRecordCodecTimeRange(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		rec := &newRec{Time: at}
		got, err := decodeRecord(journal.Record{Type: recNew, Body: encodeRecord(rec)})
		if err != nil || !reflect.DeepEqual(got, rec) {
			t.Errorf("time %v: decoded %+v, %v", at, got, err)
		}
	}
}

// TestRecordCodecReadsJSON: a journal written before the binary form
// (JSON bodies) replays as it did.
func TestRecordCodecReadsJSON(t *testing.T) {
	for _, tc := range recordTypes {
		rec := reflect.New(reflect.TypeOf(tc.rec).Elem())
		n := 0
		fillAll(t, rec.Elem(), &n, 1)
		body, err := json.Marshal(rec.Interface())
		if err != nil {
			t.Fatal(err)
		}
		want := reflect.New(rec.Elem().Type()).Interface()
		if err := json.Unmarshal(body, want); err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(journal.Record{Type: tc.typ, Body: body})
		if err != nil {
			t.Fatalf("%c: %v", tc.typ, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%c: decoded\n%+v\nwant\n%+v", tc.typ, got, want)
		}
	}
}

// TestRecordCodecRefuses: a binary body cut short anywhere, with bytes
// after it, or with a field out of its range is an error naming the
// body, never a record.
func TestRecordCodecRefuses(t *testing.T) {
	er := execRec{Account: "A1", Upstream: "core", ER: fix.ExecReport{ClOrdID: "g1", ExecID: "e1", ExecType: 'F', OrdStatus: '2',
		Price: 17000000, LastQty: 100, PossDup: true, TransactTime: time.Date(2026, 12, 3, 9, 30, 0, 5, time.UTC), SeqNum: 7}}
	full := encodeRecord(&er)
	for i := range len(full) {
		if _, err := decodeRecord(journal.Record{Type: recExec, Body: full[:i]}); err == nil {
			t.Errorf("body cut to %d of %d bytes decoded", i, len(full))
		} else if !errors.Is(err, errBody) {
			t.Errorf("body cut to %d bytes: %v; want errBody", i, err)
		}
	}
	// Bodies written field by field, one field bad.
	body := func(fields func(w *rawBody)) []byte {
		w := rawBody{bodyBinaryV1}
		fields(&w)
		return w
	}
	cases := []struct {
		name string
		typ  byte
		body []byte
		want string // in the error
	}{
		{"bytes after the record", recRefused, body(func(w *rawBody) {
			w.str("A1")
			w.str("g1")
			w.str("k")
			w.str("x")
			w.byte(0)
		}), ": 1 bytes after the record"},
		{"unknown form", recRefused, []byte{3, 0, 0, 0, 0}, "unknown form 0x03"},
		{"string longer than the body", recRefused, body(func(w *rawBody) {
			*w = binary.AppendUvarint(*w, 100)
			*w = append(*w, "A1"...)
		}), "field 1: string: length 100, 2 bytes left at byte 2"},
		{"integer overflowing 64 bits", recCancel, body(func(w *rawBody) {
			w.str("A1")
			w.str("c2")
			w.str("c1")
			*w = append(*w, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)
		}), "field 4: integer: varint overflows 64 bits at byte 10"},
		{"integer in an overlong encoding", recCancel, body(func(w *rawBody) {
			w.str("A1")
			w.str("c2")
			w.str("c1")
			*w = append(*w, 0x80, 0x00) // 0 in two bytes
		}), "field 4: integer: overlong varint at byte 10"},
		{"bool neither 0 nor 1", recCancelReject, body(func(w *rawBody) {
			for range 4 {
				w.str("x")
			}
			w.int(1)
			w.str("")
			w.byte('1')
			w.byte(7)
			w.int(9)
		}), "field 8: bool 7"},
		{"nanoseconds of a second or more", recNew, newRecAt(1764754200, uint64(time.Second)), "field 11: 1000000000 nanoseconds"},
		{"time after the year 9999", recNew, newRecAt(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), 0), "field 11: time outside the years 0 to 9999"},
	}
	for _, tc := range cases {
		_, err := decodeRecord(journal.Record{Type: tc.typ, Body: tc.body})
		if !errors.Is(err, errBody) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want errBody and %q", tc.name, err, tc.want)
		}
	}
}

// rawBody writes a binary body by hand, field by field, as the format
// describes it (not with bodyWriter), so a test can write a bad one.
type rawBody []byte

func (w *rawBody) str(s string) { *w = append(binary.AppendUvarint(*w, uint64(len(s))), s...) }
func (w *rawBody) int(n int64)  { *w = binary.AppendVarint(*w, n) }
func (w *rawBody) byte(c byte)  { *w = append(*w, c) }

// newRecAt is a new order's body, written by hand, whose time is sec
// seconds and ns nanoseconds.
func newRecAt(sec int64, ns uint64) []byte {
	w := rawBody{bodyBinaryV1}
	for range 3 {
		w.str("x") // Account, ClOrdID, Symbol
	}
	w.byte(1) // Side
	w.byte(2) // Type
	w.int(17000000)
	w.int(100)
	for range 3 {
		w.str("x") // Upstream, Source
	}
	w.int(sec)
	w = binary.AppendUvarint(w, ns)
	w.str("g1")
	return w
}

// FuzzRecordBody: no body makes decodeRecord panic; a body it accepts
// encodes again (in the binary form) into one that decodes to the same
// record (for a JSON body, the same instant in time). Seeded with every record type, filled and zero, in both forms,
// and a day's records as the order manager writes them.
func FuzzRecordBody(f *testing.F) {
	for _, tc := range recordTypes {
		rec := reflect.New(reflect.TypeOf(tc.rec).Elem())
		f.Add(tc.typ, encodeRecord(rec.Interface().(bodyRecord)))
		n := 0
		fillAll(f, rec.Elem(), &n, 1)
		f.Add(tc.typ, encodeRecord(rec.Interface().(bodyRecord)))
		js, err := json.Marshal(rec.Interface())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tc.typ, js)
	}
	f.Add(recNew, []byte(`{"a":"A1","c":"c1","s":"600519.SH","d":1,"y":1,"p":"1700.0000","q":100,"t":"2026-12-03T09:30:00.5+08:00","i":"g1"}`))
	for _, r := range dayJournal(f, 2) {
		f.Add(r.Type, r.Body)
	}
	f.Fuzz(func(t *testing.T, typ byte, body []byte) {
		v, err := decodeRecord(journal.Record{Type: typ, Body: body})
		if err != nil {
			return
		}
		enc := encodeRecord(v.(bodyRecord))
		again, err := decodeRecord(journal.Record{Type: typ, Body: enc})
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		// A JSON time may carry a zone, the binary form is UTC: the same
		// instant, so compare encodings; a binary body's record must come
		// back exactly.
		if string(encodeRecord(again.(bodyRecord))) != string(enc) {
			t.Fatalf("re-encoded record decodes to\n%+v\nwant\n%+v", again, v)
		}
		if body[0] != bodyJSON && !reflect.DeepEqual(again, v) {
			t.Fatalf("re-encoded record decodes to\n%+v\nwant\n%+v", again, v)
		}
	})
}

// BenchmarkRecordCodec: writing and reading the body of a fill's record
// (the commonest record, the largest), in the binary form and, for
// comparison, as JSON (the form before it).
func BenchmarkRecordCodec(b *testing.B) {
	rec := execRec{Account: "A1", Upstream: "core", ER: fix.ExecReport{ClOrdID: "GWmilnkq2a.1234", OrderID: "V000123",
		ExecID: "E000456", ExecType: 'F', OrdStatus: '2', Symbol: "600519.SH", Side: fix.Side('1'), Price: 17000000,
		LastPx: 17000000, AvgPx: 17000000, OrderQty: 100, LastQty: 100, CumQty: 100,
		TransactTime: time.Date(2026, 12, 3, 9, 30, 0, 123000000, time.UTC), SeqNum: 123456}}
	bin := encodeRecord(&rec)
	js, err := json.Marshal(rec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode/binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeRecord(&rec)
		}
		b.ReportMetric(float64(len(bin)), "bytes")
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(rec); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "bytes")
	})
	for name, body := range map[string][]byte{"binary": bin, "json": js} {
		b.Run("decode/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeRecord(journal.Record{Type: recExec, Body: body}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestRecoverMixedBodies: a journal an older version began (JSON bodies)
// and this one continued (binary) replays to the same orders and account
// as the same journal all in the binary form: an upgrade mid-day.
func TestRecoverMixedBodies(t *testing.T) {
	const orders = 40
	bin := dayJournal(t, orders)
	mixed := make(memJournal, len(bin))
	copy(mixed, bin)
	for i := range len(mixed) / 2 {
		v, err := decodeRecord(mixed[i])
		if err != nil {
			t.Fatal(err)
		}
		if mixed[i].Body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	// state is what clients see of the recovered day: the orders (but
	// their Updated time, the replay's clock) and the account.
	state := func(j memJournal) (list, account string) {
		m, n, err := recoverDay(t, j, orders)
		if err != nil || n != len(j) {
			t.Fatalf("Recover = %d, %v; want %d records", n, err, len(j))
		}
		page, err := m.List("A1", "", MaxListLimit)
		if err != nil || len(page.Orders) != orders {
			t.Fatalf("List = %d orders, %v; want %d", len(page.Orders), err, orders)
		}
		for i := range page.Orders {
			page.Orders[i].Updated = time.Time{}
		}
		a, err := m.Account("A1")
		if err != nil {
			t.Fatal(err)
		}
		ob, err1 := json.Marshal(page.Orders)
		ab, err2 := json.Marshal(a)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		return string(ob), string(ab)
	}
	wantOrders, wantAccount := state(bin)
	gotOrders, gotAccount := state(mixed)
	if gotOrders != wantOrders {
		t.Errorf("orders after the mixed journal:\n%.600s\nwant\n%.600s", gotOrders, wantOrders)
	}
	if gotAccount != wantAccount {
		t.Errorf("account after the mixed journal: %s; want %s", gotAccount, wantAccount)
	}
}
