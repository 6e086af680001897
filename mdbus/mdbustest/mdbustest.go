// Package mdbustest is test support for the market-data bus across a
// network: a NATS server that requires TLS and authenticates its users,
// each with the permissions docs/SECURITY.md ("Market-data bus")
// recommends for its role, and the users' NKey seed and credentials files.
package mdbustest

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"sgw/netsec/netsectest"
)

// Role is what a bus user may do, as subject lists (NATS wildcards).
type Role struct {
	// Pub and Sub are the subjects the user may publish and subscribe
	// to; nothing else.
	Pub, Sub []string
	// Replies allows publishing one reply to each request the user
	// received (NATS allow_responses).
	Replies bool
}

// Ingest is the role of an ingest gateway on the bus under prefix: it
// publishes the updates and heartbeats, and answers snapshot requests.
func Ingest(prefix string) Role {
	return Role{Pub: []string{prefix + ".d.>", prefix + ".hb"}, Sub: []string{prefix + ".snap.>"}, Replies: true}
}

// Edge is the role of an edge gateway on the bus under prefix: it reads
// the updates and heartbeats and asks for snapshots, whose replies come
// to its inbox, subjects under inbox (its market_bus.inbox_prefix; NATS's
// default "_INBOX" reads every inbox on the account).
func Edge(prefix, inbox string) Role {
	return Role{Pub: []string{prefix + ".snap.>"}, Sub: []string{prefix + ".d.>", prefix + ".hb", inbox + ".>"}}
}

// serverPermissions is r for a server's own users list.
func (r Role) serverPermissions() *server.Permissions {
	p := &server.Permissions{Publish: &server.SubjectPermission{Allow: r.Pub}, Subscribe: &server.SubjectPermission{Allow: r.Sub}}
	if r.Replies {
		p.Response = &server.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
	}
	return p
}

// Server is a NATS server on loopback that requires TLS, with a
// certificate of its own throw-away CA.
type Server struct {
	*server.Server
	// URL is the server's tls://127.0.0.1:port.
	URL string
	// PKI signed the server's certificate; its CAFile verifies it.
	PKI *netsectest.PKI
}

// Start starts a server whose authentication auth sets up (NKeyUsers or
// Operator.Configure) and shuts it down at the test's end.
func Start(tb testing.TB, auth func(*server.Options)) *Server {
	tb.Helper()
	pki := netsectest.NewPKI(tb, "bus CA")
	pair := pki.Server("nats")
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		TLS: true, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		TLSTimeout: 60} // seconds: a handshake under -race on two loaded cores
	auth(opts)
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(60 * time.Second) {
		s.Shutdown()
		tb.Fatal("mdbustest: nats server not ready")
	}
	tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	port := s.Addr().(*net.TCPAddr).Port
	return &Server{Server: s, URL: "tls://127.0.0.1:" + strconv.Itoa(port), PKI: pki}
}

// NKeyUser creates an NKey user, writes its seed to dir/name.nk and
// returns the file and the user's public key.
func NKeyUser(tb testing.TB, dir, name string) (seedFile, pub string) {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ = kp.PublicKey()
	seedFile = filepath.Join(dir, name+".nk")
	if err := os.WriteFile(seedFile, append(seed, '\n'), 0o600); err != nil {
		tb.Fatal(err)
	}
	return seedFile, pub
}

// NKeyUsers returns the authentication of a server that lists its users'
// public NKeys, each with its role's permissions (public key -> role).
func NKeyUsers(users map[string]Role) func(*server.Options) {
	return func(o *server.Options) {
		for pub, r := range users {
			o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: pub, Permissions: r.serverPermissions()})
		}
	}
}

// Operator is a NATS operator with one account, for a server with
// decentralized authentication: users are JWTs the account signs.
type Operator struct {
	tb     testing.TB
	op     nkeys.KeyPair
	acc    nkeys.KeyPair
	accJWT string
}

// NewOperator creates an operator and its account.
func NewOperator(tb testing.TB) *Operator {
	tb.Helper()
	op, err := nkeys.CreateOperator()
	if err != nil {
		tb.Fatal(err)
	}
	acc, err := nkeys.CreateAccount()
	if err != nil {
		tb.Fatal(err)
	}
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "market-data"
	accJWT, err := ac.Encode(op)
	if err != nil {
		tb.Fatal(err)
	}
	return &Operator{tb: tb, op: op, acc: acc, accJWT: accJWT}
}

// Configure makes a server trust the operator and know its account.
func (o *Operator) Configure(opts *server.Options) {
	pub, _ := o.op.PublicKey()
	accPub, _ := o.acc.PublicKey()
	r := &server.MemAccResolver{}
	if err := r.Store(accPub, o.accJWT); err != nil {
		o.tb.Fatal(err)
	}
	opts.TrustedKeys = []string{pub}
	opts.AccountResolver = r
}

// Creds creates a user of the account with role's permissions and writes
// its credentials file (JWT and seed, as nsc does) to dir/name.creds.
func (o *Operator) Creds(dir, name string, r Role) string {
	o.tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		o.tb.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.Pub.Allow.Add(r.Pub...)
	uc.Sub.Allow.Add(r.Sub...)
	if r.Replies {
		uc.Resp = &jwt.ResponsePermission{MaxMsgs: 1, Expires: time.Minute}
	}
	userJWT, err := uc.Encode(o.acc)
	if err != nil {
		o.tb.Fatal(err)
	}
	seed, _ := kp.Seed()
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		o.tb.Fatal(err)
	}
	file := filepath.Join(dir, name+".creds")
	if err := os.WriteFile(file, creds, 0o600); err != nil {
		o.tb.Fatal(err)
	}
	return file
}
