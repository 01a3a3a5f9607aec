package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
)

// Payloads that would run script if they reached a page unescaped. None
// holds a '/', so metainfo accepts them as names.
var xssPayloads = []string{
	`<script>alert(1)<`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	`<iframe src=javascript:alert(1)>`,
}

// unsafe reports the first raw payload found in a page.
func unsafeIn(body string) string {
	for _, p := range []string{"<script", "<img", "<svg", "<iframe", `href="javascript:`, "href='javascript:", `href="data:`, `href="vbscript:`} {
		if strings.Contains(strings.ToLower(body), strings.ToLower(p)) {
			return p
		}
	}
	return ""
}

func TestXSS(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", true)
	e.user("alice", false)
	c, admin := e.client(), e.client()
	c.login("alice")
	admin.login("root")
	desc := strings.Join([]string{
		"<script>alert(1)</script>",
		`<img src=x onerror=alert(1)>`,
		"[click](javascript:alert(1)) [click2](JAVASCRIPT:alert(1)) [c3](java&#115;cript:alert(1)) [c4](data:text/html,x)",
		"![img](javascript:alert(1)) ![ok](https://example.org/x.png)",
		"<a href=\"javascript:alert(1)\">raw link</a>",
		`[ok](https://example.org/?q="onmouseover=alert(1))`,
		"<javascript:alert(1)> <vbscript:msgbox>",
	}, "\n\n")
	var ids []int64
	for i, p := range xssPayloads {
		file := torrentFile(t, p+fmt.Sprint(i), []string{p + "file"}, []string{"dir" + p, "x" + p})
		tor := e.uploaded(c.upload(file, map[string]string{"description": desc}))
		ids = append(ids, tor.ID)
	}
	// A hostile category, group and disabled reason, shown on admin pages.
	if _, err := e.store.CreateCategory(e.sys, `<script>alert(1)<`, 9); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateGroup(e.sys, `"><svg onload=alert(1)>`); err != nil {
		t.Fatal(err)
	}
	pages := []string{"/torrents", "/torrents?q=" + url.QueryEscape(xssPayloads[1]), "/user/alice", "/admin/categories",
		"/admin/groups", "/admin/rights", "/admin/users", "/upload", "/torrents?q=%3Cscript%3E"}
	for _, id := range ids {
		pages = append(pages, fmt.Sprintf("/torrent/%d", id), fmt.Sprintf("/torrent/%d/edit", id))
	}
	for _, p := range pages {
		r := admin.get(p)
		if r.status != 200 {
			t.Errorf("%s: %d", p, r.status)
		}
		if bad := unsafeIn(r.body); bad != "" {
			i := strings.Index(strings.ToLower(r.body), strings.ToLower(bad))
			t.Errorf("%s contains %q: …%s…", p, bad, r.body[max(0, i-80):min(len(r.body), i+80)])
		}
	}
	page := admin.get(fmt.Sprintf("/torrent/%d", ids[0])).body
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;", "&lt;img src=x onerror=alert(1)&gt;",
		`<a href="https://example.org/?q=&#34;onmouseover=alert(1)" rel="nofollow noopener noreferrer">ok</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("torrent page lacks %q", want)
		}
	}
	// The download's file name is sanitised.
	r := c.get(fmt.Sprintf("/torrent/%d/download", ids[1]))
	if cd := r.header.Get("Content-Disposition"); strings.ContainsAny(strings.TrimPrefix(cd, "attachment; filename="), `<>/\`) ||
		!strings.HasPrefix(cd, "attachment; filename=") {
		t.Errorf("Content-Disposition %q", cd)
	}
	// The feed escapes names (XML).
	feed := c.get(strings.TrimPrefix(feedURL(t, c), e.ts.URL))
	if bad := unsafeIn(feed.body); bad != "" {
		t.Errorf("feed contains %q", bad)
	}
}

func feedURL(t *testing.T, c *client) string {
	t.Helper()
	r := c.get("/account")
	_ = r
	p := c.get("/user/alice").body
	i := strings.Index(p, `id="feed-url" class="select">`)
	if i < 0 {
		t.Fatal("no feed URL")
	}
	rest := p[i+len(`id="feed-url" class="select">`):]
	return rest[:strings.IndexByte(rest, '<')]
}

func TestSQLInjection(t *testing.T) {
	e := newEnv(t, nil)
	root := e.user("root", true)
	e.user("alice", false)
	secret, err := e.store.CreateCategory(e.sys, "Secret", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AddTorrent(e.sys, catalog.NewTorrent{Metainfo: torrentFile(t, "classified.txt"), CategoryID: secret.ID, OwnerID: root.ID}); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("alice")
	e.uploaded(c.upload(torrentFile(t, "public.txt"), nil))
	injections := []string{
		`' OR 1=1 --`, `" OR ""="`, `'; DROP TABLE users; --`, `%`, `_`, `*`, `classified*`, `NEAR(a b)`, `a OR b`,
		`"unterminated`, `) OR (1=1`, `\`, `classified" OR "1`, `{name}:classified`, `-public`, `^classified`,
		`1; SELECT * FROM sessions`, `' UNION SELECT password_hash FROM users --`, `!@#$%^&*()`,
	}
	for _, inj := range injections {
		r := c.get("/torrents?q=" + url.QueryEscape(inj))
		if r.status != 200 && r.status != http.StatusBadRequest {
			t.Errorf("search %q: %d", inj, r.status)
		}
		if strings.Contains(r.body, "classified.txt") {
			t.Errorf("search %q reveals a hidden torrent", inj)
		}
		if strings.Contains(r.body, "$argon2id") {
			t.Errorf("search %q leaks a password hash", inj)
		}
		if r := e.apiCall("GET", "/api/v1/torrents?q="+url.QueryEscape(inj), "", "", nil); r.status != http.StatusUnauthorized {
			t.Errorf("API search %q without token: %d", inj, r.status)
		}
		// Forms: sign-in and admin's user filter.
		r = e.client().post("/login", url.Values{"name": {inj}, "password": {inj}})
		if r.status != http.StatusUnauthorized {
			t.Errorf("login %q: %d", inj, r.status)
		}
		e.srv.signupByIP.reset("127.0.0.1")
		r = e.client().post("/signup", url.Values{"name": {inj}, "password": {"long enough"}, "password2": {"long enough"}})
		if r.status != http.StatusBadRequest && r.status != http.StatusForbidden {
			t.Errorf("signup %q: %d", inj, r.status)
		}
	}
	admin := e.client()
	admin.login("root")
	for _, inj := range injections {
		r := admin.get("/admin/users?q=" + url.QueryEscape(inj))
		if r.status != 200 && r.status != http.StatusBadRequest {
			t.Errorf("user filter %q: %d", inj, r.status)
		}
		if strings.Contains(r.body, `data-name="alice"`) {
			t.Errorf("user filter %q matches alice", inj)
		}
	}
	// Everything still works.
	c2 := e.client()
	c2.login("alice")
	if r := c2.get("/torrents?q=public"); !strings.Contains(r.body, "public.txt") {
		t.Fatal("search broke")
	}
}

func TestOversized(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxUploadSize = 2048 })
	root := e.user("root", true)
	c := e.client()
	c.login("root")
	big := torrentFile(t, "big.txt", []string{strings.Repeat("a", 3000)})
	if r := c.upload(big, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized upload: %d", r.status)
	}
	if r := c.upload(torrentFile(t, "small.txt"), nil); r.status != http.StatusSeeOther {
		t.Fatalf("small upload: %d %s", r.status, r.body)
	}
	// Names that are not UTF-8 are refused (PostgreSQL could not store
	// them).
	if r := c.upload(torrentFile(t, "bad\xff\xfename", []string{"f\xc0\x80ile"}), nil); r.status != http.StatusBadRequest {
		t.Fatalf("non-UTF-8 names: %d", r.status)
	}
	// A url-encoded form beyond its limit.
	if r := c.post("/torrent/1/edit", url.Values{"description": {strings.Repeat("x", maxFormSize)}}); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized form: %d", r.status)
	}
	// A description beyond the catalog's limit fits the form but not the
	// catalog.
	if r := c.post("/torrent/1/edit", url.Values{"description": {strings.Repeat("x", catalog.MaxDescriptionLen+1)}}); r.status != http.StatusBadRequest {
		t.Fatalf("oversized description: %d", r.status)
	}
	tok, _ := e.token(root, catalog.TokenScopes...)
	r := e.apiCall("POST", "/api/v1/torrents", tok, "application/x-bittorrent", big)
	apiErr(t, "API oversized upload", r, http.StatusRequestEntityTooLarge, "too_large")
	ct, body := multipartBody(t, nil, big)
	apiErr(t, "API oversized multipart", e.apiCall("POST", "/api/v1/torrents", tok, ct, body), http.StatusRequestEntityTooLarge, "too_large")
	apiErr(t, "API oversized JSON", e.apiCall("POST", "/api/v1/users", tok, "application/json",
		[]byte(`{"name":"`+strings.Repeat("x", maxJSONSize)+`"}`)), http.StatusRequestEntityTooLarge, "too_large")
	// Many multipart parts.
	var parts bytes.Buffer
	fields := map[string]string{}
	for i := 0; i < 40; i++ {
		fields[fmt.Sprint("f", i)] = "x"
	}
	ct, body = multipartBody(t, fields, nil)
	parts.Write(body)
	apiErr(t, "API many parts", e.apiCall("POST", "/api/v1/torrents", tok, ct, parts.Bytes()), http.StatusBadRequest, catalog.EINVALID)
}

// TestHostileInput sends malformed requests: each gets a clear 4xx, never
// a 500.
func TestHostileInput(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", true)
	c := e.client()
	c.login("root")
	e.uploaded(c.upload(torrentFile(t, "target.txt"), nil))
	token := c.token()
	gets := map[string]int{
		"/torrent/abc": 404, "/torrent/-1": 404, "/torrent/0": 404, "/torrent/+1": 404, "/torrent/99999999999999999999": 404,
		"/torrent/1/download?x=%ff": 400, "/torrents?page=x": 400, "/torrents?page=0": 400, "/torrents?page=99999999999": 400,
		"/torrents?cat=1e9": 400, "/torrents?q=%ff%fe": 400, "/torrents?q=a%00b": 400, "/torrents?sort=evil": 400,
		"/torrents?q=" + strings.Repeat("a", 300): 400, "/torrents?q=" + strings.Repeat("a", 5000): 414,
		"/user/nobody": 404, "/user/%ff": 404, "/admin/users/x": 404, "/admin/users?q=" + strings.Repeat("a", 40): 400,
		"/admin/tokens?user=nobody": 404, "/nope": 404, "/static/nope.css": 404, "/feed/" + strings.Repeat("a", 32): 404,
	}
	if r := e.client().get("/signup?invite=" + strings.Repeat("x", 300)); r.status != 400 {
		t.Errorf("long invite: %d", r.status)
	}
	for p, want := range gets {
		if r := c.get(p); r.status != want {
			t.Errorf("GET %s: %d, want %d", truncate(p, 80), r.status, want)
		}
	}
	posts := []struct {
		path, ct, body string
		want           int
	}{
		{"/torrent/1/edit", "application/x-www-form-urlencoded", "csrf=" + token + "&category=abc", 400},
		{"/torrent/1/edit", "application/x-www-form-urlencoded", "csrf=" + token + "&description=%ff", 400},
		{"/torrent/1/edit", "application/x-www-form-urlencoded", "csrf=" + token + "&%zz=1", 400},
		{"/torrent/1/edit", "text/plain", "csrf=" + token, 400},
		{"/torrent/1/edit", "application/json", `{"csrf":"` + token + `"}`, 400},
		{"/upload", "multipart/form-data; boundary=x", "--x\r\nbroken", 400},
		{"/upload", "multipart/form-data", "no boundary", 400},
		{"/upload", "application/x-www-form-urlencoded", "csrf=" + token + "&category=1", 400},
		{"/admin/users/1", "application/x-www-form-urlencoded", "csrf=" + token + "&group=-5", 400},
		{"/admin/invites", "application/x-www-form-urlencoded", "csrf=" + token + "&days=100000", 400},
		{"/admin/categories/999", "application/x-www-form-urlencoded", "csrf=" + token + "&name=x", 404},
		{"/admin/groups/1/delete", "application/x-www-form-urlencoded", "csrf=" + token, 409},
		{"/account/tokens/abc/revoke", "application/x-www-form-urlencoded", "csrf=" + token, 404},
		{"/admin/flags/5/resolve", "application/x-www-form-urlencoded", "csrf=" + token, 404},
	}
	for _, p := range posts {
		req, _ := http.NewRequest("POST", e.ts.URL+p.path, strings.NewReader(p.body))
		req.Header.Set("Content-Type", p.ct)
		if r := c.do(req); r.status != p.want {
			t.Errorf("POST %s %q: %d, want %d: %s", p.path, truncate(p.body, 60), r.status, p.want, truncate(r.body, 300))
		}
	}
	// Garbage cookies are ignored, not errors.
	for _, v := range []string{"x", strings.Repeat("a", 500), "%ff%00", "abcdefghijklmnopqrstuvwxyz0123456789"} {
		req, _ := http.NewRequest("GET", e.ts.URL+"/login", nil)
		req.Header.Set("Cookie", "gale_session="+v+"; gale_flash="+v+"; gale_csrf="+v)
		if r := (&client{e: e, hc: &http.Client{}}).do(req); r.status != 200 {
			t.Errorf("cookie %q: %d", truncate(v, 20), r.status)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"plain", `attachment; filename=plain.torrent`},
		{"with space", `attachment; filename="with space.torrent"`},
		{`a/b\c"d`, `attachment; filename=a_b_c_d.torrent`},
		{"évian", `attachment; filename=_vian.torrent; filename*=UTF-8''%C3%A9vian.torrent`},
		{"\x00\x01", `attachment; filename=torrent-7.torrent`},
		{"..", `attachment; filename=torrent-7.torrent`},
		{"x\r\nSet-Cookie: a=b", `attachment; filename="xSet-Cookie_ a=b.torrent"`},
	} {
		if got := contentDisposition(&catalog.Torrent{ID: 7, Name: tc.name}); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRedactPath(t *testing.T) {
	for in, want := range map[string]string{
		"/feed/0000000100112233445566778899aabb":           "/feed/<key>",
		"/feed/0000000100112233445566778899aabb/torrent/3": "/feed/<key>/torrent/3",
		"/0000000100112233445566778899aabb/announce":       "/<key>/announce",
		"/announce/0000000100112233445566778899aabb":       "/announce/<key>",
		"/scrape/0000000100112233445566778899aabb":         "/scrape/<key>",
		"/announce":  "/announce",
		"/torrent/3": "/torrent/3",
	} {
		if got := RedactPath(in); got != want {
			t.Errorf("RedactPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a catalog succeeded")
	}
	e := newEnv(t, nil)
	for _, bad := range []Config{
		{Catalog: e.store, SiteURL: "ftp://x"},
		{Catalog: e.store, SiteURL: "https://"},
		{Catalog: e.store, SiteURL: "https://x/?q=1"},
		{Catalog: e.store, AnnounceURLs: []string{"wss://x"}},
		{Catalog: e.store, AnnounceURLs: []string{"udp://u:p@x:1"}},
		{Catalog: e.store, AnnounceKeyForm: "cookie"},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q %q) succeeded", bad.SiteURL, bad.AnnounceURLs)
		}
	}
	// Without announce URLs, the site's own URL is the tracker.
	e2 := newEnv(t, func(c *Config) { c.AnnounceURLs = nil; c.SiteURL = "https://site.test/" })
	alice := e2.user("alice", false)
	c := e2.client()
	c.login("alice")
	tor := e2.uploaded(c.upload(torrentFile(t, "self.txt"), nil))
	r := c.get(fmt.Sprintf("/torrent/%d/download", tor.ID))
	key := catalog.Passkey(e2.secret(), 0, uint32(alice.ID), tor.SwarmHash())
	if !strings.Contains(r.body, "https://site.test/"+key+"/announce") {
		t.Fatalf("announce URL not from SiteURL: %q", r.body)
	}
}

func TestCrossOriginForm(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	c := e.client()
	c.login("alice")
	form := url.Values{"csrf": {c.token()}}
	req, _ := http.NewRequest("POST", e.ts.URL+"/user/alice/reset-key", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if r := c.do(req); r.status != http.StatusForbidden {
		t.Fatalf("cross-site form with a valid token: %d", r.status)
	}
	req, _ = http.NewRequest("POST", e.ts.URL+"/user/alice/reset-key", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if r := c.do(req); r.status != http.StatusSeeOther {
		t.Fatalf("same-origin form: %d", r.status)
	}
}
