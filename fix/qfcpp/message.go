package qfcpp

import (
	"fmt"
	"strconv"
	"strings"
)

// Field is one tag=value field of a Message.
type Field struct {
	Tag   int
	Value string
}

// Message is a FIX message as a peer printed it: its fields in wire order,
// header and trailer included. The zero Message has no fields.
type Message struct {
	fields []Field
}

// ParseMessage parses the fields of a message separated by sep (SOH in a
// QuickFIX screen log, '|' in the initiator's output). A trailing separator
// is allowed; an empty field, a field without '=' or a tag that is not a
// positive number is an error.
func ParseMessage(s string, sep byte) (Message, error) {
	var m Message
	s = strings.TrimSuffix(s, string(sep))
	if s == "" {
		return m, fmt.Errorf("qfcpp: empty message")
	}
	for f := range strings.SplitSeq(s, string(sep)) {
		t, v, ok := strings.Cut(f, "=")
		tag, err := strconv.Atoi(t)
		if !ok || err != nil || tag <= 0 {
			return Message{}, fmt.Errorf("qfcpp: bad field %q in message %q", f, s)
		}
		m.fields = append(m.fields, Field{Tag: tag, Value: v})
	}
	return m, nil
}

// Get returns the value of the first field with tag, or "" if there is
// none.
func (m Message) Get(tag int) string {
	v, _ := m.Lookup(tag)
	return v
}

// Lookup returns the value of the first field with tag and whether there
// is one.
func (m Message) Lookup(tag int) (string, bool) {
	for _, f := range m.fields {
		if f.Tag == tag {
			return f.Value, true
		}
	}
	return "", false
}

// Has reports whether m has a field with tag.
func (m Message) Has(tag int) bool {
	_, ok := m.Lookup(tag)
	return ok
}

// Type returns the MsgType (35).
func (m Message) Type() string { return m.Get(35) }

// Admin reports whether m is a session-level message.
func (m Message) Admin() bool { return isAdmin(m.Type()) }

func isAdmin(msgType string) bool { return len(msgType) == 1 && strings.Contains("0A12345", msgType) }

// Fields returns a copy of the fields, in order.
func (m Message) Fields() []Field { return append([]Field(nil), m.fields...) }

// String returns the fields as tag=value separated by '|'.
func (m Message) String() string {
	var b strings.Builder
	for _, f := range m.fields {
		b.WriteString(strconv.Itoa(f.Tag))
		b.WriteByte('=')
		b.WriteString(f.Value)
		b.WriteByte('|')
	}
	return b.String()
}
