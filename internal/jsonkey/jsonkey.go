// Package jsonkey finds the top-level member names of a JSON object that
// give one member more than one value: the same name twice, or two names
// that encoding/json takes as one. encoding/json matches a name to a
// struct field without regard to case (bytes.EqualFold, after unescaping)
// and keeps the last value, so {"qty":100,"QTY":100000} and
// {"qty":100,"qty":100000} both decode as 100,000; RFC 7519 lets a JWT
// parser take the last of two "sub" claims. Such a message has two
// readings: an audit, a log, or another decoder may take the first value
// where the gateway takes the last.
//
// The gateway's WebSocket order requests and its kill switch
// (RepeatedField, against the fields the request takes) and the auth
// package's tokens, their header and their payload (Repeated, any name),
// are checked here: one scan of the object's top level, allocating only
// for a name with an escape (and Repeated for an object of more than 32
// names, or to return the name it found).
//
// The functions are safe for concurrent use; they keep no state.
package jsonkey

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// RepeatedField returns the name of a field of fields (at most 64) that
// two top-level names of the JSON object b match, or "" if none. A name
// matches the field equal to it, else one equal to it without regard to
// case, as encoding/json matches it. A name that matches none of fields
// is returned too (cut to 32 bytes) if strict, else skipped. b must be
// one valid JSON object (its decoder has accepted it); if it is not, the
// answer means nothing, but RepeatedField does not fail.
func RepeatedField(b []byte, fields []string, strict bool) string {
	var seen uint64
	s := scanner{b: b}
	for {
		i, j := s.next()
		if i < 0 {
			return ""
		}
		k := fieldIndex(b[i:j], fields)
		switch {
		case k < 0 && strict:
			return string(b[i+1 : min(j-1, i+33)])
		case k < 0:
		case seen&(1<<k) != 0:
			return fields[k]
		default:
			seen |= 1 << k
		}
	}
}

// Repeated returns a top-level name of the JSON object b that an earlier
// name equals, exactly or without regard to case (as encoding/json
// matches names to fields), unescaped; or "" if none. b must be one valid
// JSON object; if it is not, the answer means nothing, but Repeated does
// not fail. It compares each name with every earlier one: the callers'
// objects have a few names, and at most a few hundred.
func Repeated(b []byte) string {
	// The names are kept as offsets into b, and escaped ones unescaped
	// apart, so that b stays where the caller has it (on its stack).
	type name struct{ i, j, esc int }
	var arr [32]name
	names := arr[:0]
	var escaped [][]byte
	get := func(n name) []byte {
		if n.esc >= 0 {
			return escaped[n.esc]
		}
		return b[n.i+1 : n.j-1]
	}
	s := scanner{b: b}
	for {
		i, j := s.next()
		if i < 0 {
			return ""
		}
		n := name{i, j, -1}
		if bytes.IndexByte(b[i:j], '\\') >= 0 {
			k, ok := unescape(b[i:j])
			if !ok {
				continue
			}
			n.esc = len(escaped)
			escaped = append(escaped, k)
		}
		k := get(n)
		for _, o := range names {
			if bytes.EqualFold(get(o), k) {
				if !utf8.Valid(k) {
					// As encoding/json reads it: a byte that is not
					// UTF-8 is U+FFFD.
					k, _ = unescape(b[i:j])
				}
				return string(k)
			}
		}
		names = append(names, n)
	}
}

// scanner reads the top-level names of a JSON object, once, skipping
// strings and nested values.
type scanner struct {
	b        []byte
	i, depth int
	wantName bool
}

// next returns the bounds in s.b of the next top-level name, quoted, or
// -1 at the object's end or s.b's.
func (s *scanner) next() (int, int) {
	b := s.b
	for ; s.i < len(b); s.i++ {
		switch b[s.i] {
		case '"':
			j := s.i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				s.i = len(b) // an unterminated string: not JSON
				return -1, -1
			}
			i := s.i
			s.i = j + 1
			if s.depth == 1 && s.wantName {
				s.wantName = false
				return i, j + 1
			}
			s.i-- // the loop's s.i++ steps past the string
		case '{':
			s.depth++
			s.wantName = s.depth == 1
		case '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= 0 {
				s.i = len(b)
				return -1, -1
			}
		case ',':
			s.wantName = s.depth == 1
		}
	}
	return -1, -1
}

// unquote returns the quoted JSON name q unescaped, allocating only if it
// has an escape (then the result is a copy); false if the escape is not
// JSON's.
func unquote(q []byte) ([]byte, bool) {
	k := q[1 : len(q)-1]
	if bytes.IndexByte(k, '\\') < 0 {
		return k, true
	}
	return unescape(q)
}

// unescape returns a copy of the quoted JSON name q unescaped; false if
// an escape is not JSON's. q is copied first: json.Unmarshal keeps what
// it is given from the compiler's view, which would move the caller's
// buffer to the heap.
func unescape(q []byte) ([]byte, bool) {
	var s string
	if json.Unmarshal(bytes.Clone(q), &s) != nil {
		return nil, false
	}
	return []byte(s), true
}

// fieldIndex returns the index in fields of the field the quoted JSON
// name q matches as encoding/json matches it (the exact name, else one
// equal without regard to case), or -1.
func fieldIndex(q []byte, fields []string) int {
	key, ok := unquote(q)
	if !ok {
		return -1
	}
	for k, f := range fields {
		if string(key) == f {
			return k
		}
	}
	for k, f := range fields {
		if bytes.EqualFold(key, []byte(f)) {
			return k
		}
	}
	return -1
}
