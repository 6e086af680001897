package tlcp

import (
	"bytes"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/smx509"
)

// clientHandshakeState is the client's side of one handshake (GB/T
// 38636-2020 6.4.4).
type clientHandshakeState struct {
	c           *Conn
	hello       *clientHelloMsg
	serverHello *serverHelloMsg
	suite       *cipherSuite
	session     *session // offered for resumption
	transcript  bytes.Buffer
	master      []byte
	peerCerts   []*smx509.Certificate
	serverEph   *ecdh.PublicKey
}

// clientHandshake runs the client handshake. c.in is held.
func (c *Conn) clientHandshake() error {
	cfg := c.config
	if cfg.RootCAs == nil {
		return fmt.Errorf("%w: a client needs RootCAs", ErrConfig)
	}
	hs := &clientHandshakeState{c: c}
	suites := cfg.CipherSuites
	if len(suites) == 0 {
		suites = defaultSuites
	}
	hs.hello = &clientHelloMsg{
		vers:        VersionTLCP,
		random:      make([]byte, 32),
		compression: []byte{0},
	}
	for _, id := range suites {
		if suiteByID(id) != nil {
			hs.hello.cipherSuites = append(hs.hello.cipherSuites, id)
		}
	}
	if len(hs.hello.cipherSuites) == 0 {
		return fmt.Errorf("%w: no supported cipher suite configured", ErrConfig)
	}
	t := uint32(cfg.now().Unix())
	hs.hello.random[0], hs.hello.random[1], hs.hello.random[2], hs.hello.random[3] = byte(t>>24), byte(t>>16), byte(t>>8), byte(t)
	if _, err := io.ReadFull(cfg.rand(), hs.hello.random[4:]); err != nil {
		return fmt.Errorf("tlcp: client random: %w", err)
	}
	if cfg.SessionCache != nil {
		if s := cfg.SessionCache.get(c.sessionKey, cfg.now()); s != nil && offers(hs.hello.cipherSuites, s.suite) {
			hs.session = s
			hs.hello.sessionID = s.id
		}
	}
	ch := hs.hello.marshal()
	hs.transcript.Write(ch)
	if err := c.writeHandshake(ch); err != nil {
		return err
	}
	if err := c.flushHandshake(); err != nil {
		return err
	}
	if err := hs.readServerHello(); err != nil {
		return err
	}
	if hs.session != nil && bytes.Equal(hs.serverHello.sessionID, hs.session.id) {
		return hs.resume()
	}
	if hs.session != nil {
		cfg.SessionCache.remove(c.sessionKey)
		hs.session = nil
	}
	return hs.full()
}

// readServerHello reads ServerHello (6.4.5.2.2).
func (hs *clientHandshakeState) readServerHello() error {
	msg, err := hs.c.readHandshake()
	if err != nil {
		return err
	}
	hs.serverHello = new(serverHelloMsg)
	if !hs.serverHello.unmarshal(msg) {
		return unexpectedOrMalformed(msg, typeServerHello, "ServerHello")
	}
	hs.transcript.Write(msg)
	if hs.serverHello.vers != VersionTLCP {
		return fail(AlertProtocolVersion, "server chose version 0x%04x, want 0x0101", hs.serverHello.vers)
	}
	if hs.serverHello.compression != 0 {
		return fail(AlertIllegalParameter, "server chose compression %d", hs.serverHello.compression)
	}
	if !offers(hs.hello.cipherSuites, hs.serverHello.cipherSuite) {
		return fail(AlertIllegalParameter, "server chose cipher suite %s, not offered", CipherSuiteName(hs.serverHello.cipherSuite))
	}
	hs.suite = suiteByID(hs.serverHello.cipherSuite)
	return nil
}

// resume completes an abbreviated handshake: the server's
// ChangeCipherSpec and Finished, then ours.
func (hs *clientHandshakeState) resume() error {
	c := hs.c
	if hs.session.suite != hs.suite.id {
		return fail(AlertIllegalParameter, "server resumed the session with another cipher suite")
	}
	hs.master = hs.session.master
	hs.peerCerts = hs.session.peerCerts
	if err := establishKeys(c, hs.suite, hs.master, hs.hello.random, hs.serverHello.random); err != nil {
		return err
	}
	if err := readFinished(c, hs.master, labelServerFinished, &hs.transcript); err != nil {
		return err
	}
	if err := sendFinished(c, hs.master, labelClientFinished, &hs.transcript); err != nil {
		return err
	}
	if err := c.flushHandshake(); err != nil {
		return err
	}
	hs.done(true)
	return nil
}

// full completes a full handshake.
func (hs *clientHandshakeState) full() error {
	c := hs.c
	cfg := c.config

	// The server's Certificate (6.4.5.3).
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	var cm certificateMsg
	if !cm.unmarshal(msg) {
		return unexpectedOrMalformed(msg, typeCertificate, "server Certificate")
	}
	hs.transcript.Write(msg)
	if err := hs.verifyServerCertificates(cm.certificates); err != nil {
		return err
	}

	// ServerKeyExchange (6.4.5.4).
	if msg, err = c.readHandshake(); err != nil {
		return err
	}
	var skx serverKeyExchangeMsg
	if !skx.unmarshal(msg) {
		return unexpectedOrMalformed(msg, typeServerKeyExchange, "ServerKeyExchange")
	}
	hs.transcript.Write(msg)
	signPub, encPub := hs.peerCerts[0].PublicKey, hs.peerCerts[1].PublicKey
	if hs.suite.ecdhe {
		hs.serverEph, err = ecdheVerifyServerKeyExchange(signPub, skx.key, hs.hello.random, hs.serverHello.random)
	} else {
		err = eccVerifyServerKeyExchange(signPub, skx.key, hs.hello.random, hs.serverHello.random, hs.peerCerts[1].Raw)
	}
	if err != nil {
		return err
	}

	// CertificateRequest (6.4.5.5), then ServerHelloDone (6.4.5.6).
	if msg, err = c.readHandshake(); err != nil {
		return err
	}
	certRequested := false
	if len(msg) > 0 && msg[0] == typeCertificateRequest {
		var req certificateRequestMsg
		if !req.unmarshal(msg) {
			return fail(AlertDecodeError, "malformed CertificateRequest")
		}
		hs.transcript.Write(msg)
		certRequested = true
		if msg, err = c.readHandshake(); err != nil {
			return err
		}
	}
	var done serverHelloDoneMsg
	if !done.unmarshal(msg) {
		return unexpectedOrMalformed(msg, typeServerHelloDone, "ServerHelloDone")
	}
	hs.transcript.Write(msg)

	sign, enc, err := cfg.certificates()
	if err != nil {
		return fmt.Errorf("tlcp: client certificates: %w", err)
	}
	haveCerts := sign != nil && enc != nil
	if hs.suite.ecdhe && (!certRequested || !haveCerts) {
		return fail(AlertHandshakeFailure, "ECDHE needs the client's certificates (server asked: %t, configured: %t)", certRequested, haveCerts)
	}

	var out [][]byte
	if certRequested {
		// The client's Certificate (6.4.5.7): empty when it has none,
		// which a server requiring one refuses.
		// ECC suites need only the signature certificate's chain
		// (GmSSL reads the list as one chain then); ECDHE the
		// encryption certificate second.
		var cm certificateMsg
		if haveCerts {
			cm.certificates = [][]byte{sign.Certificate[0]}
			if hs.suite.ecdhe {
				cm.certificates = append(cm.certificates, enc.Certificate[0])
			}
			cm.certificates = append(cm.certificates, sign.Certificate[1:]...)
		}
		out = append(out, cm.marshal())
	}

	// ClientKeyExchange (6.4.5.8).
	var preMaster, body []byte
	if hs.suite.ecdhe {
		preMaster, body, err = ecdheClientKeyExchange(cfg.rand(), enc.PrivateKey, encPub, hs.serverEph)
	} else {
		preMaster, body, err = eccClientKeyExchange(cfg.rand(), encPub)
	}
	if err != nil {
		return err
	}
	out = append(out, (&clientKeyExchangeMsg{body: body}).marshal())
	for _, m := range out {
		hs.transcript.Write(m)
	}

	if certRequested && haveCerts {
		// CertificateVerify (6.4.5.9), in the configured form.
		sig, err := signCertificateVerify(cfg.rand(), sign.PrivateKey, cfg.CertificateVerify, hs.transcript.Bytes())
		if err != nil {
			return err
		}
		cv := (&certificateVerifyMsg{signature: sig}).marshal()
		hs.transcript.Write(cv)
		out = append(out, cv)
	}
	if err := c.writeHandshake(out...); err != nil {
		return err
	}

	hs.master = masterSecret(preMaster, hs.hello.random, hs.serverHello.random)
	if err := establishKeys(c, hs.suite, hs.master, hs.hello.random, hs.serverHello.random); err != nil {
		return err
	}
	if err := sendFinished(c, hs.master, labelClientFinished, &hs.transcript); err != nil {
		return err
	}
	if err := c.flushHandshake(); err != nil {
		return err
	}
	if err := readFinished(c, hs.master, labelServerFinished, &hs.transcript); err != nil {
		return err
	}
	if cfg.SessionCache != nil && len(hs.serverHello.sessionID) > 0 {
		cfg.SessionCache.put(c.sessionKey, &session{
			id: hs.serverHello.sessionID, suite: hs.suite.id, master: hs.master, peerCerts: hs.peerCerts, created: cfg.now(),
		})
	}
	hs.done(false)
	return nil
}

// verifyServerCertificates checks the server's signature and encryption
// certificates against RootCAs, and the name in the signature
// certificate (6.4.5.3).
func (hs *clientHandshakeState) verifyServerCertificates(raw [][]byte) error {
	cfg := hs.c.config
	if len(raw) < 2 {
		return fail(AlertBadCertificate, "server sent %d certificates, want signature and encryption certificates", len(raw))
	}
	certs, err := parseCertificates(raw)
	if err != nil {
		return err
	}
	opts := smx509.VerifyOptions{
		Roots:         cfg.RootCAs,
		Intermediates: smx509.NewCertPool(),
		CurrentTime:   cfg.now(),
	}
	for _, ic := range certs[2:] {
		opts.Intermediates.AddCert(ic)
	}
	// The signature certificate authenticates the server: it must be one
	// for server authentication (an extended key usage that names it,
	// or none), as crypto/tls asks of a TLS server. Before, any usage
	// was accepted, so a client certificate of the same CA (another
	// member's, for the same venue) carrying the server's name passed
	// for the server. The encryption certificate is the server's
	// choice, vouched for by the signature certificate's key in
	// ServerKeyExchange: its chain is checked, not its usage.
	usages := [][]smx509.ExtKeyUsage{{smx509.ExtKeyUsageServerAuth}, {smx509.ExtKeyUsageAny}}
	for i, name := range []string{"signature", "encryption"} {
		opts.KeyUsages = usages[i]
		if _, err := certs[i].Verify(opts); err != nil {
			return fail(AlertBadCertificate, "server %s certificate: %w", name, err)
		}
	}
	if cfg.ServerName != "" {
		if err := certs[0].VerifyHostname(cfg.ServerName); err != nil {
			return fail(AlertBadCertificate, "server signature certificate: %w", err)
		}
	}
	hs.peerCerts = certs
	return nil
}

// done records the agreed state.
func (hs *clientHandshakeState) done(resumed bool) {
	hs.c.state = ConnectionState{
		Version:          VersionTLCP,
		DidResume:        resumed,
		CipherSuite:      hs.suite.id,
		PeerCertificates: hs.peerCerts,
	}
}
