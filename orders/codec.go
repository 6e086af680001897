package orders

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"sgw/fix"
	"sgw/refdata"
	"sgw/risk"
)

// The body of a journal record. Records are written in the binary form
// below; journals written before it hold JSON bodies, which are still
// read. The first byte tells them apart: a JSON body is an object and
// starts with '{', a binary body with its version.
//
// Binary form, version 1: the version byte, then the record's fields in
// the order its encoder below writes them, each as
//   - a string: its length (uvarint), then its bytes;
//   - an integer (Price, quantities, int): a zig-zag varint;
//   - a byte (Side, OrdType, ExecType, ...): one byte;
//   - a bool: one byte, 0 or 1;
//   - a time: seconds since 1970 (varint), then nanoseconds (uvarint),
//     read back in UTC; the zero time round-trips as the zero time.
//
// A field is never left out, so a record is read without field tags and
// nothing is ambiguous; a new field needs a new version (the decoder
// keeps reading the old ones). JSON bodies cost most of a replay's time
// (orders/replay.go) and most of a cluster follower's warm standby; this
// form is several times cheaper to write and read (BenchmarkRecordCodec).
const (
	bodyBinaryV1 byte = 1
	bodyJSON     byte = '{'
)

// errBody is wrapped by every error decoding a binary record body.
var errBody = errors.New("orders: bad journal record body")

// encodeRecord returns the body of journal record rec (newRec,
// changeRec, execRec, cancelRejectRec or refusedRec) in the binary form.
// It panics on any other type: the records are this package's own.
func encodeRecord(rec any) []byte {
	w := bodyWriter{b: make([]byte, 0, 128)}
	w.byte(bodyBinaryV1)
	switch r := rec.(type) {
	case newRec:
		w.newRec(&r)
	case *newRec:
		w.newRec(r)
	case changeRec:
		w.changeRec(&r)
	case *changeRec:
		w.changeRec(r)
	case execRec:
		w.execRec(&r)
	case *execRec:
		w.execRec(r)
	case cancelRejectRec:
		w.cancelRejectRec(&r)
	case *cancelRejectRec:
		w.cancelRejectRec(r)
	case refusedRec:
		w.refusedRec(&r)
	case *refusedRec:
		w.refusedRec(r)
	default:
		panic(fmt.Sprintf("orders: encoding a journal record of type %T", rec))
	}
	return w.b
}

// decodeBody decodes body, of journal record type typ, into v (a pointer
// to the record type decodeRecord chose for typ): the binary form, or
// JSON for a record written before it.
func decodeBody(body []byte, v any) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty", errBody)
	}
	switch body[0] {
	case bodyJSON:
		return json.Unmarshal(body, v)
	case bodyBinaryV1:
	default:
		return fmt.Errorf("%w: unknown form %#02x", errBody, body[0])
	}
	r := newBodyReader(body[1:])
	switch rec := v.(type) {
	case *newRec:
		r.newRec(rec)
	case *changeRec:
		r.changeRec(rec)
	case *execRec:
		r.execRec(rec)
	case *cancelRejectRec:
		r.cancelRejectRec(rec)
	case *refusedRec:
		r.refusedRec(rec)
	default:
		panic(fmt.Sprintf("orders: decoding a journal record into %T", v))
	}
	if r.err == nil && r.pos < len(r.b) {
		r.err = fmt.Errorf("%w: %d bytes after the record", errBody, len(r.b)-r.pos)
	}
	return r.err
}

// bodyWriter appends the fields of a binary record body to b.
type bodyWriter struct{ b []byte }

func (w *bodyWriter) byte(c byte) { w.b = append(w.b, c) }
func (w *bodyWriter) int(n int64) { w.b = binary.AppendVarint(w.b, n) }

func (w *bodyWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *bodyWriter) bool(v bool) {
	if v {
		w.byte(1)
	} else {
		w.byte(0)
	}
}

func (w *bodyWriter) time(t time.Time) {
	w.int(t.Unix())
	w.b = binary.AppendUvarint(w.b, uint64(t.Nanosecond()))
}

func (w *bodyWriter) source(s Source) {
	w.str(s.Kind)
	w.str(s.Session)
}

func (w *bodyWriter) newRec(r *newRec) {
	w.str(r.Account)
	w.str(r.ClOrdID)
	w.str(r.Symbol)
	w.byte(byte(r.Side))
	w.byte(byte(r.Type))
	w.int(int64(r.Price))
	w.int(r.Qty)
	w.str(r.Upstream)
	w.source(r.Source)
	w.time(r.Time)
	w.str(r.UID)
}

func (w *bodyWriter) changeRec(r *changeRec) {
	w.str(r.Account)
	w.str(r.ClOrdID)
	w.str(r.Orig)
	w.int(int64(r.Price))
	w.int(r.Qty)
	w.source(r.Source)
	w.str(r.UID)
}

func (w *bodyWriter) execRec(r *execRec) {
	w.str(r.Account)
	w.str(r.Upstream)
	e := &r.ER
	w.str(e.ClOrdID)
	w.str(e.OrigClOrdID)
	w.str(e.OrderID)
	w.str(e.ExecID)
	w.byte(e.ExecType)
	w.byte(e.OrdStatus)
	w.byte(e.ExecTransType)
	w.str(e.Symbol)
	w.byte(byte(e.Side))
	w.int(int64(e.Price))
	w.int(int64(e.LastPx))
	w.int(int64(e.AvgPx))
	w.int(e.OrderQty)
	w.int(e.LastQty)
	w.int(e.CumQty)
	w.int(e.LeavesQty)
	w.str(e.Text)
	w.int(int64(e.OrdRejReason))
	w.bool(e.PossDup)
	w.bool(e.PossResend)
	w.time(e.TransactTime)
	w.int(int64(e.SeqNum))
}

func (w *bodyWriter) cancelRejectRec(r *cancelRejectRec) {
	w.str(r.Account)
	c := &r.R
	w.str(c.ClOrdID)
	w.str(c.OrigClOrdID)
	w.str(c.OrderID)
	w.int(int64(c.Reason))
	w.str(c.Text)
	w.byte(c.ResponseTo)
	w.bool(c.PossDup)
	w.int(int64(c.SeqNum))
}

func (w *bodyWriter) refusedRec(r *refusedRec) {
	w.str(r.Account)
	w.str(r.UID)
	w.str(r.Code)
	w.str(r.Text)
}

// bodyReader reads the fields of a binary record body. Strings are
// slices of one copy of the body (one allocation a record, not one a
// field). The first error sticks: later reads return zero values, and
// err says what and where.
type bodyReader struct {
	b   []byte // the body
	s   string // the same bytes, read by str
	pos int
	err error
	n   int // fields read, for the error
}

func newBodyReader(b []byte) bodyReader { return bodyReader{b: b, s: string(b)} }

func (r *bodyReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: field %d: %s", errBody, r.n, what)
	}
	r.pos = len(r.b)
}

func (r *bodyReader) byte() byte {
	r.n++
	if r.pos >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *bodyReader) int() int64 {
	r.n++
	v, k := binary.Varint(r.b[r.pos:])
	if k <= 0 {
		r.fail("bad integer")
		return 0
	}
	r.pos += k
	return v
}

// intSized reads an integer that must fit an int.
func (r *bodyReader) intSized() int {
	v := r.int()
	if int64(int(v)) != v {
		r.fail("integer out of range")
		return 0
	}
	return int(v)
}

func (r *bodyReader) str() string {
	r.n++
	l, k := binary.Uvarint(r.b[r.pos:])
	if k <= 0 || l > uint64(len(r.b)-r.pos-k) {
		r.fail("bad string length")
		return ""
	}
	start := r.pos + k
	r.pos = start + int(l)
	return r.s[start:r.pos]
}

func (r *bodyReader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad bool")
	return false
}

func (r *bodyReader) time() time.Time {
	sec := r.int()
	r.n++
	ns, k := binary.Uvarint(r.b[r.pos:])
	if k <= 0 || ns >= uint64(time.Second) {
		r.fail("bad nanoseconds")
		return time.Time{}
	}
	r.pos += k
	if t := time.Unix(sec, int64(ns)).UTC(); !t.IsZero() {
		return t
	}
	return time.Time{}
}

func (r *bodyReader) source() Source {
	return Source{Kind: r.str(), Session: r.str()}
}

func (r *bodyReader) newRec(v *newRec) {
	v.Account = r.str()
	v.ClOrdID = r.str()
	v.Symbol = r.str()
	v.Side = risk.Side(r.byte())
	v.Type = risk.OrdType(r.byte())
	v.Price = refdata.Price(r.int())
	v.Qty = r.int()
	v.Upstream = r.str()
	v.Source = r.source()
	v.Time = r.time()
	v.UID = r.str()
}

func (r *bodyReader) changeRec(v *changeRec) {
	v.Account = r.str()
	v.ClOrdID = r.str()
	v.Orig = r.str()
	v.Price = refdata.Price(r.int())
	v.Qty = r.int()
	v.Source = r.source()
	v.UID = r.str()
}

func (r *bodyReader) execRec(v *execRec) {
	v.Account = r.str()
	v.Upstream = r.str()
	e := &v.ER
	e.ClOrdID = r.str()
	e.OrigClOrdID = r.str()
	e.OrderID = r.str()
	e.ExecID = r.str()
	e.ExecType = r.byte()
	e.OrdStatus = r.byte()
	e.ExecTransType = r.byte()
	e.Symbol = r.str()
	e.Side = fix.Side(r.byte())
	e.Price = refdata.Price(r.int())
	e.LastPx = refdata.Price(r.int())
	e.AvgPx = refdata.Price(r.int())
	e.OrderQty = r.int()
	e.LastQty = r.int()
	e.CumQty = r.int()
	e.LeavesQty = r.int()
	e.Text = r.str()
	e.OrdRejReason = r.intSized()
	e.PossDup = r.bool()
	e.PossResend = r.bool()
	e.TransactTime = r.time()
	e.SeqNum = r.intSized()
}

func (r *bodyReader) cancelRejectRec(v *cancelRejectRec) {
	v.Account = r.str()
	c := &v.R
	c.ClOrdID = r.str()
	c.OrigClOrdID = r.str()
	c.OrderID = r.str()
	c.Reason = r.intSized()
	c.Text = r.str()
	c.ResponseTo = r.byte()
	c.PossDup = r.bool()
	c.SeqNum = r.intSized()
}

func (r *bodyReader) refusedRec(v *refusedRec) {
	v.Account = r.str()
	v.UID = r.str()
	v.Code = r.str()
	v.Text = r.str()
}
