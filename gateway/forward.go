package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"time"

	"github.com/coder/websocket"

	"sgw/netsec"
)

// Forwarder says where order entry is served when this gateway does not
// serve it: a cluster follower forwards the WebSocket connections of
// clients whose token may trade to the leader, so a client may land on
// any node. *system.clustered implements it.
type Forwarder interface {
	// OrderEntryAt says where order entry is served now: here (local),
	// at the base URL (http://host:port) of another gateway, or nowhere
	// (nil and false: no leader is known, an election is running). Called
	// for each trading client's upgrade request; it must answer at once.
	OrderEntryAt() (at *url.URL, local bool)
}

// forwardedHeader marks a request a node forwarded: it is served where it
// arrives, never forwarded again (no loop while two nodes disagree on the
// leader during an election). A client that sends it is only served
// locally.
const forwardedHeader = "X-Sgw-Forwarded"

// CloseReasonMoved is the close reason of trading clients when order entry
// moves to another node (leadership changed); they connect again.
const CloseReasonMoved = "order entry moved to another gateway: connect again"

// forwarder relays a trading client's WebSocket upgrade, and then the
// connection, to the node serving order entry. It dials a new connection
// per client (no pooling) and starts it with a PROXY v2 header naming the
// client, so that the serving node's caps and logs see the client, not
// this node (the serving node trusts the cluster's members as proxies).
// A relayed connection is closed once order entry is no longer served
// where it goes (watch): a leader that lost the lead behind a partition,
// or lost power, closes nothing itself.
// Its proxy is safe for concurrent use; each relayed connection runs on
// the client's own handler goroutine, with a watch goroutine beside it.
type forwarder struct {
	at    Forwarder
	proxy *httputil.ReverseProxy
}

// relayCheck is how often a relayed connection checks that order entry is
// still served where it goes: a fraction of the time an election takes
// (about 1-2 s), for one cheap call (OrderEntryAt) per connection.
const relayCheck = 250 * time.Millisecond

type forwardKey struct{}

// forwardTarget is a relayed request's destination and client.
type forwardTarget struct {
	base   *url.URL
	client netip.AddrPort
}

// newForwarder relays to the node at names, over TLS with tlsCfg (nil:
// Go's defaults) to a member named https://.
func newForwarder(at Forwarder, tlsCfg *tls.Config, dialTimeout time.Duration) *forwarder {
	d := &net.Dialer{Timeout: dialTimeout}
	tr := &http.Transport{
		DisableKeepAlives: true, // one client per connection: its PROXY header names it
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ft, _ := ctx.Value(forwardKey{}).(forwardTarget)
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dst, err := netip.ParseAddrPort(c.RemoteAddr().String())
			if err == nil && ft.client.Addr().Unmap().Is4() != dst.Addr().Unmap().Is4() {
				// An IPv6 client of a node that reaches the leader over
				// IPv4 (or the reverse): the header's addresses share a
				// family, and the leader needs only the client's.
				dst = netip.AddrPortFrom(netip.IPv6Unspecified(), dst.Port())
				if ft.client.Addr().Unmap().Is4() {
					dst = netip.AddrPortFrom(netip.IPv4Unspecified(), dst.Port())
				}
			}
			if err == nil {
				var hdr []byte
				if hdr, err = netsec.AppendProxyHeader(nil, ft.client, dst); err == nil {
					_ = c.SetWriteDeadline(time.Now().Add(dialTimeout))
					_, err = c.Write(hdr)
					_ = c.SetWriteDeadline(time.Time{})
				}
			}
			if err != nil {
				c.Close()
				return nil, fmt.Errorf("gateway: forward to %s: %w", addr, err)
			}
			return c, nil
		},
		TLSClientConfig:     tlsCfg.Clone(), // the transport names each member's host unless it sets ServerName
		TLSHandshakeTimeout: dialTimeout,
		// A node that accepts the connection and never answers the
		// upgrade (hung) does not hold the client.
		ResponseHeaderTimeout: 2 * dialTimeout,
	}
	f := &forwarder{at: at}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			ft, _ := pr.In.Context().Value(forwardKey{}).(forwardTarget)
			pr.SetURL(ft.base)
			// The Host the client addressed, not the leader's: the
			// serving node checks a browser's Origin (the page this node
			// served) against it, as this node would.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		Transport: tr,
		ErrorHandler: func(rw http.ResponseWriter, _ *http.Request, err error) {
			writeError(rw, http.StatusBadGateway, "leader_unreachable",
				"this gateway forwards order entry to the cluster's leader, which did not answer: "+err.Error())
		},
	}
	return f
}

// target returns where r should go: nil and true to serve it here, a URL
// to relay it to, or nil and false when order entry is served nowhere now
// (the client is refused, to connect again shortly). A request another
// node relayed is never relayed again.
func (f *forwarder) target(r *http.Request) (*url.URL, bool) {
	if f == nil {
		return nil, true
	}
	at, local := f.at.OrderEntryAt()
	if local || r.Header.Get(forwardedHeader) != "" && at != nil {
		return nil, local
	}
	return at, false
}

// serve relays r (a WebSocket upgrade) to base until the connection ends,
// or until order entry is no longer served at base: then the relay is
// cut (the proxy closes both connections when its request's context
// ends), and the client connects again, to be served where order entry
// is now. Its orders in flight are in doubt, as on any cut connection:
// it asks their status there.
func (f *forwarder) serve(rw http.ResponseWriter, r *http.Request, base *url.URL) error {
	client, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return fmt.Errorf("gateway: forward: client address %q: %w", r.RemoteAddr, err)
	}
	ctx, cancel := context.WithCancel(context.WithValue(r.Context(), forwardKey{}, forwardTarget{base: base, client: client}))
	defer cancel()
	go f.watch(ctx, cancel, base)
	f.proxy.ServeHTTP(wholeClose{rw}, r.WithContext(ctx))
	return nil
}

// wholeClose hands the reverse proxy the client's connection without its
// CloseWrite: when the leader's side ends, the proxy then closes the
// client's connection, instead of half-closing it and waiting, without a
// bound, for a client that may never close its side (hung or hostile),
// while it holds the relay's goroutines and the client's per-IP slot. A
// WebSocket connection whose server ended has nothing more to carry.
type wholeClose struct{ http.ResponseWriter }

func (w wholeClose) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return connOnly{c}, brw, nil
}

func (w wholeClose) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// connOnly is a net.Conn with no other method (no CloseWrite).
type connOnly struct{ net.Conn }

// watch calls cut once order entry is no longer served at base (another
// node, this one, or none while an election runs), checking every
// relayCheck until ctx ends.
func (f *forwarder) watch(ctx context.Context, cut context.CancelFunc, base *url.URL) {
	t := time.NewTicker(relayCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if at, local := f.at.OrderEntryAt(); local || at == nil || at.String() != base.String() {
				cut()
				return
			}
		}
	}
}

// closeTraders closes, with code 1012 (service restart), every client
// that receives order events: order entry moved (this node stopped or
// started leading), and they connect again to be served where it is now.
// It returns how many it closed. Safe from any goroutine.
func (w *wsServer) closeTraders(reason string) int {
	w.mu.Lock()
	var traders []*client
	for c := range w.clients {
		c.mu.Lock()
		if c.private {
			traders = append(traders, c)
		}
		c.mu.Unlock()
	}
	w.mu.Unlock()
	for _, c := range traders {
		c.close(websocket.StatusServiceRestart, reason, true, w.cfg.CloseTimeout)
	}
	return len(traders)
}

// CloseTraders closes the WebSocket clients that receive order events
// (code 1012, reason CloseReasonMoved), after what is queued for them:
// the composition root calls it when this node's order entry ends or
// moves. Safe from any goroutine.
func (s *Server) CloseTraders() int { return s.ws.closeTraders(CloseReasonMoved) }
