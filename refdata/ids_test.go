package refdata

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		ok       bool
		why      string
	}{
		{"plain", "c-1_2.3:4/5#6@7", true, ""},
		{"max length", strings.Repeat("a", MaxClOrdIDLen), true, ""},
		{"empty", "", false, "is empty"},
		{"too long", strings.Repeat("a", MaxClOrdIDLen+1), false, "is 33 bytes long; the limit is 32"},
		{"70,000 bytes", strings.Repeat("A", 70000), false, "is 70000 bytes long"},
		{"SOH", "c1\x0158=2", false, "0x01 at offset 2"},
		{"newline", "c1\n", false, "0x0a at offset 2"},
		{"pipe", "c1|58=2", false, "0x7c at offset 2"},
		{"equals", "c=1", false, "0x3d at offset 1"},
		{"space", "c 1", false, "0x20 at offset 1"},
		{"quote", `c"1`, false, "0x22 at offset 1"},
		{"UTF-8", "订单1", false, "offset 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckID("clOrdId", tc.id, MaxClOrdIDLen)
			if (err == nil) != tc.ok || ValidID(tc.id, MaxClOrdIDLen) != tc.ok {
				t.Fatalf("CheckID = %v, ValidID = %v; want ok %v", err, ValidID(tc.id, MaxClOrdIDLen), tc.ok)
			}
			var ie *IDError
			if !tc.ok && (!errors.As(err, &ie) || !strings.Contains(ie.Text(), tc.why) || !strings.HasPrefix(ie.Text(), "clOrdId ")) {
				t.Fatalf("CheckID = %v; want it to say %q", err, tc.why)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	if got := CleanText("rejected\x01 58=2\nnow"); got != "rejected  58=2 now" {
		t.Errorf("CleanText = %q", got)
	}
	long := strings.Repeat("价", 100)
	if got := CleanText(long); len(got) > MaxTextLen || !utf8.ValidString(got) {
		t.Errorf("CleanText of %d bytes = %d bytes, valid UTF-8 %v", len(long), len(got), utf8.ValidString(got))
	}
}

// FuzzCheckID checks the identifier rule's promises on any input: what it
// accepts is short and holds only the alphabet (never a control
// character, a delimiter or a quote); what it refuses gets a text naming
// the field that never holds the value's bytes; and CleanText's output is
// short, valid and free of control characters.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{"c1", "DEMOmx5aios3.1a", "X-GW1.2", "c1\x0158=2\x01", "c|58=FILLED", strings.Repeat("A", 40), "订单", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := CheckID("ClOrdID", id, MaxClOrdIDLen)
		if ValidID(id, MaxClOrdIDLen) != (err == nil) {
			t.Fatalf("ValidID and CheckID disagree on %q", id)
		}
		if err == nil {
			if len(id) == 0 || len(id) > MaxClOrdIDLen || strings.ContainsAny(id, "\x00\x01\r\n |=\"'\\<>;") {
				t.Fatalf("accepted %q", id)
			}
		} else {
			var ie *IDError
			if !errors.As(err, &ie) || !strings.HasPrefix(ie.Text(), "ClOrdID ") || len(ie.Text()) > 120 {
				t.Fatalf("refusal of %q: %v", id, err)
			}
			if len(id) >= 4 && strings.Contains(ie.Text(), id) {
				t.Fatalf("the refusal echoes the value: %q", ie.Text())
			}
		}
		c := CleanText(id)
		if len(c) > MaxTextLen || !utf8.ValidString(c) {
			t.Fatalf("CleanText(%q) = %q", id, c)
		}
		for i := 0; i < len(c); i++ {
			if c[i] < 0x20 || c[i] == 0x7f {
				t.Fatalf("CleanText(%q) = %q keeps a control character", id, c)
			}
		}
	})
}
