package gateway

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"sgw/auth"
)

// Access rules, the same on every path (REST and WebSocket):
//
//   - /healthz and /readyz answer anyone: load balancers probe them.
//   - Market data (REST books and instruments, WebSocket book, quote and
//     trades) needs a valid token unless the WebSocket config allows
//     anonymous market data.
//   - Operator endpoints (/metrics, /api/v1/feeds, /debug/pprof) and the
//     admin endpoints need the token of an operator: a subject listed in
//     Config.Admins, with the adm claim.
//   - A token comes in the Authorization header, scheme "Bearer" in any
//     case (RFC 7235). Only the WebSocket upgrade also takes it from the
//     "token" query parameter, because browsers cannot set headers on a
//     WebSocket; an admin action never does, so an operator's token does
//     not end up in access logs and browser history.

// headerToken returns the bearer token of the Authorization header, or "".
func headerToken(r *http.Request) string {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// upgradeToken returns the token of a WebSocket upgrade: the header's, or
// the token query parameter.
func upgradeToken(r *http.Request) string {
	if tok := headerToken(r); tok != "" {
		return tok
	}
	return r.URL.Query().Get("token")
}

// caller returns the verified claims of the request's header token: ok
// false and the answer written when a token is required but missing or
// invalid. A request without a token gets nil claims and ok true when
// required is false.
func (s *Server) caller(w http.ResponseWriter, r *http.Request, required bool) (*auth.Claims, bool) {
	tok := headerToken(r)
	if tok == "" {
		if required {
			writeError(w, http.StatusUnauthorized, "auth_required", "a bearer token is required")
			return nil, false
		}
		return nil, true
	}
	if s.ws.tokens == nil {
		writeError(w, http.StatusUnauthorized, "bad_token", "this gateway accepts no tokens")
		return nil, false
	}
	claims, err := s.ws.tokens.Verify(tok, time.Now())
	if err != nil {
		writeError(w, http.StatusUnauthorized, "bad_token", err.Error())
		return nil, false
	}
	return &claims, true
}

// marketData wraps a market-data handler with the anonymous rule; the
// handler gets the viewer whose entitlements it checks (the token's
// claims, or the anonymous viewer's).
func (s *Server) marketData(h func(w http.ResponseWriter, r *http.Request, viewer *auth.Claims)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		claims, ok := s.caller(w, r, !s.cfg.WS.AnonymousMarketData)
		if !ok {
			return
		}
		h(w, r, s.ws.viewer(claims))
	}
}

// operator wraps an operator endpoint: an administrator's token only.
func (s *Server) operator(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.operatorCaller(w, r); ok {
			h.ServeHTTP(w, r)
		}
	}
}

// operatorCaller checks the request carries an administrator's token (a
// subject in Config.Admins, and the adm claim) and returns its claims; it
// answers 401 or 403 otherwise. The subject alone is not enough: the same
// person's trading token, which the trading page carries in its URL, is
// not an operator's.
func (s *Server) operatorCaller(w http.ResponseWriter, r *http.Request) (*auth.Claims, bool) {
	claims, ok := s.caller(w, r, true)
	if !ok {
		return nil, false
	}
	if !slices.Contains(s.cfg.Admins, claims.Subject) {
		writeError(w, http.StatusForbidden, "forbidden", claims.Subject+" is not an operator")
		return nil, false
	}
	if !claims.Admin {
		writeError(w, http.StatusForbidden, "forbidden", "the token of "+claims.Subject+" has no adm claim: not an operator's token")
		return nil, false
	}
	return claims, true
}

// clientIP returns the host part of the request's remote address.
func clientIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}
