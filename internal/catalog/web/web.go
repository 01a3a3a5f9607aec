// Package web is the catalog's website and JSON API: server-rendered pages
// (html/template, embedded templates and CSS, no JavaScript) for signing
// in and up, browsing and searching, uploading and downloading personal
// .torrent files, profiles, RSS feeds and administration; and a JSON API
// under /api/v1 for other sites, with bearer tokens and an OpenAPI
// document at /api/v1/openapi.json.
//
// The catalog services enforce rights; this package adds what belongs to
// HTTP: session cookies, CSRF tokens on every state-changing form, login
// rate limits, API token scopes, request size limits, security headers,
// and one mapping from catalog error codes to HTTP statuses (errorStatus).
//
// Wiring (gale serve):
//
//	srv, err := web.New(web.Config{Catalog: store, Tracker: stats, Logger: log,
//		SiteURL: "https://example.org", AnnounceURLs: []string{"https://example.org", "udp://example.org:6969"}})
//	link, err := srv.BootstrapLink(ctx, 0) // "" unless the site has no administrator yet
//	http.Handle("/", srv)               // or httptracker.Config{Handler: srv}
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

// Config configures a Server. Only Catalog is required; the zero value of
// every other field works.
type Config struct {
	// Catalog is the catalog store (sqlstore.Store).
	Catalog catalog.Catalog
	// Tracker provides live swarm counts and peers (nil: shown as zero).
	Tracker TrackerStats
	// Logger receives operational messages; keys, passwords and session
	// tokens are never logged (default: discard).
	Logger *slog.Logger
	// SiteURL is the site's external base URL ("https://example.org"),
	// used for links in feeds and the first administrator's link. Empty:
	// derived from each request (scheme and Host header).
	SiteURL string
	// AnnounceURLs are the tracker's base URLs ("http://host:port",
	// "https://host", "udp://host:port"); a user's personal announce URL
	// is base + "/" + key + "/announce" (XBT's form), or base +
	// "/announce?passkey=" + key with AnnounceKeyForm KeyInQuery
	// (PersonalAnnounceURL).
	// The first becomes "announce", all of them the announce-list (BEP
	// 12); UDP ones carry the key in BEP 41 URL data. Empty: the site's
	// own base URL.
	AnnounceURLs []string
	// AnnounceKeyForm is where personal announce URLs carry the key:
	// KeyInPath (XBT's form, the default, also for "") or KeyInQuery.
	// libtorrent 2.x only accepts the query form for a tracker on a
	// loopback address.
	AnnounceKeyForm KeyForm
	// SecureCookies marks cookies Secure (and names them with the
	// "__Host-" prefix) and sends Strict-Transport-Security; set it when
	// the site is served over HTTPS.
	SecureCookies bool
	// MaxUploadSize bounds an uploaded .torrent file (default 8 MiB,
	// at most catalog's limit of 64 MiB).
	MaxUploadSize int64
	// SessionTTL is how long a sign-in lasts (default 30 days, at most
	// 90).
	SessionTTL time.Duration
	// TrustedProxies lists the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto headers are believed (for login rate limits per
	// address and derived URLs).
	TrustedProxies []netip.Prefix
	// LoginLimit bounds failed sign-ins per account name, LoginIPLimit
	// per client address (IPv6: per /64). Defaults: 5 and 20 failures per
	// 15 minutes.
	LoginLimit, LoginIPLimit RateLimit
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RateLimit allows Failures attempts per Window.
type RateLimit struct {
	Failures int
	Window   time.Duration
}

// Defaults.
const (
	DefaultMaxUploadSize = 8 << 20
	DefaultSessionTTL    = 30 * 24 * time.Hour
	maxSessionTTL        = 90 * 24 * time.Hour
	maxUploadLimit       = 64 << 20
)

// Server serves the site and the API. It is an http.Handler and safe for
// concurrent use; it starts no goroutines.
type Server struct {
	cfg      Config
	cat      catalog.Catalog
	stats    TrackerStats
	log      *slog.Logger
	now      func() time.Time
	siteURL  *url.URL   // nil: from the request
	announce []*url.URL // nil: from the site URL
	keyForm  KeyForm
	pages    map[string]*pageTemplate
	mux      *http.ServeMux
	api      []apiRoute

	loginByName, loginByIP, signupByIP *limiter
	// hashSem bounds concurrent password hashing (argon2id costs memory
	// and CPU); a flood of sign-ins waits instead of exhausting both.
	hashSem chan struct{}
}

//go:embed templates/*.html static/*
var assets embed.FS

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("web: Config.Catalog is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxUploadSize <= 0 {
		cfg.MaxUploadSize = DefaultMaxUploadSize
	}
	cfg.MaxUploadSize = min(cfg.MaxUploadSize, maxUploadLimit)
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	cfg.SessionTTL = min(cfg.SessionTTL, maxSessionTTL)
	if cfg.LoginLimit.Failures <= 0 || cfg.LoginLimit.Window <= 0 {
		cfg.LoginLimit = RateLimit{Failures: 5, Window: 15 * time.Minute}
	}
	if cfg.LoginIPLimit.Failures <= 0 || cfg.LoginIPLimit.Window <= 0 {
		cfg.LoginIPLimit = RateLimit{Failures: 20, Window: 15 * time.Minute}
	}
	s := &Server{
		cfg:         cfg,
		cat:         cfg.Catalog,
		stats:       cfg.Tracker,
		log:         cfg.Logger,
		now:         cfg.Now,
		loginByName: newLimiter(cfg.LoginLimit, cfg.Now),
		loginByIP:   newLimiter(cfg.LoginIPLimit, cfg.Now),
		signupByIP:  newLimiter(RateLimit{Failures: 10, Window: time.Hour}, cfg.Now),
		hashSem:     make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
	}
	if s.stats == nil {
		s.stats = noStats{}
	}
	if cfg.SiteURL != "" {
		u, err := parseBaseURL(cfg.SiteURL, "http", "https")
		if err != nil {
			return nil, fmt.Errorf("web: SiteURL: %w", err)
		}
		s.siteURL = u
	}
	var err error
	if s.keyForm, err = ParseKeyForm(string(cfg.AnnounceKeyForm)); err != nil {
		return nil, fmt.Errorf("web: AnnounceKeyForm: %w", err)
	}
	for _, a := range cfg.AnnounceURLs {
		u, err := parseBaseURL(a, "http", "https", "udp")
		if err != nil {
			return nil, fmt.Errorf("web: AnnounceURLs: %w", err)
		}
		s.announce = append(s.announce, u)
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// parseBaseURL checks a configured base URL: one of the schemes, a host,
// no query or fragment; the path loses its trailing slash.
func parseBaseURL(s string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return nil, fmt.Errorf("%q: want a URL with scheme %s", s, strings.Join(schemes, ", "))
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%q: want scheme://host[:port][/path] without user, query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// Handler returns s as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP implements http.Handler: security headers, a bound on the
// query string, panic recovery, then the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
	if s.cfg.SecureCookies {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("web: panic", "path", RedactPath(r.URL.Path), "panic", v)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	if len(r.URL.RawQuery) > maxQueryLen || len(r.URL.Path) > maxPathLen {
		http.Error(w, "request URL too long", http.StatusRequestURITooLong)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Request bounds.
const (
	maxQueryLen = 4096
	maxPathLen  = 2048
	maxFormSize = 256 << 10 // url-encoded forms: a 64 KiB description triples
	maxJSONSize = 64 << 10
	maxFieldLen = catalog.MaxDescriptionLen
)

// BootstrapLink returns the one-time link that creates the first
// administrator when the site has none (NeedsBootstrap), or "" when it
// has one. Each call makes a new invite valid for ttl (default 24 hours).
// The link is SiteURL + "/signup?invite=<code>" (a path only when SiteURL
// is empty). Print it, never log it.
func (s *Server) BootstrapLink(ctx context.Context, ttl time.Duration) (string, error) {
	need, err := s.cat.NeedsBootstrap(ctx)
	if err != nil || !need {
		return "", err
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	code, _, err := s.cat.CreateInvite(catalog.WithSystem(ctx), catalog.NewInvite{Admin: true, TTL: ttl,
		Note: "first administrator"})
	if err != nil {
		return "", err
	}
	base := ""
	if s.siteURL != nil {
		base = s.siteURL.String()
	}
	return base + "/signup?invite=" + url.QueryEscape(code), nil
}

// RedactPath replaces the secrets that site paths may carry (feed keys,
// tracker announce keys: /KEY/announce, /announce/KEY and the same for
// scrape) with "<key>", for access logs. Queries (which may carry
// passkey=KEY or invite codes) are the caller's to drop.
func RedactPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/feed/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return "/feed/<key>" + rest[i:]
		}
		return "/feed/<key>"
	}
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(parts) == 2 && (parts[1] == "announce" || parts[1] == "scrape") {
		return "/<key>/" + parts[1]
	}
	if len(parts) == 2 && (parts[0] == "announce" || parts[0] == "scrape") {
		return "/" + parts[0] + "/<key>"
	}
	return p
}

// routes registers every page and API endpoint.
func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	m.HandleFunc("GET /static/{file}", s.static)
	m.HandleFunc("GET /robots.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("User-agent: *\nDisallow: /\n"))
	})

	// Accounts.
	m.Handle("GET /login", s.page(s.loginPage, anonOK))
	m.Handle("POST /login", s.form(s.login, anonOK))
	m.Handle("POST /logout", s.form(s.logout, anonOK))
	m.Handle("GET /signup", s.page(s.signupPage, anonOK))
	m.Handle("POST /signup", s.form(s.signup, anonOK))
	m.Handle("GET /account", s.page(s.accountPage, 0))
	m.Handle("POST /account/password", s.form(s.changePassword, 0))
	m.Handle("GET /account/tokens", s.page(s.tokensPage, 0))
	m.Handle("POST /account/tokens", s.form(s.createToken, 0))
	m.Handle("POST /account/tokens/{id}/revoke", s.form(s.revokeToken, 0))

	// Torrents.
	m.Handle("GET /{$}", s.page(s.home, anonOK))
	m.Handle("GET /torrents", s.page(s.browse, 0))
	m.Handle("GET /torrent/{id}", s.page(s.torrentPage, 0))
	m.Handle("GET /torrent/{id}/download", s.page(s.download, 0))
	m.Handle("GET /torrent/{id}/edit", s.page(s.editPage, 0))
	m.Handle("POST /torrent/{id}/edit", s.form(s.editTorrent, 0))
	m.Handle("POST /torrent/{id}/delete", s.form(s.deleteTorrent, 0))
	m.Handle("GET /upload", s.page(s.uploadPage, 0))
	m.Handle("POST /upload", s.form(s.upload, multipartForm))

	// Users, feeds, stats.
	m.Handle("GET /user/{name}", s.page(s.profile, 0))
	m.Handle("POST /user/{name}/reset-key", s.form(s.resetKey, 0))
	m.Handle("POST /user/{name}/reset-feed-key", s.form(s.resetFeedKey, 0))
	m.HandleFunc("GET /feed/{key}", s.feed)
	m.HandleFunc("GET /feed/{key}/torrent/{id}", s.feedDownload)
	m.Handle("GET /stats", s.page(s.statsPage, 0))

	// Administration.
	m.Handle("GET /admin", s.page(s.adminHome, 0))
	m.Handle("GET /admin/users", s.page(s.adminUsers, 0))
	m.Handle("POST /admin/users", s.form(s.adminCreateUser, 0))
	m.Handle("GET /admin/users/{id}", s.page(s.adminUserPage, 0))
	m.Handle("POST /admin/users/{id}", s.form(s.adminUpdateUser, 0))
	m.Handle("GET /admin/invites", s.page(s.adminInvites, 0))
	m.Handle("POST /admin/invites", s.form(s.adminCreateInvite, 0))
	m.Handle("POST /admin/invites/{id}/delete", s.form(s.adminDelete("invite", "The invite was revoked.", "/admin/invites", s.cat.DeleteInvite), 0))
	m.Handle("GET /admin/groups", s.page(s.adminGroups, 0))
	m.Handle("POST /admin/groups", s.form(s.adminCreateGroup, 0))
	m.Handle("POST /admin/groups/{id}/rename", s.form(s.adminRenameGroup, 0))
	m.Handle("POST /admin/groups/{id}/delete", s.form(s.adminDelete("group", "The group was deleted.", "/admin/groups", s.cat.DeleteGroup), 0))
	m.Handle("GET /admin/categories", s.page(s.adminCategories, 0))
	m.Handle("POST /admin/categories", s.form(s.adminCreateCategory, 0))
	m.Handle("POST /admin/categories/{id}", s.form(s.adminUpdateCategory, 0))
	m.Handle("POST /admin/categories/{id}/delete", s.form(s.adminDelete("category", "The category was deleted.", "/admin/categories", s.cat.DeleteCategory), 0))
	m.Handle("GET /admin/rights", s.page(s.adminRights, 0))
	m.Handle("POST /admin/rights", s.form(s.adminSetRights, 0))
	m.Handle("GET /admin/torrents", s.page(s.adminTorrents, 0))
	m.Handle("GET /admin/clients", s.page(s.adminClients, 0))
	m.Handle("POST /admin/clients", s.form(s.adminAddClient, 0))
	m.Handle("POST /admin/clients/{id}/delete", s.form(s.adminDelete("rule", "The rule was deleted.", "/admin/clients", s.cat.DeleteClientRule), 0))
	m.Handle("GET /admin/settings", s.page(s.adminSettings, 0))
	m.Handle("POST /admin/settings", s.form(s.adminUpdateSettings, 0))
	m.Handle("GET /admin/tokens", s.page(s.adminTokens, 0))
	m.Handle("POST /admin/tokens", s.form(s.adminCreateToken, 0))
	m.Handle("POST /admin/tokens/{id}/revoke", s.form(s.adminRevokeToken, 0))
	m.Handle("GET /admin/flags", s.page(s.adminFlags, 0))
	m.Handle("POST /admin/flags/{id}/resolve", s.form(s.adminResolveFlag, 0))

	// JSON API.
	s.api = s.apiRoutes()
	for _, rt := range s.api {
		m.Handle(rt.Method+" "+rt.Path, s.apiHandler(rt))
	}
	m.HandleFunc("GET /api/v1/openapi.json", s.openAPI)
	m.HandleFunc("/api/", s.apiNotFound)

	m.Handle("/", s.page(func(q *req) error { return notFound("page") }, anonOK))
}

// static serves the embedded stylesheet and icons.
func (s *Server) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := assets.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "..") {
		http.NotFound(w, r)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
}

func notFound(what string) error { return catalog.Errorf(catalog.ENOTFOUND, "no such %s", what) }
