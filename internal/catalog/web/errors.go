package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// errLimited is a refusal by a rate limit; retry tells when to try again.
type errLimited struct{ retry time.Duration }

func (e *errLimited) Error() string {
	return "too many attempts; try again in " + e.retry.Round(time.Second).String()
}

// errorStatus is the one place where errors become HTTP statuses, error
// codes and messages for users: catalog errors by their code
// (catalog.HTTPStatus), plus the web layer's own refusals. Internal
// errors say only "internal error"; internal reports whether to log err.
func errorStatus(err error) (status int, code, msg string, internal bool) {
	var mbe *http.MaxBytesError
	var lim *errLimited
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "too_large", "the request is larger than the limit of " +
			formatBytes(mbe.Limit), false
	case errors.As(err, &lim):
		return http.StatusTooManyRequests, "rate_limited", lim.Error(), false
	}
	code = catalog.ErrorCode(err)
	return catalog.HTTPStatus(code), code, catalog.ErrorMessage(err), code == catalog.EINTERNAL
}

// failPage answers a page request with an error page (or, for a GET by an
// anonymous visitor who must sign in, a redirect to the sign-in page).
func (s *Server) failPage(q *req, err error) {
	status, code, msg, internal := errorStatus(err)
	if internal {
		s.log.Error("web: request failed", "method", q.r.Method, "path", RedactPath(q.r.URL.Path), "err", err)
	}
	if lim := (*errLimited)(nil); errors.As(err, &lim) {
		q.w.Header().Set("Retry-After", strconv.Itoa(int(lim.retry.Seconds())+1))
	}
	if code == catalog.EUNAUTHORIZED && q.me == nil && (q.r.Method == http.MethodGet || q.r.Method == http.MethodHead) {
		http.Redirect(q.w, q.r, "/login?next="+url.QueryEscape(q.r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if q.site == nil {
		q.site = &catalog.Settings{SiteName: "gale"}
	}
	q.render(status, "error", "Error", map[string]any{"Status": status, "StatusText": http.StatusText(status),
		"Message": msg, "Code": code})
}

// apiError is the JSON error body: {"error": {"code": ..., "message": ...}}.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// failJSON answers an API request with a JSON error.
func (s *Server) failJSON(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg, internal := errorStatus(err)
	if internal {
		s.log.Error("web: api request failed", "method", r.Method, "path", RedactPath(r.URL.Path), "err", err)
	}
	if lim := (*errLimited)(nil); errors.As(err, &lim) {
		w.Header().Set("Retry-After", strconv.Itoa(int(lim.retry.Seconds())+1))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gale"`)
	}
	writeJSON(w, status, apiError{apiErrorBody{code, msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
