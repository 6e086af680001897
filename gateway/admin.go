package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"
)

// Admin is what operators may do through the admin endpoints.
// *orders.Manager implements it.
type Admin interface {
	// Kill turns an account's kill switch (account "" = every account) on
	// or off and returns how many resting orders it cancelled.
	Kill(account string, on bool) (int, error)
}

// killRequest is the body of POST /api/v1/admin/kill.
type killRequest struct {
	Account string `json:"account"`
	On      *bool  `json:"on"`
}

// handleKill turns a kill switch on or off. It takes effect for the next
// order check, before the answer is sent. Only tokens whose subject is in
// Config.Admins may call it.
func (s *Server) handleKill(w http.ResponseWriter, r *http.Request) {
	if !s.isAdmin(w, r) {
		return
	}
	var req killRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeError(w, http.StatusRequestEntityTooLarge, codeBodyTooLarge, "the body must be at most 4096 bytes")
		return
	}
	if err != nil || req.On == nil {
		writeError(w, http.StatusBadRequest, "bad_request", `body must be {"account":"A1" (or "" for all),"on":true|false}`)
		return
	}
	cancelled, err := s.admin.Kill(req.Account, *req.On)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	s.log.Warn("kill switch", "account", req.Account, "on", *req.On, "cancelled", cancelled, "by", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"account": req.Account, "on": *req.On, "cancelled": cancelled})
}

// isAdmin checks the request's bearer token names an administrator; it
// answers 401 or 403 otherwise.
func (s *Server) isAdmin(w http.ResponseWriter, r *http.Request) bool {
	if s.admin == nil {
		writeError(w, http.StatusNotFound, "not_found", "this gateway has no admin endpoints")
		return false
	}
	tok := bearer(r)
	if tok == "" || s.ws.tokens == nil {
		writeError(w, http.StatusUnauthorized, "auth_required", "an administrator's bearer token is required")
		return false
	}
	claims, err := s.ws.tokens.Verify(tok, time.Now())
	if err != nil {
		writeError(w, http.StatusUnauthorized, "bad_token", err.Error())
		return false
	}
	if !slices.Contains(s.cfg.Admins, claims.Subject) {
		writeError(w, http.StatusForbidden, "forbidden", claims.Subject+" is not an administrator")
		return false
	}
	return true
}
