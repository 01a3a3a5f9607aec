package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gale-bt/gale/internal/catalog"
)

// req is one page request: the signed-in user (if any), the settings, the
// CSRF token and the context acting as the user.
type req struct {
	s   *Server
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	me  *catalog.User
	// session is the session token (empty when anonymous); csrf the token
	// forms must carry.
	session string
	csrf    string
	site    *catalog.Settings
	form    url.Values
	file    []byte // the uploaded file of a multipart form
	flash   string
}

// Route options.
const (
	anonOK        = 1 << iota // anonymous visitors may reach the handler
	multipartForm             // the form is multipart/form-data with a file
)

// page wraps a GET handler.
func (s *Server) page(h func(q *req) error, opts int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := s.begin(w, r)
		if err == nil {
			err = checkValues(r.URL.Query())
		}
		if err == nil && q.me == nil && opts&anonOK == 0 {
			err = errSignIn
		}
		if err == nil {
			err = h(q)
		}
		if err != nil {
			s.failPage(q, err)
		}
	})
}

// form wraps a POST handler: the body is size-limited and parsed, and the
// CSRF token checked before h runs.
func (s *Server) form(h func(q *req) error, opts int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := s.begin(w, r)
		if err == nil && crossOrigin.Check(r) != nil {
			err = errCSRF // a browser says the form came from another site
		}
		if err == nil {
			err = q.parseForm(opts&multipartForm != 0)
		}
		if err == nil {
			err = q.checkCSRF()
		}
		if err == nil && q.me == nil && opts&anonOK == 0 {
			err = errSignIn
		}
		if err == nil {
			err = h(q)
		}
		if err != nil {
			s.failPage(q, err)
		}
	})
}

var errSignIn = catalog.Errorf(catalog.EUNAUTHORIZED, "sign in first")

// begin loads the session and settings of a request.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) (*req, error) {
	q := &req{s: s, w: w, r: r, ctx: r.Context()}
	w.Header().Set("Cache-Control", "no-store")
	if c, err := r.Cookie(s.cookieName("session")); err == nil && validToken(c.Value) {
		u, err := s.cat.SessionUser(r.Context(), c.Value)
		switch catalog.ErrorCode(err) {
		case "":
			q.me, q.session = u, c.Value
			q.ctx = catalog.WithUser(r.Context(), u)
		case catalog.EUNAUTHORIZED:
			s.clearCookie(w, "session")
		default:
			return q, err
		}
	}
	if q.session != "" {
		q.csrf = sessionCSRF(q.session)
	} else if c, err := r.Cookie(s.cookieName("csrf")); err == nil && validToken(c.Value) {
		q.csrf = c.Value
	} else if r.Method == http.MethodGet || r.Method == http.MethodHead {
		q.csrf = randomToken()
		s.setCookie(w, "csrf", q.csrf, 0)
	}
	if c, err := r.Cookie(s.cookieName("flash")); err == nil {
		if b, err := base64.RawURLEncoding.DecodeString(c.Value); err == nil && utf8.Valid(b) && len(b) < 500 {
			q.flash = string(b)
		}
		s.clearCookie(w, "flash")
	}
	st, err := s.cat.Settings(q.ctx)
	if err != nil {
		return q, err
	}
	q.site = st
	return q, nil
}

// validToken reports whether a cookie value has the shape of our tokens,
// so garbage never reaches the database.
func validToken(v string) bool {
	if len(v) < 16 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// sessionCSRF derives a session's CSRF token: a hash of the secret
// session token, so it needs no storage and dies with the session.
func sessionCSRF(session string) string {
	sum := sha256.Sum256([]byte("gale-csrf\x00" + session))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// crossOrigin refuses forms that browsers mark as cross-site
// (Sec-Fetch-Site, Origin), in addition to the CSRF token.
var crossOrigin = http.NewCrossOriginProtection()

var errCSRF = catalog.Errorf(catalog.EFORBIDDEN, "the form's security token is missing or wrong; reload the page and try again")

// checkCSRF compares the form's "csrf" field with the request's token in
// constant time.
func (q *req) checkCSRF() error {
	got := q.form.Get("csrf")
	if q.csrf == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(q.csrf)) != 1 {
		return errCSRF
	}
	return nil
}

// parseForm reads a size-limited url-encoded or multipart body.
func (q *req) parseForm(multipart bool) error {
	ct := q.r.Header.Get("Content-Type")
	if multipart && strings.HasPrefix(ct, "multipart/form-data") {
		limit := q.s.cfg.MaxUploadSize + maxFormSize
		q.r.Body = http.MaxBytesReader(q.w, q.r.Body, limit)
		fields, file, err := readMultipart(q.r, "torrent", q.s.cfg.MaxUploadSize)
		if err != nil {
			return err
		}
		q.form, q.file = fields, file
		return checkValues(q.form)
	}
	if ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return catalog.Errorf(catalog.EINVALID, "unsupported form encoding %q", truncate(ct, 60))
	}
	q.r.Body = http.MaxBytesReader(q.w, q.r.Body, maxFormSize)
	if err := q.r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return catalog.Errorf(catalog.EINVALID, "the form could not be read")
	}
	q.form = q.r.PostForm
	return checkValues(q.form)
}

// checkValues refuses parameters that are not valid UTF-8 text or are
// longer than any field may be, so hostile input gets a clear 400 before
// it reaches a service (PostgreSQL refuses invalid UTF-8 outright).
func checkValues(v url.Values) error {
	for k, vs := range v {
		if !utf8.ValidString(k) || len(k) > 100 {
			return catalog.Errorf(catalog.EINVALID, "bad parameter name")
		}
		for _, s := range vs {
			if len(s) > maxFieldLen {
				return catalog.Errorf(catalog.EINVALID, "the field %q is too long", truncate(k, 40))
			}
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				return catalog.Errorf(catalog.EINVALID, "the field %q is not valid text", truncate(k, 40))
			}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Form and query accessors.

func (q *req) value(name string) string {
	if q.form != nil {
		return q.form.Get(name)
	}
	return q.r.URL.Query().Get(name)
}

func (q *req) query(name string) string { return q.r.URL.Query().Get(name) }

func (q *req) checked(name string) bool { return q.form.Get(name) != "" }

// pathID parses the {id} path value; anything but a positive decimal is
// ENOTFOUND.
func (q *req) pathID(what string) (int64, error) {
	return parseID(q.r.PathValue("id"), what)
}

func parseID(s, what string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || s[0] == '+' {
		return 0, notFound(what)
	}
	return id, nil
}

// intParam parses an optional integer parameter (form or query) in
// [lo, hi]; def when empty.
func intParam(v, name string, def, lo, hi int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, catalog.Errorf(catalog.EINVALID, "%s: want a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// Cookies.

func (s *Server) cookieName(name string) string {
	if s.cfg.SecureCookies {
		return "__Host-gale_" + name
	}
	return "gale_" + name
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) { s.setCookie(w, name, "", -1) }

// setFlash shows msg on the next page.
func (q *req) setFlash(msg string) {
	q.s.setCookie(q.w, "flash", base64.RawURLEncoding.EncodeToString([]byte(truncate(msg, 300))), 60)
}

// redirect answers a form with 303 See Other.
func (q *req) redirect(path string) error {
	http.Redirect(q.w, q.r, path, http.StatusSeeOther)
	return nil
}

// safeNext returns a local path to go to after signing in: only paths on
// this site ("/x", never "//host" or "/\host").
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 1000 || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n\t") {
		return "/"
	}
	return next
}

// clientAddr returns the client's address for rate limits: the peer's,
// or for trusted proxies the last untrusted X-Forwarded-For entry. IPv6
// addresses count per /64.
func (s *Server) clientAddr(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	addr := ap.Addr()
	if err != nil {
		if a, err2 := netip.ParseAddr(r.RemoteAddr); err2 == nil {
			addr = a
		}
	}
	if s.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			addr = a
			if !s.trusted(a) {
				break
			}
		}
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// baseURL returns the site's base URL: SiteURL, or the request's scheme
// and host.
func (s *Server) baseURL(r *http.Request) string {
	if s.siteURL != nil {
		return s.siteURL.String()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if s.trustedRequest(r) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
	}
	host := r.Host
	if host == "" || strings.ContainsAny(host, "/\\@ \"<>") {
		host = "localhost"
	}
	return scheme + "://" + host
}

func (s *Server) trustedRequest(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && s.trusted(ap.Addr())
}
