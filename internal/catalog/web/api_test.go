package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/metainfo"
)

func decodeJSON(t *testing.T, r *resp, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("status %d, body %q: %v", r.status, r.body, err)
	}
}

// apiErr checks an error response's status and code.
func apiErr(t *testing.T, what string, r *resp, status int, code string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("%s: status %d, body %q is not a JSON error", what, r.status, r.body)
	}
	if r.status != status || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("%s: %d %+v, want %d %s", what, r.status, e, status, code)
	}
}

// TestAPISeedSite walks through what an external site does: register a
// torrent for a user, hand out the user's personal .torrent, read stats,
// manage users, delete.
func TestAPISeedSite(t *testing.T) {
	e := newEnv(t, nil)
	root := e.user("root", true)
	tok, _ := e.token(root, catalog.TokenScopes...)

	// Create a user for the site's member.
	r := e.apiCall("POST", "/api/v1/users", tok, "application/json", []byte(`{"name": "member", "group": "users"}`))
	var u apiUserJSON
	decodeJSON(t, r, &u)
	if r.status != http.StatusCreated || u.Name != "member" || u.GroupID != 1 {
		t.Fatalf("create user: %d %s", r.status, r.body)
	}
	dup := e.apiCall("POST", "/api/v1/users", tok, "application/json", []byte(`{"name": "MEMBER"}`))
	apiErr(t, "duplicate user", dup, http.StatusConflict, catalog.ECONFLICT)
	apiErr(t, "unknown field", e.apiCall("POST", "/api/v1/users", tok, "application/json", []byte(`{"name": "x", "root": true}`)),
		http.StatusBadRequest, catalog.EINVALID)
	apiErr(t, "bad JSON", e.apiCall("POST", "/api/v1/users", tok, "application/json", []byte(`{"name": `)),
		http.StatusBadRequest, catalog.EINVALID)

	// Register a torrent owned by the member: raw body, then multipart.
	file := catalogtest.MakeTorrent(t, "api-hybrid", metainfo.Hybrid)
	r = e.apiCall("POST", "/api/v1/torrents?owner=member&category_id=1&description=hello", tok, "application/x-bittorrent", file)
	var tor apiTorrentJSON
	decodeJSON(t, r, &tor)
	if r.status != http.StatusCreated || tor.Owner != "member" || tor.InfoHash == "" || tor.InfoHashV2 == "" || tor.Description != "hello" {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	apiErr(t, "duplicate", e.apiCall("POST", "/api/v1/torrents", tok, "application/x-bittorrent", file), http.StatusConflict, catalog.ECONFLICT)
	apiErr(t, "garbage", e.apiCall("POST", "/api/v1/torrents", tok, "application/x-bittorrent", []byte("<html>")), http.StatusBadRequest, catalog.EINVALID)
	apiErr(t, "empty", e.apiCall("POST", "/api/v1/torrents", tok, "application/x-bittorrent", nil), http.StatusBadRequest, catalog.EINVALID)
	ct, body := multipartBody(t, map[string]string{"owner": "member", "category": "General"}, torrentFile(t, "multi.txt"))
	r = e.apiCall("POST", "/api/v1/torrents", tok, ct, body)
	var tor2 apiTorrentJSON
	decodeJSON(t, r, &tor2)
	if r.status != http.StatusCreated || tor2.Name != "multi.txt" || tor2.CategoryID != 1 {
		t.Fatalf("multipart register: %d %s", r.status, r.body)
	}
	apiErr(t, "unknown category", e.apiCall("POST", "/api/v1/torrents?category=Nope", tok, "application/x-bittorrent", torrentFile(t, "c.txt")),
		http.StatusNotFound, catalog.ENOTFOUND)

	// Fetch the member's personal .torrent, by hash and by ID.
	stored, err := e.store.TorrentByHash(e.sys, tor.InfoHash)
	if err != nil {
		t.Fatal(err)
	}
	member := mustUser(e, "member")
	for _, ref := range []string{tor.InfoHash, tor.InfoHashV2, fmt.Sprint(tor.ID)} {
		r = e.apiCall("GET", "/api/v1/torrents/"+ref+"/download?user=member", tok, "", nil)
		if r.status != 200 || r.header.Get("Content-Type") != "application/x-bittorrent" {
			t.Fatalf("download %s: %d %s", ref, r.status, r.body)
		}
		checkPersonal(e, []byte(r.body), stored, member)
	}
	r = e.apiCall("GET", fmt.Sprintf("/api/v1/torrents/%d/announce?user=member", tor.ID), tok, "", nil)
	var ann struct {
		Key      string   `json:"key"`
		Announce []string `json:"announce"`
	}
	decodeJSON(t, r, &ann)
	if want := catalog.Passkey(e.secret(), member.KeyVersion, uint32(member.ID), stored.SwarmHash()); ann.Key != want ||
		len(ann.Announce) != 2 || ann.Announce[0] != "http://tracker.test:6969/"+want+"/announce" {
		t.Fatalf("announce: %s", r.body)
	}

	// Stats.
	e.stats.set(stored.SwarmHash(), SwarmStats{Seeders: 1, Leechers: 4, Completed: 2})
	r = e.apiCall("GET", "/api/v1/torrents/"+tor.InfoHash+"/stats", tok, "", nil)
	var ts apiTorrentStats
	decodeJSON(t, r, &ts)
	if ts.Seeders != 1 || ts.Leechers != 4 || ts.Completed != 2 || ts.ID != tor.ID {
		t.Fatalf("torrent stats: %s", r.body)
	}
	r = e.apiCall("GET", "/api/v1/stats", tok, "", nil)
	var st struct {
		Site    catalog.SiteStats `json:"site"`
		Tracker TrackerTotals     `json:"tracker"`
	}
	decodeJSON(t, r, &st)
	if st.Site.Users != 2 || st.Site.Torrents != 2 || st.Tracker.Leechers != 4 {
		t.Fatalf("site stats: %s", r.body)
	}
	r = e.apiCall("GET", "/api/v1/torrents?q=hybrid", tok, "", nil)
	var list struct {
		Torrents []apiTorrentJSON `json:"torrents"`
		Total    int              `json:"total"`
	}
	decodeJSON(t, r, &list)
	if list.Total != 1 || list.Torrents[0].ID != tor.ID || list.Torrents[0].Seeders != 1 {
		t.Fatalf("search: %s", r.body)
	}
	if r := e.apiCall("GET", "/api/v1/categories", tok, "", nil); r.status != 200 || !strings.Contains(r.body, `"General"`) {
		t.Fatalf("categories: %d %s", r.status, r.body)
	}

	// Users: get, reset the key, disable, enable.
	r = e.apiCall("GET", "/api/v1/users/member", tok, "", nil)
	var got apiUserJSON
	decodeJSON(t, r, &got)
	if got.Stats == nil || got.Stats.Ratio == nil || *got.Stats.Ratio != 0 {
		t.Fatalf("get user: %s", r.body)
	}
	if r := e.apiCall("POST", "/api/v1/users/member/reset-key", tok, "", nil); r.status != 200 {
		t.Fatalf("reset key: %d %s", r.status, r.body)
	}
	r = e.apiCall("GET", fmt.Sprintf("/api/v1/torrents/%d/announce?user=member", tor.ID), tok, "", nil)
	if strings.Contains(r.body, ann.Key) {
		t.Fatal("the key survived a reset")
	}
	r = e.apiCall("POST", "/api/v1/users/member/disable", tok, "application/json", []byte(`{"reason": "left the site"}`))
	decodeJSON(t, r, &got)
	if !got.Disabled || got.DisabledReason != "left the site" {
		t.Fatalf("disable: %s", r.body)
	}
	apiErr(t, "download for a disabled user", e.apiCall("GET", "/api/v1/torrents/"+tor.InfoHash+"/download?user=member", tok, "", nil),
		http.StatusForbidden, catalog.EFORBIDDEN)
	r = e.apiCall("POST", "/api/v1/users/member/enable", tok, "", nil)
	decodeJSON(t, r, &got)
	if got.Disabled {
		t.Fatalf("enable: %s", r.body)
	}

	// Delete with a reason.
	r = e.apiCall("DELETE", "/api/v1/torrents/"+tor.InfoHash, tok, "application/json", []byte(`{"reason": "dupe"}`))
	if r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	gone, _ := e.store.Torrent(e.sys, tor.ID)
	if !gone.Deleted || gone.DeleteReason != "dupe" {
		t.Fatalf("after delete: %+v", gone)
	}
	apiErr(t, "delete twice", e.apiCall("DELETE", "/api/v1/torrents/"+tor.InfoHash, tok, "", nil), http.StatusConflict, catalog.ECONFLICT)

	// Unknown paths and methods answer in JSON.
	apiErr(t, "unknown path", e.apiCall("GET", "/api/v1/nope", tok, "", nil), http.StatusNotFound, catalog.ENOTFOUND)
	r = e.apiCall("PUT", "/api/v1/torrents", tok, "", nil)
	apiErr(t, "wrong method", r, http.StatusMethodNotAllowed, "method_not_allowed")
	if r.header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow: %q", r.header.Get("Allow"))
	}
	for _, ref := range []string{"abc", "-1", "0", "99999999999999999999", strings.Repeat("z", 40), strings.Repeat("0", 64)} {
		r := e.apiCall("GET", "/api/v1/torrents/"+url.PathEscape(ref), tok, "", nil)
		if r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
			t.Errorf("ref %q: %d", ref, r.status)
		}
	}
}

func TestAPITokens(t *testing.T) {
	e := newEnv(t, nil)
	root := e.user("root", true)
	bob := e.user("bob", false)
	read, _ := e.token(root, catalog.ScopeTorrentsRead)
	bobTok, _ := e.token(bob, catalog.TokenScopes...)
	revoked, rtk := e.token(root, catalog.TokenScopes...)
	if err := e.store.RevokeToken(e.sys, rtk.ID); err != nil {
		t.Fatal(err)
	}

	r := e.apiCall("GET", "/api/v1/stats", "", "", nil)
	apiErr(t, "no token", r, http.StatusUnauthorized, catalog.EUNAUTHORIZED)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate")
	}
	apiErr(t, "bad token", e.apiCall("GET", "/api/v1/stats", "gale_nope", "", nil), http.StatusUnauthorized, catalog.EUNAUTHORIZED)
	apiErr(t, "revoked token", e.apiCall("GET", "/api/v1/stats", revoked, "", nil), http.StatusUnauthorized, catalog.EUNAUTHORIZED)

	// Scopes are enforced per endpoint, even for an administrator.
	apiErr(t, "stats without stats:read", e.apiCall("GET", "/api/v1/stats", read, "", nil), http.StatusForbidden, catalog.EFORBIDDEN)
	apiErr(t, "create user without users:write", e.apiCall("POST", "/api/v1/users", read, "application/json", []byte(`{"name":"x"}`)),
		http.StatusForbidden, catalog.EFORBIDDEN)
	apiErr(t, "register without torrents:write", e.apiCall("POST", "/api/v1/torrents", read, "application/x-bittorrent", torrentFile(t, "s.txt")),
		http.StatusForbidden, catalog.EFORBIDDEN)
	if r := e.apiCall("GET", "/api/v1/torrents", read, "", nil); r.status != 200 {
		t.Fatalf("list with torrents:read: %d", r.status)
	}
	if _, err := e.store.CreateUser(e.sys, catalog.NewUser{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	// Rights still apply: bob's token has every scope but bob is no
	// administrator.
	apiErr(t, "non-admin creates a user", e.apiCall("POST", "/api/v1/users", bobTok, "application/json", []byte(`{"name":"y"}`)),
		http.StatusForbidden, catalog.EFORBIDDEN)
	apiErr(t, "non-admin disables a user", e.apiCall("POST", "/api/v1/users/root/disable", bobTok, "", nil), http.StatusForbidden, catalog.EFORBIDDEN)
	r = e.apiCall("POST", "/api/v1/torrents", bobTok, "application/x-bittorrent", torrentFile(t, "bobs.txt"))
	var tor apiTorrentJSON
	decodeJSON(t, r, &tor)
	apiErr(t, "download for another user", e.apiCall("GET", fmt.Sprintf("/api/v1/torrents/%d/download?user=root", tor.ID), bobTok, "", nil),
		http.StatusForbidden, catalog.EFORBIDDEN)
	if r := e.apiCall("GET", fmt.Sprintf("/api/v1/torrents/%d/download", tor.ID), bobTok, "", nil); r.status != 200 {
		t.Fatalf("own download: %d %s", r.status, r.body)
	}
	// A disabled user's tokens stop working.
	disabled := true
	if _, err := e.store.UpdateUser(e.sys, bob.ID, catalog.UserUpdate{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	apiErr(t, "disabled user's token", e.apiCall("GET", "/api/v1/me", bobTok, "", nil), http.StatusUnauthorized, catalog.EUNAUTHORIZED)
	// Session cookies do not authenticate API calls.
	c := e.client()
	c.login("root")
	if r := c.get("/api/v1/me"); r.status != http.StatusUnauthorized {
		t.Fatalf("API with a session cookie: %d", r.status)
	}
}

// TestOpenAPICoversRoutes keeps openapi.json and apiRoutes in step: every
// route is documented with its scope, and every documented operation
// exists.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t, nil)
	r := e.client().get("/api/v1/openapi.json")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d", r.status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	decodeJSON(t, r, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]string{} // "GET /path" -> scope
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				OperationID string `json:"operationId"`
				Scope       string `json:"x-scope"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.OperationID == "" {
				t.Errorf("%s %s: no operationId (%v)", method, path, err)
			}
			documented[strings.ToUpper(method)+" "+path] = op.Scope
		}
	}
	routes := map[string]bool{"GET /api/v1/openapi.json": true}
	for _, rt := range e.srv.api {
		k := rt.Method + " " + rt.Path
		routes[k] = true
		scope, ok := documented[k]
		if !ok {
			t.Errorf("route %s is not in openapi.json", k)
		} else if scope != rt.Scope {
			t.Errorf("route %s: scope %q in openapi.json, %q in the code", k, scope, rt.Scope)
		}
	}
	var extra []string
	for k := range documented {
		if !routes[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.json documents operations that do not exist: %v", extra)
	}
}
