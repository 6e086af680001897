package orders

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"sgw/internal/binread"
)

// The body of a journal record. Records are written in the binary form
// below; journals written before it hold JSON bodies, which are still
// read. The first byte tells them apart: a JSON body is an object and
// starts with '{', a binary body with its version.
//
// Binary form, version 1: the version byte, then the record's fields in
// the order its fields method lists them, each as
//   - a string: its length (uvarint), then its bytes;
//   - an integer (Price, quantities, int): a zig-zag varint;
//   - a byte (Side, OrdType, ExecType, ...): one byte;
//   - a bool: one byte, 0 or 1;
//   - a time: seconds since 1970 (varint), then nanoseconds (uvarint),
//     read back in UTC; the zero time round-trips as the zero time.
//
// A field is never left out, so a record is read without field tags and
// nothing is ambiguous. Version 1's layout is pinned by golden bodies
// (TestRecordCodecGolden): a new field, or a field moved, needs a new
// version byte and a fields method that takes it, the decoder reading
// the old versions as they were. JSON bodies cost most of a replay's time
// (orders/replay.go) and most of a cluster follower's warm standby; this
// form is several times cheaper to write and read (BenchmarkRecordCodec).
// A binary body cut short, with bytes after its last field, with a
// length, integer, bool or time out of range, or with a varint longer
// than its value's shortest encoding is an error wrapping errBody naming
// the field, never a panic (FuzzRecordBody). Codes (Side, ExecType, ...)
// are not checked here, as JSON did not check them: the manager applies
// records as they were journaled.
//
// Version 2 is version 1 with, after an execRec's fields, the report's
// ExecRefID (the trade a trade cancel or correction names). It is
// written only for an execRec whose ExecRefID is set, every other record
// staying version 1, so a journal holds version 2 bodies only once an
// upstream has canceled or corrected a trade: a build before version 2
// refuses such a journal (unknown form 0x02) and reads every other.
const (
	bodyBinaryV1 byte = 1
	bodyBinaryV2 byte = 2
	bodyJSON     byte = '{'
)

// errBody is wrapped by every error decoding a binary record body.
var errBody = errors.New("orders: bad journal record body")

// bodyRecord is a journal record's body type: newRec, changeRec,
// execRec, cancelRejectRec, refusedRec, periodRec, dayRec or killRec
// (as pointers).
type bodyRecord interface {
	// fields hands each of the record's fields to c, always all of them,
	// always in the same order: the binary form's one field list, which
	// the writer and the reader both walk, so they cannot disagree.
	fields(c bodyCoder)
}

// bodyCoder is one side of the binary form: the writer appends each field
// it is handed, the reader sets it.
type bodyCoder interface {
	str(*string)
	int(*int64)
	num(*int) // an int field
	byte(*byte)
	bool(*bool)
	time(*time.Time)
	// version is the body's version byte (bodyBinaryV1 or V2): the fields
	// a version added are walked only from that version on.
	version() byte
}

func (r *newRec) fields(c bodyCoder) {
	c.str(&r.Account)
	c.str(&r.ClOrdID)
	c.str(&r.Symbol)
	c.byte((*byte)(&r.Side))
	c.byte((*byte)(&r.Type))
	c.int((*int64)(&r.Price))
	c.int(&r.Qty)
	c.str(&r.Upstream)
	c.str(&r.Source.Kind)
	c.str(&r.Source.Session)
	c.time(&r.Time)
	c.str(&r.UID)
}

func (r *changeRec) fields(c bodyCoder) {
	c.str(&r.Account)
	c.str(&r.ClOrdID)
	c.str(&r.Orig)
	c.int((*int64)(&r.Price))
	c.int(&r.Qty)
	c.str(&r.Source.Kind)
	c.str(&r.Source.Session)
	c.str(&r.UID)
}

func (r *execRec) fields(c bodyCoder) {
	c.str(&r.Account)
	c.str(&r.Upstream)
	e := &r.ER
	c.str(&e.ClOrdID)
	c.str(&e.OrigClOrdID)
	c.str(&e.OrderID)
	c.str(&e.ExecID)
	c.byte(&e.ExecType)
	c.byte(&e.OrdStatus)
	c.byte(&e.ExecTransType)
	c.str(&e.Symbol)
	c.byte((*byte)(&e.Side))
	c.int((*int64)(&e.Price))
	c.int((*int64)(&e.LastPx))
	c.int((*int64)(&e.AvgPx))
	c.int(&e.OrderQty)
	c.int(&e.LastQty)
	c.int(&e.CumQty)
	c.int(&e.LeavesQty)
	c.str(&e.Text)
	c.num(&e.OrdRejReason)
	c.bool(&e.PossDup)
	c.bool(&e.PossResend)
	c.time(&e.TransactTime)
	c.num(&e.SeqNum)
	if c.version() >= bodyBinaryV2 {
		c.str(&e.ExecRefID)
	}
}

// bodyVersion is the version rec's body is written in: 2 for an execRec
// that carries an ExecRefID, which version 1 has no field for, 1 for
// every other record (readable by builds before version 2).
func bodyVersion(rec bodyRecord) byte {
	if r, ok := rec.(*execRec); ok && r.ER.ExecRefID != "" {
		return bodyBinaryV2
	}
	return bodyBinaryV1
}

func (r *cancelRejectRec) fields(c bodyCoder) {
	c.str(&r.Account)
	x := &r.R
	c.str(&x.ClOrdID)
	c.str(&x.OrigClOrdID)
	c.str(&x.OrderID)
	c.num(&x.Reason)
	c.str(&x.Text)
	c.byte(&x.ResponseTo)
	c.bool(&x.PossDup)
	c.num(&x.SeqNum)
}

func (r *periodRec) fields(c bodyCoder) {
	c.str(&r.Upstream)
	c.int(&r.Period)
}

func (r *dayRec) fields(c bodyCoder) {
	c.int(&r.Date)
}

func (r *killRec) fields(c bodyCoder) {
	c.str(&r.Account)
	c.bool(&r.On)
}

func (r *refusedRec) fields(c bodyCoder) {
	c.str(&r.Account)
	c.str(&r.UID)
	c.str(&r.Code)
	c.str(&r.Text)
}

// encodeRecord returns the body of journal record rec in the binary form.
func encodeRecord(rec bodyRecord) []byte {
	w := bodyWriter{b: make([]byte, 0, 128), v: bodyVersion(rec)}
	w.b = append(w.b, w.v)
	rec.fields(&w)
	return w.b
}

// decodeBody decodes body into rec (the record type decodeRecord chose
// for the record's type): the binary form, or JSON for a record written
// before it.
func decodeBody(body []byte, rec bodyRecord) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty", errBody)
	}
	switch body[0] {
	case bodyJSON:
		return json.Unmarshal(body, rec)
	case bodyBinaryV1, bodyBinaryV2:
	default:
		return fmt.Errorf("%w: unknown form %#02x", errBody, body[0])
	}
	r := newBodyReader(body)
	r.v = r.r.Byte("version") // read above
	rec.fields(&r)
	if err := r.err(); err != nil {
		return err
	}
	if r.r.Len() > 0 {
		return fmt.Errorf("%w: %d bytes after the record", errBody, r.r.Len())
	}
	return nil
}

// bodyWriter appends the fields of a binary record body of version v to
// b.
type bodyWriter struct {
	b []byte
	v byte
}

func (w *bodyWriter) version() byte { return w.v }

func (w *bodyWriter) byte(c *byte)  { w.b = append(w.b, *c) }
func (w *bodyWriter) int(n *int64)  { w.b = binary.AppendVarint(w.b, *n) }
func (w *bodyWriter) num(n *int)    { w.b = binary.AppendVarint(w.b, int64(*n)) }
func (w *bodyWriter) str(s *string) { w.b = append(binary.AppendUvarint(w.b, uint64(len(*s))), *s...) }

func (w *bodyWriter) bool(v *bool) {
	if *v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *bodyWriter) time(t *time.Time) {
	w.b = binary.AppendVarint(w.b, t.Unix())
	w.b = binary.AppendUvarint(w.b, uint64(t.Nanosecond()))
}

// bodyReader reads the fields of a binary record body. Each string is a
// copy of its own: an order keeps some of its records' strings for the
// day (its ids, the venue's OrderID), and a slice of one copy of the
// whole body would keep the whole body (measured: 16 MB more per 100,000
// orders than JSON's strings). The first error sticks (binread): later
// fields are left zero, and n is the field that failed.
type bodyReader struct {
	r binread.Reader
	n int  // fields read, up to the one that failed
	v byte // the body's version
}

func (r *bodyReader) version() byte { return r.v }

func newBodyReader(b []byte) bodyReader { return bodyReader{r: binread.New(b)} }

// field counts the next field, while none has failed.
func (r *bodyReader) field() {
	if r.r.Err() == nil {
		r.n++
	}
}

// err returns the first failure, naming the field, or nil.
func (r *bodyReader) err() error {
	if err := r.r.Err(); err != nil {
		return fmt.Errorf("%w: field %d: %w", errBody, r.n, err)
	}
	return nil
}

func (r *bodyReader) byte(c *byte) {
	r.field()
	*c = r.r.Byte("byte")
}

func (r *bodyReader) int(n *int64) {
	r.field()
	*n = r.r.Varint("integer")
}

func (r *bodyReader) num(n *int) {
	r.field()
	v := r.r.Varint("integer")
	if int64(int(v)) != v {
		r.r.Fail(fmt.Sprintf("integer %d out of range", v))
		return
	}
	*n = int(v)
}

func (r *bodyReader) str(s *string) {
	r.field()
	*s = string(r.r.Prefixed("string"))
}

func (r *bodyReader) bool(v *bool) {
	r.field()
	switch c := r.r.Byte("bool"); c {
	case 0, 1:
		*v = c == 1
	default:
		r.r.Fail(fmt.Sprintf("bool %d", c))
	}
}

func (r *bodyReader) time(t *time.Time) {
	r.field()
	sec := r.r.Varint("time")
	ns := r.r.Uvarint("time's nanoseconds")
	switch {
	case r.r.Err() != nil:
	case ns >= uint64(time.Second):
		r.r.Fail(fmt.Sprintf("%d nanoseconds", ns))
	case sec < minTimeSec || sec > maxTimeSec:
		r.r.Fail("time outside the years 0 to 9999")
	default:
		*t = time.Unix(sec, int64(ns)).UTC()
	}
}

// The range of a time in a body: the years 0 to 9999, which JSON's times
// (RFC 3339) can hold, the zero time included. What is written is always
// inside it: the clock, and FIX UTCTimestamps, whose years have four
// digits.
var (
	minTimeSec = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxTimeSec = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)
