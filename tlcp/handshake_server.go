package tlcp

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/smx509"
)

// serverHandshakeState is the server's side of one handshake (GB/T
// 38636-2020 6.4.4, figures 2 and 3).
type serverHandshakeState struct {
	c           *Conn
	hello       *clientHelloMsg
	serverHello *serverHelloMsg
	suite       *cipherSuite
	sign, enc   *Certificate
	transcript  bytes.Buffer
	master      []byte
	session     *session // resumed
	peerCerts   []*smx509.Certificate
	ephemeral   *ecdh.PrivateKey
	certVerify  CertificateVerifyForm // the form of the client's CertificateVerify; zero: none
}

// serverHandshake runs the server handshake. c.in is held.
func (c *Conn) serverHandshake() error {
	hs := &serverHandshakeState{c: c}
	if err := hs.readClientHello(); err != nil {
		return err
	}
	if hs.session != nil {
		return hs.resume()
	}
	return hs.full()
}

// readClientHello reads ClientHello (6.4.5.2.1), picks the suite and
// looks up the session to resume.
func (hs *serverHandshakeState) readClientHello() error {
	c := hs.c
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	hs.hello = new(clientHelloMsg)
	if !hs.hello.unmarshal(msg) {
		if len(msg) > 0 && msg[0] != typeClientHello {
			return fail(AlertUnexpectedMessage, "want ClientHello, got handshake message type %d", msg[0])
		}
		return fail(AlertDecodeError, "malformed ClientHello")
	}
	hs.transcript.Write(msg)
	if hs.hello.vers != VersionTLCP {
		return fail(AlertProtocolVersion, "client offers version 0x%04x, want 0x0101", hs.hello.vers)
	}
	if !bytes.Contains(hs.hello.compression, []byte{0}) {
		return fail(AlertHandshakeFailure, "client offers no null compression")
	}

	cfg := c.config
	hs.sign, hs.enc, err = cfg.certificates()
	if err != nil {
		return fail(AlertInternalError, "certificates: %w", err)
	}
	if hs.sign == nil || hs.enc == nil || hs.sign.PrivateKey == nil || hs.enc.PrivateKey == nil {
		return fail(AlertInternalError, "server has no signature and encryption key pair")
	}

	if cfg.SessionCache != nil && len(hs.hello.sessionID) > 0 {
		// A session whose client certificate has expired since is not
		// resumed: the full handshake checks the certificate again.
		now := cfg.now()
		if s := cfg.SessionCache.get(string(hs.hello.sessionID), now); s != nil && offers(hs.hello.cipherSuites, s.suite) &&
			(cfg.ClientAuth == NoClientCert || len(s.peerCerts) > 0 && !now.After(s.peerCerts[0].NotAfter)) {
			hs.session = s
			hs.suite = suiteByID(s.suite)
			return nil
		}
	}

	suites := cfg.CipherSuites
	if len(suites) == 0 {
		suites = defaultSuites
	}
	for _, id := range suites {
		s := suiteByID(id)
		if s == nil || !offers(hs.hello.cipherSuites, id) {
			continue
		}
		// The SM2 key exchange needs the client's encryption
		// certificate (6.4.5.8): ECDHE only with client certificates.
		if s.ecdhe && cfg.ClientAuth == NoClientCert {
			continue
		}
		hs.suite = s
		break
	}
	if hs.suite == nil {
		return fail(AlertHandshakeFailure, "no cipher suite in common (client offers %s)", suiteList(hs.hello.cipherSuites))
	}
	return nil
}

func offers(list []uint16, id uint16) bool {
	for _, s := range list {
		if s == id {
			return true
		}
	}
	return false
}

func suiteList(ids []uint16) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(CipherSuiteName(id))
	}
	return b.String()
}

// newServerHello fills the ServerHello (6.4.5.2.2).
func (hs *serverHandshakeState) newServerHello(sessionID []byte) error {
	hs.serverHello = &serverHelloMsg{
		vers:        VersionTLCP,
		random:      make([]byte, 32),
		sessionID:   sessionID,
		cipherSuite: hs.suite.id,
	}
	// The first 4 bytes of a random are gmt_unix_time (6.4.5.2.1).
	t := uint32(hs.c.config.now().Unix())
	hs.serverHello.random[0], hs.serverHello.random[1], hs.serverHello.random[2], hs.serverHello.random[3] = byte(t>>24), byte(t>>16), byte(t>>8), byte(t)
	if _, err := io.ReadFull(hs.c.config.rand(), hs.serverHello.random[4:]); err != nil {
		return fmt.Errorf("tlcp: server random: %w", err)
	}
	return nil
}

// resume runs the abbreviated handshake (6.4.4, figure 3): ServerHello,
// ChangeCipherSpec, Finished; then the client's.
func (hs *serverHandshakeState) resume() error {
	c := hs.c
	if err := hs.newServerHello(hs.hello.sessionID); err != nil {
		return err
	}
	hs.master = hs.session.master
	hs.peerCerts = hs.session.peerCerts
	sh := hs.serverHello.marshal()
	hs.transcript.Write(sh)
	if err := c.writeHandshake(sh); err != nil {
		return err
	}
	if err := hs.establishKeys(); err != nil {
		return err
	}
	if err := hs.sendFinished(); err != nil {
		return err
	}
	if err := c.flushHandshake(); err != nil {
		return err
	}
	if err := hs.readFinished(); err != nil {
		return err
	}
	hs.done(true)
	return nil
}

// full runs the full handshake (6.4.4, figure 2).
func (hs *serverHandshakeState) full() error {
	c := hs.c
	cfg := c.config
	var sessionID []byte
	if cfg.SessionCache != nil {
		sessionID = make([]byte, 32)
		if _, err := io.ReadFull(cfg.rand(), sessionID); err != nil {
			return fmt.Errorf("tlcp: session ID: %w", err)
		}
	}
	if err := hs.newServerHello(sessionID); err != nil {
		return err
	}

	// Certificate (6.4.5.3): signature certificate, encryption
	// certificate, then the chain of the signature certificate.
	certMsg := &certificateMsg{certificates: [][]byte{hs.sign.Certificate[0], hs.enc.Certificate[0]}}
	certMsg.certificates = append(certMsg.certificates, hs.sign.Certificate[1:]...)

	// ServerKeyExchange (6.4.5.4).
	var skx []byte
	var err error
	if hs.suite.ecdhe {
		hs.ephemeral, skx, err = ecdheServerKeyExchange(cfg.rand(), hs.sign.PrivateKey, hs.hello.random, hs.serverHello.random)
	} else {
		skx, err = eccServerKeyExchange(cfg.rand(), hs.sign.PrivateKey, hs.hello.random, hs.serverHello.random, hs.enc.Certificate[0])
	}
	if err != nil {
		return fail(AlertInternalError, "ServerKeyExchange: %w", err)
	}

	msgs := [][]byte{hs.serverHello.marshal(), certMsg.marshal(), (&serverKeyExchangeMsg{key: skx}).marshal()}
	if cfg.ClientAuth != NoClientCert {
		// CertificateRequest (6.4.5.5).
		req := &certificateRequestMsg{certificateTypes: []byte{certTypeECDSASign}}
		if cfg.ClientCAs != nil {
			req.certificateAuthorities = cfg.ClientCAs.Subjects() //nolint:staticcheck // the DNs of the CAs, as the message wants
		}
		msgs = append(msgs, req.marshal())
	}
	msgs = append(msgs, (&serverHelloDoneMsg{}).marshal())
	for _, m := range msgs {
		hs.transcript.Write(m)
	}
	if err := c.writeHandshake(msgs...); err != nil {
		return err
	}
	if err := c.flushHandshake(); err != nil {
		return err
	}

	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	if cfg.ClientAuth != NoClientCert {
		// The client's Certificate (6.4.5.7).
		var cm certificateMsg
		if !cm.unmarshal(msg) {
			return unexpectedOrMalformed(msg, typeCertificate, "client Certificate")
		}
		hs.transcript.Write(msg)
		if err := hs.verifyClientCertificates(cm.certificates); err != nil {
			return err
		}
		if msg, err = c.readHandshake(); err != nil {
			return err
		}
	}

	// ClientKeyExchange (6.4.5.8).
	var ckx clientKeyExchangeMsg
	if !ckx.unmarshal(msg) {
		return unexpectedOrMalformed(msg, typeClientKeyExchange, "ClientKeyExchange")
	}
	hs.transcript.Write(msg)
	var preMaster []byte
	if hs.suite.ecdhe {
		preMaster, err = ecdhePreMaster(hs.enc.PrivateKey, hs.ephemeral, hs.peerCerts[1].PublicKey, ckx.body)
	} else {
		preMaster, err = eccDecryptPreMaster(cfg.rand(), hs.enc.PrivateKey, ckx.body)
	}
	if err != nil {
		return err
	}
	hs.master = masterSecret(preMaster, hs.hello.random, hs.serverHello.random)

	if len(hs.peerCerts) > 0 {
		// CertificateVerify (6.4.5.9): the client's signature over the
		// hash of the messages so far.
		msg, err := c.readHandshake()
		if err != nil {
			return err
		}
		var cv certificateVerifyMsg
		if !cv.unmarshal(msg) {
			return unexpectedOrMalformed(msg, typeCertificateVerify, "CertificateVerify")
		}
		// Either form (GB/T 38636's SM3 hash, or GmSSL's raw
		// messages): see CertificateVerifyForm.
		hs.certVerify = verifyCertificateVerify(hs.peerCerts[0].PublicKey, hs.transcript.Bytes(), cv.signature)
		if hs.certVerify == 0 {
			return fail(AlertDecryptError, "CertificateVerify: the client's signature does not verify")
		}
		hs.transcript.Write(msg)
	}

	if err := hs.establishKeys(); err != nil {
		return err
	}
	if err := hs.readFinished(); err != nil {
		return err
	}
	if err := hs.sendFinished(); err != nil {
		return err
	}
	if err := c.flushHandshake(); err != nil {
		return err
	}
	if cfg.SessionCache != nil {
		cfg.SessionCache.put(string(sessionID), &session{
			id: sessionID, suite: hs.suite.id, master: hs.master, peerCerts: hs.peerCerts, created: cfg.now(),
		})
	}
	hs.done(false)
	return nil
}

// unexpectedOrMalformed is the error of a message that did not parse as
// want: unexpected_message if it is another type, decode_error if not.
func unexpectedOrMalformed(msg []byte, want uint8, name string) error {
	if len(msg) > 0 && msg[0] != want {
		return fail(AlertUnexpectedMessage, "want %s, got handshake message type %d", name, msg[0])
	}
	return fail(AlertDecodeError, "malformed %s", name)
}

// verifyClientCertificates checks the client's certificates against
// ClientCAs (6.4.5.7): the signature certificate first, then, as ECDHE
// needs it, the encryption certificate, then intermediates. For ECC
// suites a client may send its signature certificate alone (gmtls
// does); the certificates after it then only serve as intermediates.
func (hs *serverHandshakeState) verifyClientCertificates(raw [][]byte) error {
	cfg := hs.c.config
	if len(raw) == 0 {
		return fail(AlertHandshakeFailure, "client sent no certificate")
	}
	leaves := 1
	if hs.suite.ecdhe {
		leaves = 2
	}
	if len(raw) < leaves {
		return fail(AlertBadCertificate, "client sent %d certificate, ECDHE needs its signature and encryption certificates", len(raw))
	}
	certs, err := parseCertificates(raw)
	if err != nil {
		return err
	}
	opts := smx509.VerifyOptions{
		Roots:         cfg.ClientCAs,
		Intermediates: smx509.NewCertPool(),
		CurrentTime:   cfg.now(),
		KeyUsages:     []smx509.ExtKeyUsage{smx509.ExtKeyUsageClientAuth},
	}
	for _, ic := range certs[1:] {
		opts.Intermediates.AddCert(ic)
	}
	for i, name := range []string{"signature", "encryption"}[:leaves] {
		if _, err := certs[i].Verify(opts); err != nil {
			return fail(AlertBadCertificate, "client %s certificate: %w", name, err)
		}
	}
	hs.peerCerts = certs
	return nil
}

// parseCertificates parses a Certificate message's list.
func parseCertificates(raw [][]byte) ([]*smx509.Certificate, error) {
	certs := make([]*smx509.Certificate, len(raw))
	for i, der := range raw {
		c, err := smx509.ParseCertificate(der)
		if err != nil {
			return nil, fail(AlertBadCertificate, "certificate %d: %w", i, err)
		}
		certs[i] = c
	}
	return certs, nil
}

// establishKeys derives the working keys (6.5.3) and makes them
// pending for both directions' ChangeCipherSpec.
func (hs *serverHandshakeState) establishKeys() error {
	return establishKeys(hs.c, hs.suite, hs.master, hs.hello.random, hs.serverHello.random)
}

func establishKeys(c *Conn, suite *cipherSuite, master, clientRandom, serverRandom []byte) error {
	cMAC, sMAC, cKey, sKey, cIV, sIV := keyBlock(master, clientRandom, serverRandom, suite)
	clientCipher, err := suite.newRecordCipher(cMAC, cKey, cIV)
	if err != nil {
		return err
	}
	serverCipher, err := suite.newRecordCipher(sMAC, sKey, sIV)
	if err != nil {
		return err
	}
	c.out.Lock()
	if c.isClient {
		c.out.next = clientCipher
	} else {
		c.out.next = serverCipher
	}
	c.out.Unlock()
	if c.isClient {
		c.in.next = serverCipher
	} else {
		c.in.next = clientCipher
	}
	return nil
}

// readFinished reads the client's ChangeCipherSpec and Finished
// (6.4.5.10) and checks its verify_data.
func (hs *serverHandshakeState) readFinished() error {
	return readFinished(hs.c, hs.master, labelClientFinished, &hs.transcript)
}

func readFinished(c *Conn, master []byte, label string, transcript *bytes.Buffer) error {
	if err := c.readChangeCipherSpec(); err != nil {
		return err
	}
	msg, err := c.readHandshake()
	if err != nil {
		return err
	}
	var fin finishedMsg
	if !fin.unmarshal(msg) {
		return unexpectedOrMalformed(msg, typeFinished, "Finished")
	}
	want := finishedData(master, label, transcript.Bytes())
	if subtle.ConstantTimeCompare(want, fin.verifyData) != 1 {
		return fail(AlertDecryptError, "the peer's Finished does not verify (keys differ)")
	}
	transcript.Write(msg)
	return nil
}

// sendFinished buffers ChangeCipherSpec and the server's Finished.
func (hs *serverHandshakeState) sendFinished() error {
	return sendFinished(hs.c, hs.master, labelServerFinished, &hs.transcript)
}

func sendFinished(c *Conn, master []byte, label string, transcript *bytes.Buffer) error {
	if err := c.writeChangeCipherSpec(); err != nil {
		return err
	}
	fin := (&finishedMsg{verifyData: finishedData(master, label, transcript.Bytes())}).marshal()
	transcript.Write(fin)
	return c.writeHandshake(fin)
}

// done records the agreed state.
func (hs *serverHandshakeState) done(resumed bool) {
	hs.c.state = ConnectionState{
		Version:           VersionTLCP,
		DidResume:         resumed,
		CipherSuite:       hs.suite.id,
		PeerCertificates:  hs.peerCerts,
		CertificateVerify: hs.certVerify,
	}
}
