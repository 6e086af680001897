package tlcp

import (
	"golang.org/x/crypto/cryptobyte"
)

// The handshake messages of GB/T 38636-2020 6.4.5. Each marshal returns
// the message with its 4-byte header (type, 24-bit length); each
// unmarshal takes the same and reports whether it parsed completely.

// handshakeMessage is any of them.
type handshakeMessage interface {
	marshal() []byte
	unmarshal([]byte) bool
}

// addMessage writes the header of a message of type typ and its body.
func addMessage(typ uint8, body func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddUint8(typ)
	b.AddUint24LengthPrefixed(body)
	return b.BytesOrPanic()
}

// readMessage checks the header of data (type typ, length exact) and
// returns the body.
func readMessage(data []byte, typ uint8) (cryptobyte.String, bool) {
	s := cryptobyte.String(data)
	var t uint8
	var body cryptobyte.String
	if !s.ReadUint8(&t) || t != typ || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, false
	}
	return body, true
}

// The hellos end alike (6.4.5.2.1, 6.4.5.2.2): an optional extension
// block; and the certificate lists alike (6.4.5.3, 6.4.5.5): non-empty
// opaque items, each behind a length, in a list behind a length. These
// helpers are the one encoding and decoding of each shape.

// addExtensions writes the extension block of a hello: nothing when ext
// is nil, else ext behind a 2-byte length.
func addExtensions(b *cryptobyte.Builder, ext []byte) {
	if ext != nil {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ext) })
	}
}

// readExtensions reads the rest of a hello, s, as its extension block:
// nil when s is empty, else one well-formed block (wellFormedExtensions)
// ending s.
func readExtensions(s *cryptobyte.String) ([]byte, bool) {
	if s.Empty() {
		return nil, true
	}
	var ext cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ext) || !s.Empty() || !wellFormedExtensions(ext) {
		return nil, false
	}
	return ext, true
}

// addItems writes items, each behind a length written by prefixed
// ((*cryptobyte.Builder).AddUint24LengthPrefixed or its 16-bit
// sibling).
func addItems(b *cryptobyte.Builder, items [][]byte, prefixed func(*cryptobyte.Builder, cryptobyte.BuilderContinuation)) {
	for _, it := range items {
		prefixed(b, func(b *cryptobyte.Builder) { b.AddBytes(it) })
	}
}

// readItems reads all of list as non-empty items, each behind a length
// read by prefixed ((*cryptobyte.String).ReadUint24LengthPrefixed or its
// 16-bit sibling). It returns the items read so far and false at the
// first that is malformed or empty; nil for an empty list.
func readItems(list cryptobyte.String, prefixed func(*cryptobyte.String, *cryptobyte.String) bool) ([][]byte, bool) {
	var items [][]byte
	for !list.Empty() {
		var it cryptobyte.String
		if !prefixed(&list, &it) || len(it) == 0 {
			return items, false
		}
		items = append(items, it)
	}
	return items, true
}

// clientHelloMsg is ClientHello (6.4.5.2.1). Extensions are kept raw: no
// extension changes what this implementation does.
type clientHelloMsg struct {
	vers         uint16
	random       []byte
	sessionID    []byte
	cipherSuites []uint16
	compression  []uint8
	extensions   []byte // nil: none
}

func (m *clientHelloMsg) marshal() []byte {
	return addMessage(typeClientHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			for _, s := range m.cipherSuites {
				b.AddUint16(s)
			}
		})
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.compression) })
		addExtensions(b, m.extensions)
	})
}

func (m *clientHelloMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeClientHello)
	if !ok {
		return false
	}
	var sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&m.vers) || !s.ReadBytes(&m.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16LengthPrefixed(&suites) || len(suites) == 0 || len(suites)%2 != 0 ||
		!s.ReadUint8LengthPrefixed(&comp) || len(comp) == 0 {
		return false
	}
	m.sessionID = sid
	m.cipherSuites = m.cipherSuites[:0]
	for !suites.Empty() {
		var id uint16
		suites.ReadUint16(&id)
		m.cipherSuites = append(m.cipherSuites, id)
	}
	m.compression = comp
	m.extensions, ok = readExtensions(&s)
	return ok
}

// wellFormedExtensions checks that ext is a list of (type, opaque<0..2^16-1>).
func wellFormedExtensions(ext cryptobyte.String) bool {
	for !ext.Empty() {
		var typ uint16
		var body cryptobyte.String
		if !ext.ReadUint16(&typ) || !ext.ReadUint16LengthPrefixed(&body) {
			return false
		}
	}
	return true
}

// serverHelloMsg is ServerHello (6.4.5.2.2).
type serverHelloMsg struct {
	vers        uint16
	random      []byte
	sessionID   []byte
	cipherSuite uint16
	compression uint8
	extensions  []byte
}

func (m *serverHelloMsg) marshal() []byte {
	return addMessage(typeServerHello, func(b *cryptobyte.Builder) {
		b.AddUint16(m.vers)
		b.AddBytes(m.random)
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.sessionID) })
		b.AddUint16(m.cipherSuite)
		b.AddUint8(m.compression)
		addExtensions(b, m.extensions)
	})
}

func (m *serverHelloMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeServerHello)
	if !ok {
		return false
	}
	var sid cryptobyte.String
	if !s.ReadUint16(&m.vers) || !s.ReadBytes(&m.random, 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!s.ReadUint16(&m.cipherSuite) || !s.ReadUint8(&m.compression) {
		return false
	}
	m.sessionID = sid
	m.extensions, ok = readExtensions(&s)
	return ok
}

// certificateMsg is Certificate (6.4.5.3): a server's signature
// certificate, then its encryption certificate, then intermediates; a
// client's the same, or none.
type certificateMsg struct {
	certificates [][]byte
}

func (m *certificateMsg) marshal() []byte {
	return addMessage(typeCertificate, func(b *cryptobyte.Builder) {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
			addItems(b, m.certificates, (*cryptobyte.Builder).AddUint24LengthPrefixed)
		})
	})
}

func (m *certificateMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeCertificate)
	var list cryptobyte.String
	if !ok || !s.ReadUint24LengthPrefixed(&list) || !s.Empty() {
		return false
	}
	m.certificates, ok = readItems(list, (*cryptobyte.String).ReadUint24LengthPrefixed)
	return ok
}

// serverKeyExchangeMsg is ServerKeyExchange (6.4.5.4), kept raw: its
// layout depends on the suite (see key_agreement.go).
type serverKeyExchangeMsg struct {
	key []byte
}

func (m *serverKeyExchangeMsg) marshal() []byte {
	return addMessage(typeServerKeyExchange, func(b *cryptobyte.Builder) { b.AddBytes(m.key) })
}

func (m *serverKeyExchangeMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeServerKeyExchange)
	m.key = s
	return ok
}

// certificateRequestMsg is CertificateRequest (6.4.5.5): certificate
// types and the distinguished names of acceptable CAs. TLCP has no
// signature algorithm list.
type certificateRequestMsg struct {
	certificateTypes       []byte
	certificateAuthorities [][]byte
}

func (m *certificateRequestMsg) marshal() []byte {
	return addMessage(typeCertificateRequest, func(b *cryptobyte.Builder) {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.certificateTypes) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			addItems(b, m.certificateAuthorities, (*cryptobyte.Builder).AddUint16LengthPrefixed)
		})
	})
}

func (m *certificateRequestMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeCertificateRequest)
	var types, cas cryptobyte.String
	if !ok || !s.ReadUint8LengthPrefixed(&types) || len(types) == 0 ||
		!s.ReadUint16LengthPrefixed(&cas) || !s.Empty() {
		return false
	}
	m.certificateTypes = types
	m.certificateAuthorities, ok = readItems(cas, (*cryptobyte.String).ReadUint16LengthPrefixed)
	return ok
}

// serverHelloDoneMsg is ServerHelloDone (6.4.5.6), empty.
type serverHelloDoneMsg struct{}

func (m *serverHelloDoneMsg) marshal() []byte {
	return addMessage(typeServerHelloDone, func(*cryptobyte.Builder) {})
}

func (m *serverHelloDoneMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeServerHelloDone)
	return ok && s.Empty()
}

// clientKeyExchangeMsg is ClientKeyExchange (6.4.5.8), kept raw: its
// layout depends on the suite (see key_agreement.go).
type clientKeyExchangeMsg struct {
	body []byte
}

func (m *clientKeyExchangeMsg) marshal() []byte {
	return addMessage(typeClientKeyExchange, func(b *cryptobyte.Builder) { b.AddBytes(m.body) })
}

func (m *clientKeyExchangeMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeClientKeyExchange)
	m.body = s
	return ok && len(s) > 0
}

// certificateVerifyMsg is CertificateVerify (6.4.5.9): an SM2 signature
// (ASN.1, GM/T 0009) over the handshake messages, in one of the forms of
// CertificateVerifyForm.
type certificateVerifyMsg struct {
	signature []byte
}

func (m *certificateVerifyMsg) marshal() []byte {
	return addMessage(typeCertificateVerify, func(b *cryptobyte.Builder) {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(m.signature) })
	})
}

func (m *certificateVerifyMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeCertificateVerify)
	var sig cryptobyte.String
	if !ok || !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() || len(sig) == 0 {
		return false
	}
	m.signature = sig
	return true
}

// finishedMsg is Finished (6.4.5.10): 12 bytes of verify_data.
type finishedMsg struct {
	verifyData []byte
}

func (m *finishedMsg) marshal() []byte {
	return addMessage(typeFinished, func(b *cryptobyte.Builder) { b.AddBytes(m.verifyData) })
}

func (m *finishedMsg) unmarshal(data []byte) bool {
	s, ok := readMessage(data, typeFinished)
	if !ok || len(s) != finishedLen {
		return false
	}
	m.verifyData = s
	return true
}
