package fix

import (
	"strconv"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
)

// EmptyValues says how a FieldReader treats a field sent without a value
// ("58=").
type EmptyValues int

const (
	// EmptyRejected makes any field without a value a session-level
	// Reject, SessionRejectReason 4 (tag specified without a value), as
	// FIX requires: the broker acceptor, reading what outsiders send.
	EmptyRejected EmptyValues = iota
	// EmptyAllowed reads an optional field without a value as an empty
	// string (a number or a time without a value is still malformed): the
	// upstream relay, lenient with the firm's own systems. A required
	// field without a value is a Reject either way.
	EmptyAllowed
)

// FieldReader reads the body fields of one received message and keeps the
// first problem, so that a decoder reads every field it needs and checks
// once: Err is the session-level Reject for quickfix to send back (a
// missing or malformed field), BadID the first identifier that breaks the
// order path's rules (refdata.ValidID). Every FIX engine of the gateway
// decodes with it.
//
// A FieldReader is used by one goroutine, the one handling the message.
type FieldReader struct {
	m     *quickfix.Message
	empty EmptyValues
	err   quickfix.MessageRejectError
	badID error
}

// NewFieldReader returns a reader of m's body.
func NewFieldReader(m *quickfix.Message, empty EmptyValues) *FieldReader {
	return &FieldReader{m: m, empty: empty}
}

// Err returns the first missing or malformed field as the Reject to send,
// or nil.
func (d *FieldReader) Err() quickfix.MessageRejectError { return d.err }

// BadID returns the first identifier read with ID that is not valid, as an
// *refdata.IDError naming the field (never echoing
// the value), or nil.
func (d *FieldReader) BadID() error { return d.badID }

func (d *FieldReader) fail(rej quickfix.MessageRejectError) {
	if d.err == nil {
		d.err = rej
	}
}

// Bytes returns field t's value, or nil when it is absent (a Reject if it
// is required). The slice is quickfix's: do not modify it.
func (d *FieldReader) Bytes(t quickfix.Tag, required bool) []byte {
	if !d.m.Body.Has(t) {
		if required {
			d.fail(quickfix.RequiredTagMissing(t))
		}
		return nil
	}
	v, err := d.m.Body.GetBytes(t)
	if err != nil {
		d.fail(err)
		return nil
	}
	if len(v) == 0 && (required || d.empty == EmptyRejected) {
		d.fail(quickfix.TagSpecifiedWithoutAValue(t))
	}
	return v
}

// Str returns field t as a string ("" when absent).
func (d *FieldReader) Str(t quickfix.Tag, required bool) string {
	return string(d.Bytes(t, required))
}

// Char returns a one-character field (0 when absent); a longer value is
// malformed.
func (d *FieldReader) Char(t quickfix.Tag, required bool) byte {
	v := d.Bytes(t, required)
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	d.fail(quickfix.IncorrectDataFormatForValue(t))
	return 0
}

// Price returns a price field parsed under policy (0 when absent).
func (d *FieldReader) Price(t quickfix.Tag, required bool, policy PricePolicy) refdata.Price {
	v := d.Bytes(t, required)
	if v == nil {
		return 0
	}
	p, ok := ParsePrice(v, policy)
	if !ok {
		d.fail(quickfix.IncorrectDataFormatForValue(t))
	}
	return p
}

// Qty returns a quantity field, a whole number of shares (0 when absent).
func (d *FieldReader) Qty(t quickfix.Tag, required bool) int64 {
	v := d.Bytes(t, required)
	if v == nil {
		return 0
	}
	q, ok := ParseQty(v)
	if !ok {
		d.fail(quickfix.IncorrectDataFormatForValue(t))
	}
	return q
}

// Int returns a non-negative int field of at most 2^31 (a reason code; 0
// when absent).
func (d *FieldReader) Int(t quickfix.Tag, required bool) int {
	v := d.Bytes(t, required)
	if v == nil {
		return 0
	}
	n, ok := ParseQty(v)
	if !ok || n > 1<<31 {
		d.fail(quickfix.IncorrectDataFormatForValue(t))
	}
	return int(n)
}

// Time returns a UTCTimestamp field (zero when absent).
func (d *FieldReader) Time(t quickfix.Tag, required bool) time.Time {
	if !d.m.Body.Has(t) {
		if required {
			d.fail(quickfix.RequiredTagMissing(t))
		}
		return time.Time{}
	}
	tm, err := d.m.Body.GetTime(t)
	if err != nil {
		d.fail(quickfix.IncorrectDataFormatForValue(t))
	}
	return tm
}

// LenientTime reads an optional UTCTimestamp that nothing decides on (a
// report's TransactTime, kept in the journal's copy): any number of
// decimals of a second, or zero when absent or unreadable, never a
// reject. Refusing a report for it (a session-level Reject) would lose the
// execution it carries: the upstream does not send a rejected message
// again.
func (d *FieldReader) LenientTime(t quickfix.Tag) time.Time {
	v, ferr := d.m.Body.GetBytes(t)
	if ferr != nil {
		return time.Time{}
	}
	tm, err := time.Parse("20060102-15:04:05", string(v)) // a fraction of any length is accepted
	if err != nil {
		return time.Time{}
	}
	return tm
}

// ID returns an identifier field (ClOrdID, OrigClOrdID, Account, Symbol,
// ...) named name in texts. A value that is not 1 to max characters of
// the identifier alphabet (refdata.ValidID) is returned as it is, and the
// first such is kept as BadID: the caller refuses the request and must not
// echo the value (see EchoID). An absent or empty field is treated as by
// Bytes.
func (d *FieldReader) ID(t quickfix.Tag, name string, max int, required bool) string {
	v := d.Str(t, required)
	if v != "" && d.badID == nil {
		d.badID = refdata.CheckID(name, v, max)
	}
	return v
}

// echoPrefix is how many bytes of an invalid identifier EchoID keeps.
const echoPrefix = 16

// EchoID returns id when it is valid (refdata.ValidID with max), else a
// placeholder safe to echo in a report: '?', the first 16 bytes of id with
// every byte outside the identifier alphabet replaced by '_', and, when id
// is longer, '~' and its length in bytes ("?AAAAAAAAAAAAAAAA~70000").
// '?' and '~' are outside the alphabet, so a placeholder never equals an
// identifier the gateway accepted: a broker cannot mistake the report for
// one about another order. It is at most 25 bytes for ids up to 1 MB.
func EchoID(id string, max int) string {
	if refdata.ValidID(id, max) {
		return id
	}
	b := make([]byte, 0, 1+echoPrefix+8)
	b = append(b, '?')
	for i := 0; i < len(id) && i < echoPrefix; i++ {
		c := id[i]
		if !refdata.ValidID(id[i:i+1], 1) {
			c = '_'
		}
		b = append(b, c)
	}
	if len(id) > echoPrefix {
		b = append(b, '~')
		b = strconv.AppendInt(b, int64(len(id)), 10)
	}
	return string(b)
}

// PossDup reports the flags of a message that may have been received
// before: PossDupFlag (43, a session-level resend) and PossResend (97, an
// application-level resend under a new sequence number).
func PossDup(m *quickfix.Message) (possDup, possResend bool) {
	if v, err := m.Header.GetBytes(tag.PossDupFlag); err == nil && len(v) == 1 && v[0] == 'Y' {
		possDup = true
	}
	if v, err := m.Header.GetBytes(tag.PossResend); err == nil && len(v) == 1 && v[0] == 'Y' {
		possResend = true
	}
	return possDup, possResend
}
