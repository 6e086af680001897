package refdata

import "fmt"

// Identifier limits. Every identifier that enters the gateway — from a
// WebSocket client, a FIX broker, the configuration — obeys the same rule:
// 1 to its maximum length of characters from the identifier alphabet
// (ASCII letters and digits and the seven marks - _ . : / # @). Nothing
// else: no spaces, no control characters (SOH, CR, LF), no '|' or '=',
// which logs and FIX renderings use as delimiters, no quotes.
const (
	// MaxClOrdIDLen bounds a client order id (FIX ClOrdID 11, OrigClOrdID
	// 41; WebSocket clOrdId, origClOrdId).
	MaxClOrdIDLen = 32
	// MaxAccountLen bounds an account id (FIX Account 1; WebSocket account).
	MaxAccountLen = 20
	// MaxSymbolLen bounds a gateway symbol such as 600519.SH.
	MaxSymbolLen = 16
	// MaxCompIDLen bounds a FIX SenderCompID or TargetCompID.
	MaxCompIDLen = 32
	// MaxTextLen bounds a free text passed on to clients (FIX Text 58 of an
	// upstream's report); longer texts are cut, not refused.
	MaxTextLen = 128
)

// idChar marks the bytes allowed in an identifier.
var idChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
		t[c+'a'-'A'] = true
	}
	for _, c := range "-_.:/#@" {
		t[c] = true
	}
	return t
}()

// ValidID reports whether id is 1 to max characters of the identifier
// alphabet.
func ValidID(id string, max int) bool {
	if len(id) == 0 || len(id) > max {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idChar[id[i]] {
			return false
		}
	}
	return true
}

// IDError is an identifier that breaks the rule. It names the field and
// what is wrong, never the value itself (it may be huge or hold control
// characters).
type IDError struct {
	Field string // as the client named it: "clOrdId", "ClOrdID", ...
	Why   string // "is empty", "is 70000 bytes long; the limit is 32", ...
}

// Error returns "refdata: <field> <why>".
func (e *IDError) Error() string { return "refdata: " + e.Text() }

// Text returns "<field> <why>", for a client.
func (e *IDError) Text() string { return e.Field + " " + e.Why }

// CheckID returns nil for a valid identifier, or an *IDError.
func CheckID(field, id string, max int) error {
	if ValidID(id, max) {
		return nil
	}
	e := &IDError{Field: field}
	switch {
	case len(id) == 0:
		e.Why = "is empty"
	case len(id) > max:
		e.Why = fmt.Sprintf("is %d bytes long; the limit is %d", len(id), max)
	default:
		for i := 0; i < len(id); i++ {
			if !idChar[id[i]] {
				e.Why = fmt.Sprintf("has a character 0x%02x at offset %d outside A-Z a-z 0-9 - _ . : / # @", id[i], i)
				break
			}
		}
	}
	return e
}

// CleanText makes a free text from outside safe to pass on: control
// characters become spaces, and it is cut to MaxTextLen bytes on a
// character boundary.
func CleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean && len(s) <= MaxTextLen {
		return s
	}
	out := make([]rune, 0, len(s))
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			r = ' '
		}
		if n+len(string(r)) > MaxTextLen {
			break
		}
		n += len(string(r))
		out = append(out, r)
	}
	return string(out)
}
