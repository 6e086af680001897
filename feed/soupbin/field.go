package soupbin

import (
	"strconv"
	"strings"
)

// isPrintable reports whether c is printable ASCII, the alphabet of
// SoupBinTCP alpha fields.
func isPrintable(c byte) bool { return c >= 0x20 && c <= 0x7e }

// parseAlpha checks that raw is printable ASCII and returns it with the
// right-hand space padding removed.
func parseAlpha(packet, field string, raw []byte) (string, error) {
	end := 0
	for i, c := range raw {
		if !isPrintable(c) {
			return "", &FieldError{Packet: packet, Field: field, Value: string(raw), Reason: "not printable ASCII"}
		}
		if c != ' ' {
			end = i + 1
		}
	}
	return string(raw[:end]), nil
}

// parseNumeric parses a numeric field: ASCII digits with optional space
// padding on either side (the spec right-justifies, some peers do not). A
// field with no digits is rejected, as is one that overflows uint64.
func parseNumeric(packet, field string, raw []byte) (uint64, error) {
	i := 0
	for i < len(raw) && raw[i] == ' ' {
		i++
	}
	start := i
	var v uint64
	for ; i < len(raw) && raw[i] >= '0' && raw[i] <= '9'; i++ {
		d := uint64(raw[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, &FieldError{Packet: packet, Field: field, Value: string(raw), Reason: "out of range"}
		}
		v = v*10 + d
	}
	digits := i - start
	for i < len(raw) && raw[i] == ' ' {
		i++
	}
	if digits == 0 || i != len(raw) {
		return 0, &FieldError{Packet: packet, Field: field, Value: strings.TrimSpace(string(raw)), Reason: "not numeric"}
	}
	return v, nil
}

// checkAlpha reports, as a *FieldError, whether s does not fit an alpha
// field of the given width.
func checkAlpha(packet, field, s string, width int) error {
	if len(s) > width {
		return &FieldError{Packet: packet, Field: field, Value: s, Reason: "longer than " + strconv.Itoa(width) + " bytes"}
	}
	for i := 0; i < len(s); i++ {
		if !isPrintable(s[i]) {
			return &FieldError{Packet: packet, Field: field, Value: s, Reason: "not printable ASCII"}
		}
	}
	return nil
}

// appendAlpha appends s left-justified in a field of the given width;
// s must be no longer than width.
func appendAlpha(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for range width - len(s) {
		b = append(b, ' ')
	}
	return b
}

// appendNumeric appends v as a 20-byte numeric field: decimal digits,
// right-justified and space-padded. Every uint64 fits in 20 digits.
func appendNumeric(b []byte, v uint64) []byte {
	var f [seqLen]byte
	i := len(f)
	for {
		i--
		f[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for j := range i {
		f[j] = ' '
	}
	return append(b, f[:]...)
}
