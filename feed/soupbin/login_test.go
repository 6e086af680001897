package soupbin_test

import (
	"errors"
	"strings"
	"testing"

	"sgw/feed/soupbin"
)

// payloadOf returns the payload of the single packet in wire.
func payloadOf(tb testing.TB, wire []byte) []byte {
	tb.Helper()
	p, n, err := soupbin.Parse(wire, 0)
	if err != nil || n != len(wire) {
		tb.Fatalf("Parse: n = %d of %d, err = %v", n, len(wire), err)
	}
	return p.Payload
}

func TestLoginRequestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		req  soupbin.LoginRequest
	}{
		{name: "typical", req: soupbin.LoginRequest{Username: "gw01", Password: "secret", Session: "20250101A", Sequence: 1}},
		{name: "full width", req: soupbin.LoginRequest{Username: "ABCDEF", Password: "0123456789", Session: "SESSION-10",
			Sequence: 18446744073709551615}},
		{name: "blank session from most recent", req: soupbin.LoginRequest{Username: "u", Password: "p"}},
		{name: "inner spaces kept", req: soupbin.LoginRequest{Username: "a b", Password: " x", Session: "s s", Sequence: 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := soupbin.AppendLoginRequest(nil, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) != 2+1+soupbin.LoginRequestLen {
				t.Fatalf("packet is %d bytes, want %d", len(wire), 3+soupbin.LoginRequestLen)
			}
			got, err := soupbin.ParseLoginRequest(payloadOf(t, wire))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.req {
				t.Errorf("got %+v, want %+v", got, tt.req)
			}
		})
	}
}

func TestParseLoginRequestLayout(t *testing.T) {
	// Assembled by hand from the spec layout: username 6, password 10,
	// requested session 10, requested sequence number 20.
	payload := []byte("trader" + "pass      " + "ABC       " + "                1234")
	got, err := soupbin.ParseLoginRequest(payload)
	if err != nil {
		t.Fatal(err)
	}
	want := soupbin.LoginRequest{Username: "trader", Password: "pass", Session: "ABC", Sequence: 1234}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseLoginRequestErrors(t *testing.T) {
	valid := "trader" + "pass      " + "ABC       "
	tests := []struct {
		name    string
		payload string
		want    error
		wantMsg string
	}{
		{name: "short", payload: valid + "1", want: soupbin.ErrLength,
			wantMsg: "soupbin: login request: payload length 27, want 46"},
		{name: "long", payload: valid + strings.Repeat(" ", 19) + "12", want: soupbin.ErrLength},
		{name: "letters in sequence", payload: valid + strings.Repeat(" ", 17) + "12a", want: soupbin.ErrBadField,
			wantMsg: `soupbin: login request: requested sequence number "12a" not numeric`},
		{name: "blank sequence", payload: valid + strings.Repeat(" ", 20), want: soupbin.ErrBadField},
		{name: "space inside sequence", payload: valid + strings.Repeat(" ", 17) + "1 2", want: soupbin.ErrBadField},
		{name: "sign in sequence", payload: valid + strings.Repeat(" ", 18) + "-1", want: soupbin.ErrBadField},
		{name: "sequence overflows uint64", payload: valid + "18446744073709551616", want: soupbin.ErrBadField,
			wantMsg: `soupbin: login request: requested sequence number "18446744073709551616" out of range`},
		{name: "control byte in username", payload: "trad\x00r" + valid[6:] + strings.Repeat(" ", 19) + "1",
			want: soupbin.ErrBadField, wantMsg: `soupbin: login request: username "trad\x00r" not printable ASCII`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := soupbin.ParseLoginRequest([]byte(tt.payload))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestParseNumericPadding(t *testing.T) {
	tests := []struct {
		name  string
		field string
		want  uint64
	}{
		{name: "right-justified", field: strings.Repeat(" ", 19) + "7", want: 7},
		{name: "left-justified", field: "7" + strings.Repeat(" ", 19), want: 7},
		{name: "zero-filled", field: strings.Repeat("0", 19) + "7", want: 7},
		{name: "zero", field: strings.Repeat(" ", 19) + "0", want: 0},
		{name: "max uint64", field: "18446744073709551615", want: 18446744073709551615},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, seq, err := soupbin.ParseLoginAccepted([]byte("S         " + tt.field))
			if err != nil {
				t.Fatal(err)
			}
			if seq != tt.want {
				t.Errorf("seq %d, want %d", seq, tt.want)
			}
		})
	}
}

func TestAppendLoginRequestErrors(t *testing.T) {
	tests := []struct {
		name    string
		req     soupbin.LoginRequest
		wantMsg string
	}{
		{name: "username too long", req: soupbin.LoginRequest{Username: "trader1"},
			wantMsg: `soupbin: login request: username "trader1" longer than 6 bytes`},
		{name: "password too long", req: soupbin.LoginRequest{Password: "0123456789X"},
			wantMsg: `soupbin: login request: password "0123456789X" longer than 10 bytes`},
		{name: "session too long", req: soupbin.LoginRequest{Session: "0123456789X"},
			wantMsg: `soupbin: login request: requested session "0123456789X" longer than 10 bytes`},
		{name: "non-ASCII password", req: soupbin.LoginRequest{Password: "pässwort"},
			wantMsg: `soupbin: login request: password "pässwort" not printable ASCII`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			b, err := soupbin.AppendLoginRequest(prefix, tt.req)
			if !errors.Is(err, soupbin.ErrBadField) {
				t.Fatalf("err = %v, want ErrBadField", err)
			}
			var fe *soupbin.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err is %T, want *FieldError", err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if string(b) != "keep" {
				t.Errorf("buffer changed to %q on error", b)
			}
		})
	}
}

func TestLoginAccepted(t *testing.T) {
	tests := []struct {
		name        string
		session     string
		seq         uint64
		wantPayload string
		wantSession string
	}{
		{name: "first message", session: "SESS01", seq: 1, wantPayload: "SESS01    " + strings.Repeat(" ", 19) + "1",
			wantSession: "SESS01"},
		{name: "blank session", session: "", seq: 500, wantPayload: strings.Repeat(" ", 10) + strings.Repeat(" ", 17) + "500"},
		{name: "max sequence", session: "0123456789", seq: 18446744073709551615,
			wantPayload: "0123456789" + "18446744073709551615", wantSession: "0123456789"},
		{name: "long session cut", session: "0123456789AB", seq: 3,
			wantPayload: "0123456789" + strings.Repeat(" ", 19) + "3", wantSession: "0123456789"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := payloadOf(t, soupbin.AppendLoginAccepted(nil, tt.session, tt.seq))
			if string(payload) != tt.wantPayload {
				t.Fatalf("payload %q, want %q", payload, tt.wantPayload)
			}
			session, seq, err := soupbin.ParseLoginAccepted(payload)
			if err != nil {
				t.Fatal(err)
			}
			if session != tt.wantSession || seq != tt.seq {
				t.Errorf("got (%q, %d), want (%q, %d)", session, seq, tt.wantSession, tt.seq)
			}
		})
	}
}

func TestParseLoginAcceptedErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    error
		wantMsg string
	}{
		{name: "short", payload: "S", want: soupbin.ErrLength, wantMsg: "soupbin: login accepted: payload length 1, want 30"},
		{name: "letters in sequence", payload: "S         " + strings.Repeat(" ", 17) + "12a", want: soupbin.ErrBadField,
			wantMsg: `soupbin: login accepted: sequence number "12a" not numeric`},
		{name: "control byte in session", payload: "S\x7f        " + strings.Repeat(" ", 19) + "1", want: soupbin.ErrBadField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := soupbin.ParseLoginAccepted([]byte(tt.payload))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestValidateSession(t *testing.T) {
	tests := []struct {
		name    string
		session string
		wantErr bool
	}{
		{name: "ok", session: "SESSION01"},
		{name: "blank", session: ""},
		{name: "too long", session: "SESSION0123", wantErr: true},
		{name: "tab", session: "S\tS", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := soupbin.ValidateSession(tt.session)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, soupbin.ErrBadField) {
				t.Errorf("err = %v, want ErrBadField", err)
			}
		})
	}
}

func TestLoginRejected(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    byte
		wantErr error
	}{
		{name: "not authorized", payload: payloadOf(t, soupbin.AppendLoginRejected(nil, soupbin.RejectNotAuthorized)), want: 'A'},
		{name: "session unavailable", payload: payloadOf(t, soupbin.AppendLoginRejected(nil, soupbin.RejectSessionUnavailable)),
			want: 'S'},
		{name: "unlisted code passed through", payload: []byte("Q"), want: 'Q'},
		{name: "empty", payload: nil, wantErr: soupbin.ErrLength},
		{name: "two bytes", payload: []byte("AS"), wantErr: soupbin.ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := soupbin.ParseLoginRejected(tt.payload)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("reason %q, want %q", got, tt.want)
			}
		})
	}
}
