package web

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
)

// FuzzRequests sends arbitrary requests, signed in as an administrator
// with a valid CSRF token, to a server on a real store: whatever the
// method, path, content type and body, the answer is never a 500 (a
// panic would be one).
func FuzzRequests(f *testing.F) {
	e := newEnv(f, nil)
	root := e.user("root", true)
	e.user("alice", false)
	tor, err := e.store.AddTorrent(e.sys, catalog.NewTorrent{Metainfo: torrentFile(f, "fuzz.txt"), CategoryID: 1, OwnerID: root.ID})
	if err != nil {
		f.Fatal(err)
	}
	_ = tor
	session := ""
	apiToken, _ := e.token(root, catalog.TokenScopes...)
	// Bodies may hold CSRFTOKEN, replaced by the session's token, so
	// multipart forms get past the CSRF check too.
	ct, mp := multipartBody(f, map[string]string{"csrf": "CSRFTOKEN", "category": "1", "description": "d"}, torrentFile(f, "mp.txt"))
	for _, s := range []struct{ method, path, ct, body string }{
		{"GET", "/torrents?q=a&cat=1&sort=name&page=2", "", ""},
		{"GET", "/torrent/1", "", ""},
		{"GET", "/torrent/1/download", "", ""},
		{"POST", "/torrent/1/edit", "application/x-www-form-urlencoded", "description=x&category=1&freeleech_shown=1"},
		{"POST", "/upload", ct, string(mp)},
		{"POST", "/admin/rights", "application/x-www-form-urlencoded", "cells=1-1&r-1-1=see"},
		{"POST", "/admin/users", "application/x-www-form-urlencoded", "name=bob&group=1"},
		{"POST", "/admin/settings", "application/x-www-form-urlencoded", "site_name=x&signup=open&flag_rate=1"},
		{"GET", "/api/v1/torrents/1", "", ""},
		{"POST", "/api/v1/users", "application/json", `{"name":"x"}`},
		{"POST", "/api/v1/torrents?owner=alice", "application/x-bittorrent", string(torrentFile(f, "raw.txt"))},
		{"DELETE", "/api/v1/torrents/1", "application/json", `{"reason":"r"}`},
		{"POST", "/api/v1/users/alice/disable", "application/json", `{"reason":"r"}`},
		{"GET", "/user/alice", "", ""},
		{"POST", "/admin/clients", "application/x-www-form-urlencoded", "prefix=-X&action=deny"},
	} {
		f.Add(s.method, s.path, s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, method, path, ct string, body []byte) {
		if strings.HasPrefix(path, "/logout") || strings.HasPrefix(path, "/login") || strings.HasPrefix(path, "/account/password") ||
			strings.HasPrefix(path, "/signup") {
			return // these end the fuzzer's session; tested elsewhere
		}
		if _, err := e.store.SessionUser(context.Background(), session); err != nil {
			if session, err = e.store.CreateSession(e.sys, root.ID, DefaultSessionTTL); err != nil {
				t.Fatal(err)
			}
		}
		body = bytes.ReplaceAll(body, []byte("CSRFTOKEN"), []byte(sessionCSRF(session)))
		if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			body = append([]byte("csrf="+sessionCSRF(session)+"&"), body...)
		}
		req, err := http.NewRequest(method, "http://site.test"+path, bytes.NewReader(body))
		if err != nil || req.URL.Path == "" || req.URL.Path[0] != '/' {
			return
		}
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		req.AddCookie(&http.Cookie{Name: "gale_session", Value: session})
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q (%s, %q): %d %s", method, path, ct, body, w.Code, w.Body.String())
		}
	})
}
