package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
)

func TestSignInFlow(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	c := e.client()

	// Anonymous visitors are sent to the sign-in page, keeping where
	// they wanted to go.
	r := c.get("/torrents?q=x")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next=%2Ftorrents%3Fq%3Dx" {
		t.Fatalf("anonymous /torrents: %d %q", r.status, r.header.Get("Location"))
	}
	r = c.get("/login?next=%2Ftorrents")
	if r.status != 200 || !strings.Contains(r.body, `id="login-form"`) {
		t.Fatalf("login page: %d", r.status)
	}

	bad := c.post("/login", url.Values{"name": {"alice"}, "password": {"wrong-password"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "wrong name or password") {
		t.Fatalf("wrong password: %d %s", bad.status, bad.body)
	}
	unknown := c.post("/login", url.Values{"name": {"nobody"}, "password": {"wrong-password"}})
	if unknown.status != http.StatusUnauthorized || !strings.Contains(unknown.body, "wrong name or password") {
		t.Fatalf("unknown user: %d", unknown.status)
	}

	r = c.post("/login", url.Values{"name": {"alice"}, "password": {"password-alice"}, "next": {"/torrents"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/torrents" {
		t.Fatalf("login: %d %q", r.status, r.header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "gale_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || session.Path != "/" {
		t.Fatalf("session cookie: %+v", session)
	}
	home := c.get("/")
	if home.status != 200 || !strings.Contains(home.body, `id="nav-profile" href="/user/alice"`) {
		t.Fatalf("home after sign-in: %d", home.status)
	}

	// Open redirects are refused.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		c2 := e.client()
		r := c2.post("/login", url.Values{"name": {"alice"}, "password": {"password-alice"}, "next": {next}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
			t.Errorf("next=%q: redirected to %q", next, r.header.Get("Location"))
		}
	}

	// Signing out ends the session on the server too.
	if r := c.post("/logout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if _, err := e.store.SessionUser(context.Background(), session.Value); catalog.ErrorCode(err) != catalog.EUNAUTHORIZED {
		t.Fatalf("session after logout: %v", err)
	}
	if r := c.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("account after logout: %d", r.status)
	}
}

func TestSecureCookiesAndHeaders(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SecureCookies = true })
	e.user("alice", false)
	c := e.client()
	r := c.get("/login")
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Strict-Transport-Security"} {
		if r.header.Get(h) == "" {
			t.Errorf("header %s missing", h)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	// The Secure cookie is not sent back over plain HTTP by the jar, so
	// post the CSRF cookie by hand.
	var csrf *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "__Host-gale_csrf" {
			csrf = ck
		}
	}
	if csrf == nil || !csrf.Secure || !csrf.HttpOnly {
		t.Fatalf("csrf cookie: %+v", csrf)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/login", strings.NewReader(url.Values{"name": {"alice"},
		"password": {"password-alice"}, "csrf": {csrf.Value}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	r = c.do(req)
	if r.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	var session *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "__Host-gale_session" {
			session = ck
		}
	}
	if session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie: %+v", session)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	e.user("bob", false)
	alice, bob := e.client(), e.client()
	alice.login("alice")
	bob.login("bob")
	bobToken := bob.token()
	aliceToken := alice.token()
	if bobToken == aliceToken {
		t.Fatal("two sessions share a CSRF token")
	}
	user, _ := e.store.UserByName(e.sys, "alice")
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"missing", url.Values{}},
		{"empty", url.Values{"csrf": {""}}},
		{"wrong", url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}},
		{"another session's", url.Values{"csrf": {bobToken}}},
		{"prefix", url.Values{"csrf": {aliceToken[:len(aliceToken)-1]}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := alice.postRaw("/user/alice/reset-key", tc.form)
			if r.status != http.StatusForbidden || !strings.Contains(r.body, "security token") {
				t.Fatalf("reset-key with %s token: %d", tc.name, r.status)
			}
			r = alice.postRaw("/logout", tc.form)
			if r.status != http.StatusForbidden {
				t.Fatalf("logout with %s token: %d", tc.name, r.status)
			}
		})
	}
	after, _ := e.store.User(e.sys, user.ID)
	if after.KeyVersion != user.KeyVersion {
		t.Fatal("a request without a valid CSRF token changed the key")
	}
	// Multipart forms are checked too.
	ct, body := multipartBody(t, map[string]string{"category": "1"}, torrentFile(t, "csrf.txt"))
	req, _ := http.NewRequest("POST", e.ts.URL+"/upload", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", ct)
	if r := alice.do(req); r.status != http.StatusForbidden {
		t.Fatalf("upload without token: %d", r.status)
	}
	// Anonymous forms (sign-in) need the cookie's token.
	anon := e.client()
	if r := anon.postRaw("/login", url.Values{"name": {"alice"}, "password": {"password-alice"}}); r.status != http.StatusForbidden {
		t.Fatalf("login without token: %d", r.status)
	}
	// With the right token it works.
	if r := alice.post("/user/alice/reset-key", nil); r.status != http.StatusSeeOther {
		t.Fatalf("reset-key with token: %d %s", r.status, r.body)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	c := e.client()
	for i := 0; i < 5; i++ {
		if r := c.post("/login", url.Values{"name": {"alice"}, "password": {"nope-nope"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	// Blocked now, even with the right password, and with the name in
	// another case.
	for _, name := range []string{"alice", "ALICE"} {
		r := c.post("/login", url.Values{"name": {name}, "password": {"password-alice"}})
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("login %s after 5 failures: %d", name, r.status)
		}
	}
	e.clock.Advance(16 * time.Minute)
	c.login("alice")

	// Per address: 20 failures over many names.
	for i := 0; i < 20; i++ {
		c.post("/login", url.Values{"name": {fmt.Sprintf("user%d", i)}, "password": {"nope-nope"}})
	}
	if r := e.client().post("/login", url.Values{"name": {"alice"}, "password": {"password-alice"}}); r.status != http.StatusTooManyRequests {
		t.Fatalf("login after 20 failures from the address: %d", r.status)
	}
}

func TestLimiterBounded(t *testing.T) {
	now := time.Unix(1e9, 0)
	l := newLimiter(RateLimit{Failures: 2, Window: time.Minute}, func() time.Time { return now })
	for i := 0; i < maxLimiterKeys+5000; i++ {
		l.add(fmt.Sprint(i))
	}
	if n := l.size(); n > maxLimiterKeys {
		t.Fatalf("limiter holds %d keys", n)
	}
	l.add("x")
	l.add("x")
	if b, d := l.blocked("x"); !b || d <= 0 || d > time.Minute {
		t.Fatalf("blocked = %v, %v", b, d)
	}
	now = now.Add(time.Minute)
	if b, _ := l.blocked("x"); b {
		t.Fatal("still blocked after the window")
	}
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SiteURL = "https://site.test" })
	ctx := context.Background()
	c := e.client()
	if r := c.get("/"); r.status != 200 || !strings.Contains(r.body, `id="welcome"`) {
		t.Fatalf("home without admin: %d", r.status)
	}
	link, err := e.srv.BootstrapLink(ctx, 0)
	if err != nil || !strings.HasPrefix(link, "https://site.test/signup?invite=") {
		t.Fatalf("BootstrapLink = %q, %v", link, err)
	}
	path := strings.TrimPrefix(link, "https://site.test")
	r := c.get(path)
	if r.status != 200 || !strings.Contains(r.body, `id="signup-bootstrap"`) {
		t.Fatalf("bootstrap page: %d", r.status)
	}
	invite := regexp.MustCompile(`name="invite" value="([^"]+)"`).FindStringSubmatch(r.body)
	if invite == nil {
		t.Fatal("no invite field")
	}
	r = c.post("/signup", url.Values{"name": {"root"}, "password": {"correct horse"}, "password2": {"correct horse"},
		"invite": {invite[1]}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	if r := c.get("/admin"); r.status != 200 || !strings.Contains(r.body, `id="admin-menu"`) {
		t.Fatalf("admin page of the new administrator: %d", r.status)
	}
	if link, err := e.srv.BootstrapLink(ctx, 0); link != "" || err != nil {
		t.Fatalf("BootstrapLink with an admin = %q, %v", link, err)
	}
	// The link is single-use.
	c2 := e.client()
	r = c2.post("/signup", url.Values{"name": {"root2"}, "password": {"correct horse"}, "password2": {"correct horse"},
		"invite": {invite[1]}})
	if r.status != http.StatusForbidden {
		t.Fatalf("second use of the link: %d", r.status)
	}
}

func TestSignupModes(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", true)
	set := func(m catalog.SignupMode) {
		if _, err := e.store.UpdateSettings(e.sys, catalog.SettingsUpdate{Signup: &m}); err != nil {
			t.Fatal(err)
		}
	}
	form := func(name, invite string) url.Values {
		return url.Values{"name": {name}, "password": {"long enough"}, "password2": {"long enough"}, "invite": {invite}}
	}
	set(catalog.SignupOpen)
	if r := e.client().post("/signup", form("opener", "")); r.status != http.StatusSeeOther {
		t.Fatalf("open sign-up: %d %s", r.status, r.body)
	}
	if r := e.client().post("/signup", url.Values{"name": {"x1"}, "password": {"long enough"}, "password2": {"different!"}}); r.status != http.StatusBadRequest {
		t.Fatalf("mismatched passwords: %d", r.status)
	}
	set(catalog.SignupInvite)
	if r := e.client().post("/signup", form("noinvite", "")); r.status != http.StatusForbidden {
		t.Fatalf("invite-only sign-up without code: %d", r.status)
	}
	code, _, err := e.store.CreateInvite(e.sys, catalog.NewInvite{})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.client().post("/signup", form("invited", code)); r.status != http.StatusSeeOther {
		t.Fatalf("sign-up with invite: %d %s", r.status, r.body)
	}
	set(catalog.SignupClosed)
	if r := e.client().get("/signup"); !strings.Contains(r.body, `id="signup-closed"`) {
		t.Fatal("closed sign-up shows a form")
	}
	if r := e.client().post("/signup", form("closed1", "")); r.status != http.StatusForbidden {
		t.Fatalf("closed sign-up: %d", r.status)
	}
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	c, other := e.client(), e.client()
	c.login("alice")
	other.login("alice")
	if r := c.post("/account/password", url.Values{"current": {"wrong"}, "password": {"new password"}, "password2": {"new password"}}); r.status != http.StatusForbidden {
		t.Fatalf("wrong current password: %d", r.status)
	}
	r := c.post("/account/password", url.Values{"current": {"password-alice"}, "password": {"new password"}, "password2": {"new password"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if r := c.get("/account"); r.status != 200 {
		t.Fatalf("the changing session ended: %d", r.status)
	}
	if r := other.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("another session survived the change: %d", r.status)
	}
	if _, err := e.store.Authenticate(context.Background(), "alice", "new password"); err != nil {
		t.Fatal(err)
	}
}

func TestDisabledUser(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", true)
	bob := e.user("bob", false)
	admin, victim := e.client(), e.client()
	admin.login("root")
	victim.login("bob")
	r := admin.post(fmt.Sprintf("/admin/users/%d", bob.ID), url.Values{"flags": {"1"}, "disabled": {"1"},
		"reason": {"ratio <script>"}, "group": {"1"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := victim.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("disabled user's session: %d", r.status)
	}
	r = victim.post("/login", url.Values{"name": {"bob"}, "password": {"password-bob"}})
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "disabled: ratio &lt;script&gt;") {
		t.Fatalf("disabled sign-in: %d %s", r.status, r.body)
	}
	list := admin.get("/admin/users")
	if !strings.Contains(list.body, `<span class="badge del">disabled</span> ratio &lt;script&gt;`) {
		t.Fatal("the user list does not show the disabled user")
	}
	// An administrator saving their own page keeps their flags.
	root, _ := e.store.UserByName(e.sys, "root")
	if r := admin.post(fmt.Sprintf("/admin/users/%d", root.ID), url.Values{"group": {"1"}, "reason": {""}}); r.status != http.StatusSeeOther {
		t.Fatalf("saving one's own page: %d %s", r.status, r.body)
	}
}

func TestTokensPage(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	c := e.client()
	c.login("alice")
	r := c.post("/account/tokens", url.Values{"name": {"seed site"}, "scope": {"torrents:read", "stats:read"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	m := regexp.MustCompile(`id="token-secret" class="select">(gale_[^<]+)<`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no secret shown")
	}
	if r := e.apiCall("GET", "/api/v1/stats", m[1], "", nil); r.status != 200 {
		t.Fatalf("token works: %d %s", r.status, r.body)
	}
	if r := c.post("/account/tokens", url.Values{"name": {"x"}, "scope": {"root"}}); r.status != http.StatusBadRequest {
		t.Fatalf("unknown scope: %d", r.status)
	}
	tokens, _ := e.store.Tokens(e.sys, 0+mustUser(e, "alice").ID)
	if r := c.post(fmt.Sprintf("/account/tokens/%d/revoke", tokens[0].ID), nil); r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := e.apiCall("GET", "/api/v1/stats", m[1], "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", r.status)
	}
}

func mustUser(e *env, name string) *catalog.User {
	e.t.Helper()
	u, err := e.store.UserByName(e.sys, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}
