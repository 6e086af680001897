package soupbin

import "slices"

// Field widths of the login packets. Alpha fields are left-justified and
// space-padded; numeric fields are ASCII digits, right-justified and
// space-padded.
const (
	usernameLen = 6
	passwordLen = 10
	sessionLen  = 10
	seqLen      = 20

	// LoginRequestLen is the payload length of a Login Request packet.
	LoginRequestLen = usernameLen + passwordLen + sessionLen + seqLen
	// LoginAcceptedLen is the payload length of a Login Accepted packet.
	LoginAcceptedLen = sessionLen + seqLen
	// LoginRejectedLen is the payload length of a Login Rejected packet.
	LoginRejectedLen = 1
)

// Login Rejected reason codes.
const (
	RejectNotAuthorized      byte = 'A' // invalid username or password
	RejectSessionUnavailable byte = 'S' // requested session not available
)

// LoginRequest is the payload of a Login Request packet.
type LoginRequest struct {
	Username string // up to 6 printable ASCII bytes
	Password string // up to 10 printable ASCII bytes
	// Session is the requested session, up to 10 bytes; blank asks for the
	// currently active session.
	Session string
	// Sequence is the sequence number of the first message the client wants,
	// usually 1 or one past the last message it received. Per the spec, 0
	// asks to start with the most recently generated message.
	Sequence uint64
}

// ParseLoginRequest parses the payload of a Login Request packet. It checks
// the payload is LoginRequestLen bytes, that the alpha fields are printable
// ASCII and that the sequence number is numeric, and trims the padding.
func ParseLoginRequest(payload []byte) (LoginRequest, error) {
	const packet = "login request"
	if len(payload) != LoginRequestLen {
		return LoginRequest{}, &LengthError{Packet: packet, Len: len(payload), Want: LoginRequestLen}
	}
	var r LoginRequest
	var err error
	p := payload
	if r.Username, err = parseAlpha(packet, "username", p[:usernameLen]); err != nil {
		return LoginRequest{}, err
	}
	p = p[usernameLen:]
	if r.Password, err = parseAlpha(packet, "password", p[:passwordLen]); err != nil {
		return LoginRequest{}, err
	}
	p = p[passwordLen:]
	if r.Session, err = parseAlpha(packet, "requested session", p[:sessionLen]); err != nil {
		return LoginRequest{}, err
	}
	p = p[sessionLen:]
	if r.Sequence, err = parseNumeric(packet, "requested sequence number", p); err != nil {
		return LoginRequest{}, err
	}
	return r, nil
}

// AppendLoginRequest appends a Login Request packet for r to b. It returns
// a *FieldError if a string field is longer than its width or holds a byte
// that is not printable ASCII.
func AppendLoginRequest(b []byte, r LoginRequest) ([]byte, error) {
	const packet = "login request"
	if err := checkAlpha(packet, "username", r.Username, usernameLen); err != nil {
		return b, err
	}
	if err := checkAlpha(packet, "password", r.Password, passwordLen); err != nil {
		return b, err
	}
	if err := checkAlpha(packet, "requested session", r.Session, sessionLen); err != nil {
		return b, err
	}
	b = slices.Grow(b, headerLen+1+LoginRequestLen)
	b = appendHeader(b, TypeLoginRequest, LoginRequestLen)
	b = appendAlpha(b, r.Username, usernameLen)
	b = appendAlpha(b, r.Password, passwordLen)
	b = appendAlpha(b, r.Session, sessionLen)
	return appendNumeric(b, r.Sequence), nil
}

// ParseLoginAccepted parses the payload of a Login Accepted packet into the
// session name (padding trimmed) and seq, the sequence number of the next
// Sequenced Data packet the server will send.
func ParseLoginAccepted(payload []byte) (session string, seq uint64, err error) {
	const packet = "login accepted"
	if len(payload) != LoginAcceptedLen {
		return "", 0, &LengthError{Packet: packet, Len: len(payload), Want: LoginAcceptedLen}
	}
	if session, err = parseAlpha(packet, "session", payload[:sessionLen]); err != nil {
		return "", 0, err
	}
	if seq, err = parseNumeric(packet, "sequence number", payload[sessionLen:]); err != nil {
		return "", 0, err
	}
	return session, seq, nil
}

// AppendLoginAccepted appends a Login Accepted packet to b. seq is the
// sequence number of the next Sequenced Data packet the server will send.
// The session should pass ValidateSession: a longer one is cut to 10 bytes
// and other bytes are written as given.
func AppendLoginAccepted(b []byte, session string, seq uint64) []byte {
	if len(session) > sessionLen {
		session = session[:sessionLen]
	}
	b = slices.Grow(b, headerLen+1+LoginAcceptedLen)
	b = appendHeader(b, TypeLoginAccepted, LoginAcceptedLen)
	b = appendAlpha(b, session, sessionLen)
	return appendNumeric(b, seq)
}

// ValidateSession reports, as a *FieldError, whether session cannot be
// sent as a session name: longer than 10 bytes or not printable ASCII.
// Servers check their configured session name with it once at start-up.
func ValidateSession(session string) error {
	return checkAlpha("login accepted", "session", session, sessionLen)
}

// ParseLoginRejected parses the payload of a Login Rejected packet and
// returns its reason code. The code is not checked against the two the
// spec defines (RejectNotAuthorized, RejectSessionUnavailable): the login
// has failed either way and the caller logs what it got.
func ParseLoginRejected(payload []byte) (reason byte, err error) {
	if len(payload) != LoginRejectedLen {
		return 0, &LengthError{Packet: "login rejected", Len: len(payload), Want: LoginRejectedLen}
	}
	return payload[0], nil
}

// AppendLoginRejected appends a Login Rejected packet with the given reason
// code to b.
func AppendLoginRejected(b []byte, reason byte) []byte {
	return append(appendHeader(b, TypeLoginRejected, LoginRejectedLen), reason)
}
