package web

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/bencode"
	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
)

// fastArgon keeps tests quick; production uses catalog.DefaultArgon2.
var fastArgon = catalog.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// fakeStats stands in for the tracker engine (the real one is wired by
// gale serve and tested end to end there).
type fakeStats struct {
	mu     sync.Mutex
	swarms map[[20]byte]SwarmStats
	peers  map[[20]byte][]SwarmPeer
}

func (f *fakeStats) Swarm(ih [20]byte) SwarmStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.swarms[ih]
}

func (f *fakeStats) Peers(ih [20]byte, limit int) []SwarmPeer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peers[ih]
}

func (f *fakeStats) Totals() TrackerTotals {
	f.mu.Lock()
	defer f.mu.Unlock()
	var t TrackerTotals
	for _, s := range f.swarms {
		t.Swarms++
		t.Seeders += s.Seeders
		t.Leechers += s.Leechers
		t.Completed += s.Completed
	}
	return t
}

func (f *fakeStats) set(ih [20]byte, s SwarmStats) {
	f.mu.Lock()
	f.swarms[ih] = s
	f.mu.Unlock()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     testing.TB
	store *sqlstore.Store
	srv   *Server
	ts    *httptest.Server
	sys   context.Context
	stats *fakeStats
	clock *clock
}

// newEnv starts a server on a fresh SQLite store; cfg (may be nil)
// adjusts the configuration.
func newEnv(t testing.TB, cfg func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "gale.db")
	if pg := os.Getenv("GALE_TEST_POSTGRES"); pg != "" {
		dsn = postgresDB(t, pg)
	}
	store, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Argon2: fastArgon})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, store: store, sys: catalog.WithSystem(ctx),
		stats: &fakeStats{swarms: map[[20]byte]SwarmStats{}, peers: map[[20]byte][]SwarmPeer{}},
		clock: &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
	c := Config{Catalog: store, Tracker: e.stats, AnnounceURLs: []string{"http://tracker.test:6969", "udp://tracker.test:6969"},
		Now: e.clock.Now}
	if cfg != nil {
		cfg(&c)
	}
	if e.srv, err = New(c); err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv)
	t.Cleanup(e.ts.Close)
	return e
}

// postgresDB creates a fresh database on the PostgreSQL server at base
// (GALE_TEST_POSTGRES, see scripts/postgres-test.sh), dropped after the
// test, and returns its URL: the tests then run on PostgreSQL instead of
// SQLite.
func postgresDB(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("gale_web_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			db.Close()
		}
	})
	return u.String()
}

// user creates a user with the password "password-<name>".
func (e *env) user(name string, admin bool) *catalog.User {
	e.t.Helper()
	u, err := e.store.CreateUser(e.sys, catalog.NewUser{Name: name, Password: "password-" + name, Admin: admin})
	if err != nil {
		e.t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

// secret returns the site's key secret.
func (e *env) secret() string {
	st, err := e.store.Settings(e.sys)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Secret
}

// client is a browser: a cookie jar, no redirects followed.
type client struct {
	e  *env
	hc *http.Client
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) *resp {
	c.e.t.Helper()
	r, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return &resp{status: r.StatusCode, header: r.Header, body: string(b)}
}

func (c *client) get(path string) *resp {
	c.e.t.Helper()
	req, err := http.NewRequest("GET", c.e.ts.URL+path, nil)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return c.do(req)
}

// postRaw posts a url-encoded form as is.
func (c *client) postRaw(path string, form url.Values) *resp {
	c.e.t.Helper()
	req, err := http.NewRequest("POST", c.e.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token reads the CSRF token from a page, as a browser's form holds it.
func (c *client) token() string {
	c.e.t.Helper()
	for _, p := range []string{"/account", "/login"} {
		r := c.get(p)
		if m := csrfRE.FindStringSubmatch(r.body); m != nil {
			return m[1]
		}
	}
	c.e.t.Fatal("no CSRF token on /account or /login")
	return ""
}

// post posts a form with the CSRF token.
func (c *client) post(path string, form url.Values) *resp {
	c.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.token())
	return c.postRaw(path, form)
}

// login signs in with the test password of name.
func (c *client) login(name string) {
	c.e.t.Helper()
	r := c.post("/login", url.Values{"name": {name}, "password": {"password-" + name}})
	if r.status != http.StatusSeeOther {
		c.e.t.Fatalf("login %s: status %d: %s", name, r.status, r.body)
	}
}

// multipartBody builds a multipart form with the file in "torrent".
func multipartBody(t testing.TB, fields map[string]string, file []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, err := mw.CreateFormFile("torrent", "x.torrent")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// upload posts the upload form.
func (c *client) upload(file []byte, fields map[string]string) *resp {
	c.e.t.Helper()
	f := map[string]string{"csrf": c.token(), "category": "1"}
	for k, v := range fields {
		f[k] = v
	}
	ct, body := multipartBody(c.e.t, f, file)
	req, err := http.NewRequest("POST", c.e.ts.URL+"/upload", bytes.NewReader(body))
	if err != nil {
		c.e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	return c.do(req)
}

var torrentPathRE = regexp.MustCompile(`^/torrent/(\d+)$`)

// uploaded returns the torrent a successful upload redirected to.
func (e *env) uploaded(r *resp) *catalog.Torrent {
	e.t.Helper()
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("upload: status %d: %s", r.status, r.body)
	}
	m := torrentPathRE.FindStringSubmatch(r.header.Get("Location"))
	if m == nil {
		e.t.Fatalf("upload redirected to %q", r.header.Get("Location"))
	}
	id, _ := parseID(m[1], "torrent")
	t, err := e.store.Torrent(e.sys, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// torrentFile encodes a small v1 torrent with the given name and file
// paths (a single file when none).
func torrentFile(t testing.TB, name string, paths ...[]string) []byte {
	t.Helper()
	type file struct {
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	type info struct {
		Files       []file `bencode:"files,omitempty"`
		Length      int64  `bencode:"length,omitempty"`
		Name        string `bencode:"name"`
		PieceLength int64  `bencode:"piece length"`
		Pieces      []byte `bencode:"pieces"`
	}
	in := info{Name: name, PieceLength: 16384, Pieces: make([]byte, 20)}
	if len(paths) == 0 {
		in.Length = 1000
	}
	for _, p := range paths {
		in.Files = append(in.Files, file{Length: 1000 / int64(len(paths)), Path: p})
	}
	b, err := bencode.Marshal(map[string]any{
		"announce":      "http://foreign.example/announce",
		"announce-list": [][]string{{"http://foreign.example/announce"}, {"udp://other.example:80"}},
		"info":          in,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apiCall makes an API request with a bearer token.
func (e *env) apiCall(method, path, token, contentType string, body []byte) *resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := &client{e: e, hc: &http.Client{}}
	return c.do(req)
}

// token creates an API token for u with scopes.
func (e *env) token(u *catalog.User, scopes ...string) (string, *catalog.Token) {
	e.t.Helper()
	secret, tk, err := e.store.CreateToken(e.sys, catalog.NewTokenSpec{UserID: u.ID, Name: "test", Scopes: scopes})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret, tk
}
