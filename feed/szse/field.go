package szse

import "strconv"

// PutString writes s into the char field dst, left-justified and padded
// with spaces, as the spec lays out strings shorter than their field:
//
//	szse.PutString(o.SecurityID[:], "000001")
//
// It returns a *FieldError, leaving dst unchanged, if s is longer than
// dst. s is copied as bytes: the spec's free-text fields may carry GBK
// Chinese, which the caller encodes.
func PutString(dst []byte, s string) error {
	if len(s) > len(dst) {
		n := strconv.Itoa(len(dst))
		return &FieldError{Field: "char[" + n + "]", Value: s, Reason: "longer than " + n + " bytes"}
	}
	n := copy(dst, s)
	for i := n; i < len(dst); i++ {
		dst[i] = ' '
	}
	return nil
}

// TrimString returns the char field b without its padding: trailing
// spaces, and the NUL bytes some peers pad with instead. It returns a
// subslice of b and does not allocate.
func TrimString(b []byte) []byte {
	n := len(b)
	for n > 0 && (b[n-1] == ' ' || b[n-1] == 0) {
		n--
	}
	return b[:n]
}
