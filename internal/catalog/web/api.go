package web

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gale-bt/gale/internal/catalog"
)

// The JSON API (/api/v1) for other sites. Every call but the OpenAPI
// document needs "Authorization: Bearer gale_…"; each endpoint needs one
// token scope, checked here (the catalog services check rights, not
// scopes). Errors are {"error": {"code": ..., "message": ...}} with the
// status from errorStatus.

// apiRoute is one endpoint. The table is the single source of the routes:
// it is registered on the mux and checked against openapi.json by a
// test.
type apiRoute struct {
	Method, Path string
	Scope        string // "" for any valid token
	h            func(a *apiReq) error
}

func (s *Server) apiRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/api/v1/me", "", s.apiMe},
		{"GET", "/api/v1/stats", catalog.ScopeStats, s.apiStats},
		{"GET", "/api/v1/categories", catalog.ScopeTorrentsRead, s.apiCategories},
		{"GET", "/api/v1/torrents", catalog.ScopeTorrentsRead, s.apiTorrents},
		{"POST", "/api/v1/torrents", catalog.ScopeTorrentsWrite, s.apiAddTorrent},
		{"GET", "/api/v1/torrents/{ref}", catalog.ScopeTorrentsRead, s.apiTorrent},
		{"DELETE", "/api/v1/torrents/{ref}", catalog.ScopeTorrentsWrite, s.apiDeleteTorrent},
		{"GET", "/api/v1/torrents/{ref}/stats", catalog.ScopeStats, s.apiTorrentStats},
		{"GET", "/api/v1/torrents/{ref}/download", catalog.ScopeTorrentsRead, s.apiDownload},
		{"GET", "/api/v1/torrents/{ref}/announce", catalog.ScopeTorrentsRead, s.apiAnnounce},
		{"POST", "/api/v1/users", catalog.ScopeUsersWrite, s.apiCreateUser},
		{"GET", "/api/v1/users/{name}", catalog.ScopeUsersRead, s.apiUser},
		{"POST", "/api/v1/users/{name}/disable", catalog.ScopeUsersWrite, s.apiDisableUser},
		{"POST", "/api/v1/users/{name}/enable", catalog.ScopeUsersWrite, s.apiEnableUser},
		{"POST", "/api/v1/users/{name}/reset-key", catalog.ScopeUsersWrite, s.apiResetKey},
	}
}

// apiReq is one authenticated API call.
type apiReq struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context // acting as the token's user, narrowed to its scopes
	actor catalog.Actor
	token *catalog.Token
}

func (s *Server) apiHandler(rt apiRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := &apiReq{s: s, w: w, r: r}
		err := checkValues(r.URL.Query())
		if err == nil {
			err = a.authenticate()
		}
		if err == nil && rt.Scope != "" && !a.actor.HasScope(rt.Scope) {
			err = catalog.Errorf(catalog.EFORBIDDEN, "the token lacks the scope %s", rt.Scope)
		}
		if err == nil {
			err = rt.h(a)
		}
		if err != nil {
			s.failJSON(w, r, err)
		}
	})
}

var errNoToken = catalog.Errorf(catalog.EUNAUTHORIZED, "send an API token: Authorization: Bearer gale_…")

// authenticate reads the bearer token. Session cookies are ignored: the
// API is for programs, and ignoring cookies keeps it out of CSRF's reach.
func (a *apiReq) authenticate() error {
	h := a.r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errNoToken
	}
	secret = strings.TrimSpace(secret)
	if secret == "" || len(secret) > 200 {
		return errNoToken
	}
	actor, tk, err := a.s.cat.TokenActor(a.r.Context(), secret)
	if err != nil {
		return err
	}
	a.actor, a.token = actor, tk
	a.ctx = catalog.WithActor(a.r.Context(), actor)
	return nil
}

// decode reads a JSON body of at most maxJSONSize bytes into v; unknown
// fields and trailing data are errors. An empty body leaves v alone.
func (a *apiReq) decode(v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(a.w, a.r.Body, maxJSONSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return catalog.Errorf(catalog.EINVALID, "the request body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return catalog.Errorf(catalog.EINVALID, "bad JSON: %s", truncate(err.Error(), 200))
	}
	if dec.More() {
		return catalog.Errorf(catalog.EINVALID, "bad JSON: trailing data after the object")
	}
	return nil
}

func (a *apiReq) json(status int, v any) error {
	writeJSON(a.w, status, v)
	return nil
}

// apiNotFound answers unknown API paths (and wrong methods) in JSON.
func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	for _, rt := range s.api {
		if pathMatches(rt.Path, r.URL.Path) {
			w.Header().Set("Allow", s.allowed(r.URL.Path))
			writeJSON(w, http.StatusMethodNotAllowed, apiError{apiErrorBody{"method_not_allowed",
				"method " + r.Method + " is not allowed here"}})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, apiError{apiErrorBody{catalog.ENOTFOUND, "no such API endpoint"}})
}

func (s *Server) allowed(path string) string {
	var ms []string
	for _, rt := range s.api {
		if pathMatches(rt.Path, path) {
			ms = append(ms, rt.Method)
		}
	}
	return strings.Join(ms, ", ")
}

// pathMatches matches a route pattern with {wildcards} against a path.
func pathMatches(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], "{") && ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// openAPIDoc is the hand-written OpenAPI 3 document of the API;
// TestOpenAPICoversRoutes keeps it in step with apiRoutes.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b := openAPIDoc
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(b)
}
