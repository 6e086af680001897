package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"sgw/internal/jsonkey"
)

// Admin is what operators may do through the admin endpoints.
// *orders.Manager implements it.
type Admin interface {
	// Kill turns an account's kill switch (account "" = every account) on
	// or off and returns how many resting orders it cancelled.
	Kill(account string, on bool) (int, error)
}

// killRequest is the body of POST /api/v1/admin/kill. Both fields are
// required: an operator who left out the account (by mistake or a
// script's bug) would otherwise turn every account's switch, the whole
// firm's trading stopped and, with kill_cancels_resting, its resting
// orders canceled; every account is "" given explicitly.
type killRequest struct {
	Account *string `json:"account"`
	On      *bool   `json:"on"`
}

// killFields are the JSON names of killRequest's fields.
var killFields = [...]string{"account", "on"}

// handleKill turns a kill switch on or off. It takes effect for the next
// order check, before the answer is sent. Only operators' tokens (a
// subject in Config.Admins, with the adm claim: operatorCaller) may call
// it.
func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	if s.admin == nil {
		writeError(w, http.StatusNotFound, "not_found", "this gateway has no admin endpoints")
		return
	}
	if r.URL.Query().Has("token") {
		writeError(w, http.StatusBadRequest, "bad_request", "an admin token goes in the Authorization header, never in the URL")
		return
	}
	claims, ok := s.operatorCaller(w, r)
	if !ok {
		return
	}
	// A kill switch is the leader's (its order manager holds the risk
	// state and journals the switch): a cluster follower relays the
	// request there, as it relays trading clients, so an operator
	// reaching any node through the load balancer turns it, instead of
	// being refused orders.not_leader (a 400 a script takes for final).
	switch base, local := s.ws.fwd.target(r); {
	case base != nil:
		if err := s.ws.fwd.serve(w, r, base); err != nil {
			writeError(w, http.StatusBadGateway, "leader_unreachable", err.Error())
		}
		return
	case !local:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, codeNoLeader,
			"no gateway serves order entry now (the cluster is electing a leader); the kill switch is unchanged: try again")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeError(w, http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the body must be at most 4096 bytes")
		return
	}
	var req killRequest
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(&req)
		if err == nil && dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	if err != nil || req.On == nil || req.Account == nil {
		writeError(w, http.StatusBadRequest, "bad_request", `body must be {"account":"A1" (or "" for all),"on":true|false}`)
		return
	}
	// A field given twice ("account" and "Account", as encoding/json
	// matches names) has two readings, one of them maybe every account:
	// encoding/json would take the last.
	if f := jsonkey.RepeatedField(body, killFields[:], true); f != "" {
		writeError(w, http.StatusBadRequest, "bad_request", "field "+strconv.Quote(f)+" given more than once (names match without regard to case)")
		return
	}
	account := *req.Account
	cancelled, err := s.admin.Kill(account, *req.On)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	s.log.Warn("audit: kill switch", "account", account, "on", *req.On, "cancelled", cancelled,
		"subject", claims.Subject, "from", clientIP(r))
	writeJSON(w, http.StatusOK, map[string]any{"account": account, "on": *req.On, "cancelled": cancelled})
}
