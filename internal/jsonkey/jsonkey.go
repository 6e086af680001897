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
	found := ""
	eachName(b, func(q []byte) bool {
		k := fieldIndex(q, fields)
		switch {
		case k < 0 && strict:
			found = string(q[1:min(len(q)-1, 33)])
			return false
		case k < 0:
		case seen&(1<<k) != 0:
			found = fields[k]
			return false
		default:
			seen |= 1 << k
		}
		return true
	})
	return found
}

// Repeated returns a top-level name of the JSON object b that an earlier
// name equals, exactly or without regard to case (as encoding/json
// matches names to fields), unescaped; or "" if none. b must be one valid
// JSON object; if it is not, the answer means nothing, but Repeated does
// not fail. It compares each name with every earlier one: the callers'
// objects have a few names, and at most a few hundred.
func Repeated(b []byte) string {
	var arr [32][]byte
	names := arr[:0]
	var found []byte
	eachName(b, func(q []byte) bool {
		k, ok := unquote(q)
		if !ok {
			return true
		}
		for _, n := range names {
			if bytes.EqualFold(n, k) {
				found = k
				return false
			}
		}
		names = append(names, k)
		return true
	})
	return string(found)
}

// eachName calls fn with each top-level name of the JSON object b, quoted
// as b has it, until fn returns false. It reads b once, skipping strings
// and nested values, and stops at the object's end or b's.
func eachName(b []byte, fn func(q []byte) bool) {
	depth, wantName := 0, false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return // an unterminated string: not JSON
			}
			if depth == 1 && wantName {
				wantName = false
				if !fn(b[i : j+1]) {
					return
				}
			}
			i = j
		case '{':
			depth++
			wantName = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return
			}
		case ',':
			wantName = depth == 1
		}
	}
}

// unquote returns the quoted JSON name q unescaped, allocating only if it
// has an escape; false if the escape is not JSON's.
func unquote(q []byte) ([]byte, bool) {
	k := q[1 : len(q)-1]
	if bytes.IndexByte(k, '\\') < 0 {
		return k, true
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
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
