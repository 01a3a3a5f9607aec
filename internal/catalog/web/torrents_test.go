package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/metainfo"
)

// checkPersonal parses a downloaded .torrent and checks it is the site's
// private copy of t with u's personal announce URLs.
func checkPersonal(e *env, data []byte, t *catalog.Torrent, u *catalog.User) {
	e.t.Helper()
	mi, err := metainfo.Parse(data)
	if err != nil {
		e.t.Fatalf("downloaded torrent: %v", err)
	}
	if !mi.Info.Private {
		e.t.Error("private is not set")
	}
	if mi.Info.Source != "gale" {
		e.t.Errorf("source = %q", mi.Info.Source)
	}
	v1, v2 := t.InfoHashes()
	if t.HasV1 && fmt.Sprintf("%x", mi.InfoHash) != v1 {
		e.t.Errorf("info hash %x, registered %s", mi.InfoHash, v1)
	}
	if t.HasV2 && fmt.Sprintf("%x", mi.InfoHashV2) != v2 {
		e.t.Errorf("v2 info hash %x, registered %s", mi.InfoHashV2, v2)
	}
	u, err = e.store.User(e.sys, u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	key := catalog.Passkey(e.secret(), u.KeyVersion, uint32(u.ID), t.SwarmHash())
	want := []string{"http://tracker.test:6969/" + key + "/announce", "udp://tracker.test:6969/" + key + "/announce"}
	if mi.Announce != want[0] {
		e.t.Errorf("announce = %q, want %q", mi.Announce, want[0])
	}
	if got := mi.Trackers(); strings.Join(got, " ") != strings.Join(want, " ") {
		e.t.Errorf("trackers = %q, want %q", got, want)
	}
}

func TestUploadDownload(t *testing.T) {
	for _, v := range []metainfo.Version{metainfo.V1, metainfo.V2, metainfo.Hybrid} {
		t.Run(v.String(), func(t *testing.T) {
			e := newEnv(t, nil)
			alice := e.user("alice", false)
			c := e.client()
			c.login("alice")
			if r := c.get("/upload"); r.status != 200 || !strings.Contains(r.body, `id="upload-form"`) {
				t.Fatalf("upload page: %d", r.status)
			}
			file := catalogtest.MakeTorrent(t, "Some.Linux-"+v.String(), v)
			tor := e.uploaded(c.upload(file, map[string]string{"description": "**bold** text"}))
			if tor.OwnerID != alice.ID || tor.Name != "Some.Linux-"+v.String() {
				t.Fatalf("registered %+v", tor)
			}
			e.stats.set(tor.SwarmHash(), SwarmStats{Seeders: 3, Leechers: 2, Completed: 7})

			page := c.get(fmt.Sprintf("/torrent/%d", tor.ID))
			for _, want := range []string{`id="torrent-seeders">3<`, `id="torrent-leechers">2<`, `id="torrent-completed">7<`,
				"<strong>bold</strong>", `id="torrent-download"`, "sub/b.bin", `id="flash"`} {
				if !strings.Contains(page.body, want) {
					t.Errorf("torrent page lacks %q", want)
				}
			}
			r := c.get(fmt.Sprintf("/torrent/%d/download", tor.ID))
			if r.status != 200 || r.header.Get("Content-Type") != "application/x-bittorrent" {
				t.Fatalf("download: %d %q", r.status, r.header.Get("Content-Type"))
			}
			if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename=Some.Linux-`+v.String()+`.torrent` {
				t.Errorf("Content-Disposition %q", cd)
			}
			checkPersonal(e, []byte(r.body), tor, alice)

			// A duplicate is refused with a link to the original.
			dup := c.upload(file, nil)
			if dup.status != http.StatusConflict || !strings.Contains(dup.body, fmt.Sprintf(`id="upload-existing">It is registered as <a href="/torrent/%d">`, tor.ID)) {
				t.Fatalf("duplicate: %d %s", dup.status, dup.body)
			}
			// Browse and search find it.
			for _, p := range []string{"/torrents", "/torrents?q=linux", "/", "/torrents?q=b.bin&sort=relevance"} {
				if r := c.get(p); !strings.Contains(r.body, fmt.Sprintf(`id="torrent-row-%d"`, tor.ID)) {
					t.Errorf("%s does not list the torrent", p)
				}
			}
			if r := c.get("/torrents?q=nothingmatches"); strings.Contains(r.body, "torrent-row-") {
				t.Error("a search for nothing lists torrents")
			}
		})
	}
}

func TestResetKeyChangesDownload(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", false)
	c := e.client()
	c.login("alice")
	tor := e.uploaded(c.upload(torrentFile(t, "reset.txt"), nil))
	before := c.get(fmt.Sprintf("/torrent/%d/download", tor.ID)).body
	if r := c.post("/user/alice/reset-key", nil); r.status != http.StatusSeeOther {
		t.Fatalf("reset: %d", r.status)
	}
	after := c.get(fmt.Sprintf("/torrent/%d/download", tor.ID)).body
	if before == after {
		t.Fatal("the personal .torrent did not change after a key reset")
	}
	checkPersonal(e, []byte(after), tor, alice)
}

func TestRightsHideTorrents(t *testing.T) {
	e := newEnv(t, nil)
	root := e.user("root", true)
	e.user("alice", false)
	secret, err := e.store.CreateCategory(e.sys, "Secret", 5)
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := e.store.AddTorrent(e.sys, catalog.NewTorrent{Metainfo: torrentFile(t, "hidden-thing.txt"),
		CategoryID: secret.ID, OwnerID: root.ID})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("alice")
	for _, p := range []string{"/torrent/%d", "/torrent/%d/download", "/torrent/%d/edit"} {
		if r := c.get(fmt.Sprintf(p, hidden.ID)); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	if r := c.post(fmt.Sprintf("/torrent/%d/delete", hidden.ID), url.Values{"reason": {"x"}}); r.status != http.StatusNotFound {
		t.Errorf("delete: %d", r.status)
	}
	for _, p := range []string{"/torrents", "/torrents?q=hidden", fmt.Sprintf("/torrents?cat=%d", secret.ID)} {
		if r := c.get(p); strings.Contains(r.body, "hidden-thing") {
			t.Errorf("%s shows the hidden torrent", p)
		}
	}
	if r := c.get("/upload"); strings.Contains(r.body, "Secret") {
		t.Error("the upload form offers a category without the upload right")
	}
	// See without download: the page works, the download does not.
	if err := e.store.SetRights(e.sys, 1, secret.ID, catalog.RightSee); err != nil {
		t.Fatal(err)
	}
	page := c.get(fmt.Sprintf("/torrent/%d", hidden.ID))
	if page.status != 200 || strings.Contains(page.body, `id="torrent-download"`) {
		t.Fatalf("see-only page: %d, download link shown: %v", page.status, strings.Contains(page.body, `id="torrent-download"`))
	}
	if r := c.get(fmt.Sprintf("/torrent/%d/download", hidden.ID)); r.status != http.StatusForbidden {
		t.Errorf("see-only download: %d", r.status)
	}
	if r := c.get(fmt.Sprintf("/torrent/%d", hidden.ID)); strings.Contains(r.body, `id="torrent-peers"`) {
		t.Error("a non-moderator sees the peer list")
	}
}

func TestModeratorPages(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	e.user("root", true)
	c := e.client()
	c.login("alice")
	tor := e.uploaded(c.upload(torrentFile(t, "modme.txt"), nil))
	var pid [20]byte
	copy(pid[:], "-TR4060-abcdefghijkl")
	e.stats.peers[tor.SwarmHash()] = []SwarmPeer{{PeerID: pid, Seeder: true}}
	admin := e.client()
	admin.login("root")
	page := admin.get(fmt.Sprintf("/torrent/%d", tor.ID))
	if !strings.Contains(page.body, `id="torrent-peers"`) || !strings.Contains(page.body, "<code>-TR4060-</code>") {
		t.Fatal("the moderator's page lacks the peer lists")
	}
	// The owner edits the description; moderators set freeleech and
	// delete with a reason.
	r := c.post(fmt.Sprintf("/torrent/%d/edit", tor.ID), url.Values{"description": {"new *text*"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("owner edit: %d %s", r.status, r.body)
	}
	if r := c.post(fmt.Sprintf("/torrent/%d/edit", tor.ID), url.Values{"freeleech_shown": {"1"}, "freeleech": {"1"}}); r.status != http.StatusForbidden {
		t.Fatalf("owner sets freeleech: %d", r.status)
	}
	if r := admin.post(fmt.Sprintf("/torrent/%d/edit", tor.ID), url.Values{"freeleech_shown": {"1"}, "freeleech": {"1"}, "category": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("admin sets freeleech: %d %s", r.status, r.body)
	}
	got, _ := e.store.Torrent(e.sys, tor.ID)
	if got.Description != "new *text*" || !got.Freeleech {
		t.Fatalf("after edits: %q freeleech=%v", got.Description, got.Freeleech)
	}
	if r := admin.post(fmt.Sprintf("/torrent/%d/delete", tor.ID), url.Values{"reason": {""}}); r.status != http.StatusBadRequest {
		t.Fatalf("delete without reason: %d", r.status)
	}
	if r := admin.post(fmt.Sprintf("/torrent/%d/delete", tor.ID), url.Values{"reason": {"dupe"}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := c.get(fmt.Sprintf("/torrent/%d", tor.ID)); r.status != http.StatusNotFound {
		t.Fatalf("deleted torrent for its owner: %d", r.status)
	}
	if r := admin.get("/torrents?deleted=1"); !strings.Contains(r.body, "modme.txt") {
		t.Fatal("the deleted list lacks the torrent")
	}
	if r := admin.get(fmt.Sprintf("/torrent/%d", tor.ID)); !strings.Contains(r.body, `id="torrent-deleted">Deleted`) {
		t.Fatal("the deleted torrent's page does not say so")
	}
}

func TestProfileAndFeed(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.user("alice", false)
	e.user("bob", false)
	c := e.client()
	c.login("alice")
	tor := e.uploaded(c.upload(torrentFile(t, "feedme.txt"), map[string]string{"description": "in the feed"}))
	r := c.get("/user/alice")
	if r.status != 200 || !strings.Contains(r.body, `id="profile-ratio">0<`) || !strings.Contains(r.body, `id="profile-seeding-list"`) {
		t.Fatalf("profile: %d", r.status)
	}
	m := regexp.MustCompile(`id="feed-url" class="select">([^<]+)<`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no feed URL")
	}
	feedPath := strings.TrimPrefix(m[1], e.ts.URL)
	anon := e.client()
	feed := anon.get(feedPath)
	if feed.status != 200 || !strings.HasPrefix(feed.header.Get("Content-Type"), "application/rss+xml") ||
		!strings.Contains(feed.body, "<title>feedme.txt</title>") {
		t.Fatalf("feed: %d %s", feed.status, feed.body)
	}
	enc := regexp.MustCompile(`<enclosure url="([^"]+)"`).FindStringSubmatch(feed.body)
	if enc == nil {
		t.Fatal("no enclosure")
	}
	dl := anon.get(strings.TrimPrefix(enc[1], e.ts.URL))
	if dl.status != 200 {
		t.Fatalf("feed download: %d %s", dl.status, dl.body)
	}
	checkPersonal(e, []byte(dl.body), tor, alice)

	// Bob sees alice's totals but not her activity or keys.
	b := e.client()
	b.login("bob")
	r = b.get("/user/alice")
	if r.status != 200 || strings.Contains(r.body, "feed-url") || strings.Contains(r.body, "profile-seeding-list") ||
		strings.Contains(r.body, "reset-key-form") {
		t.Fatalf("bob's view of alice: %d", r.status)
	}
	if r := b.post("/user/alice/reset-key", nil); r.status != http.StatusForbidden {
		t.Fatalf("bob resets alice's key: %d", r.status)
	}

	// Resetting the feed key revokes the old feed and its downloads.
	if r := c.post("/user/alice/reset-feed-key", nil); r.status != http.StatusSeeOther {
		t.Fatalf("reset feed: %d", r.status)
	}
	if r := anon.get(feedPath); r.status != http.StatusNotFound {
		t.Fatalf("old feed: %d", r.status)
	}
	if r := anon.get(strings.TrimPrefix(enc[1], e.ts.URL)); r.status != http.StatusNotFound {
		t.Fatalf("old feed download: %d", r.status)
	}
	for _, p := range []string{"/feed/x", "/feed/00000001aaaaaaaaaaaaaaaaaaaaaaaa", "/feed/%00", "/feed/00000001aaaaaaaaaaaaaaaaaaaaaaaa/torrent/1"} {
		if r := anon.get(p); r.status != http.StatusNotFound {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestStatsPage(t *testing.T) {
	e := newEnv(t, nil)
	e.user("alice", false)
	e.stats.set([20]byte{1}, SwarmStats{Seeders: 4, Leechers: 5})
	c := e.client()
	c.login("alice")
	r := c.get("/stats")
	for _, want := range []string{`id="stats-users">1<`, `id="stats-peers">9<`, `id="stats-seeders">4<`, `id="stats-leechers">5<`, `id="stats-torrents">0<`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("stats page lacks %q", want)
		}
	}
}

func TestAdminPages(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", true)
	bob := e.user("bob", false)
	admin, user := e.client(), e.client()
	admin.login("root")
	user.login("bob")
	pages := []string{"/admin", "/admin/users", fmt.Sprintf("/admin/users/%d", bob.ID), "/admin/invites", "/admin/groups",
		"/admin/categories", "/admin/rights", "/admin/torrents", "/admin/clients", "/admin/settings", "/admin/tokens",
		"/admin/tokens?user=bob", "/admin/flags", "/admin/users?q=b&group=1&page=1"}
	for _, p := range pages {
		if r := admin.get(p); r.status != 200 {
			t.Errorf("admin %s: %d", p, r.status)
		}
		if r := user.get(p); r.status != http.StatusForbidden {
			t.Errorf("user %s: %d", p, r.status)
		}
	}
	steps := []struct {
		path string
		form url.Values
		want int
	}{
		{"/admin/groups", url.Values{"name": {"Power"}}, http.StatusSeeOther},
		{"/admin/groups", url.Values{"name": {"Power"}}, http.StatusConflict},
		{"/admin/categories", url.Values{"name": {"Music"}, "position": {"2"}}, http.StatusSeeOther},
		{"/admin/categories", url.Values{"name": {"Bad"}, "position": {"two"}}, http.StatusBadRequest},
		{"/admin/rights", url.Values{"cells": {"2-2 1-1"}, "r-2-2": {"upload"}, "r-1-1": {"see", "download"}}, http.StatusSeeOther},
		{"/admin/rights", url.Values{"cells": {"1-x"}}, http.StatusBadRequest},
		{"/admin/rights", url.Values{"cells": {"1-1"}, "r-1-1": {"root"}}, http.StatusBadRequest},
		{"/admin/clients", url.Values{"prefix": {"-XX"}, "action": {"deny"}, "note": {"bad"}}, http.StatusSeeOther},
		{"/admin/clients", url.Values{"prefix": {"-XX"}, "action": {"maybe"}}, http.StatusBadRequest},
		{"/admin/settings", url.Values{"site_name": {"My Site"}, "signup": {"open"}, "freeleech": {"1"}, "flag_rate": {"50"}}, http.StatusSeeOther},
		{"/admin/settings", url.Values{"site_name": {"My Site"}, "signup": {"sometimes"}}, http.StatusBadRequest},
		{"/admin/users", url.Values{"name": {"carol"}, "password": {"carol password"}, "group": {"2"}}, http.StatusSeeOther},
		{"/admin/users", url.Values{"name": {"bad name!"}}, http.StatusBadRequest},
		{"/admin/invites", url.Values{"group": {"1"}, "days": {"3"}, "note": {"for dave"}}, http.StatusCreated},
		{"/admin/tokens", url.Values{"user": {"bob"}, "name": {"bob's"}, "scope": {"stats:read"}}, http.StatusCreated},
	}
	for _, s := range steps {
		if r := admin.post(s.path, s.form); r.status != s.want {
			t.Errorf("POST %s %v: %d, want %d: %s", s.path, s.form, r.status, s.want, r.body)
		}
		if r := user.post(s.path, s.form); r.status != http.StatusForbidden {
			t.Errorf("user POST %s: %d", s.path, r.status)
		}
	}
	rights, _ := e.store.Rights(e.sys)
	got := map[catalog.RightsKey]catalog.Rights{}
	for _, r := range rights {
		got[catalog.RightsKey{GroupID: r.GroupID, CategoryID: r.CategoryID}] = r.Rights
	}
	if got[catalog.RightsKey{GroupID: 2, CategoryID: 2}] != catalog.RightSee|catalog.RightUpload ||
		got[catalog.RightsKey{GroupID: 1, CategoryID: 1}] != catalog.RightSee|catalog.RightDownload {
		t.Fatalf("rights after the form: %v", got)
	}
	st, _ := e.store.Settings(e.sys)
	if st.SiteName != "My Site" || !st.Freeleech || st.Signup != catalog.SignupOpen || st.FlagRate != 50<<20 {
		t.Fatalf("settings: %+v", st)
	}
	carol := mustUser(e, "carol")
	if carol.GroupID != 2 {
		t.Fatalf("carol's group %d", carol.GroupID)
	}
	r := admin.get("/admin/rights")
	if !strings.Contains(r.body, `id="r-2-2-upload" name="r-2-2" value="upload" checked`) {
		t.Error("the rights page does not show the saved right")
	}
}

// TestAdminDeletes: the delete forms of the admin pages (invites, groups,
// categories, client rules) remove their object for an administrator and
// send the browser back to the list; a member gets 403, an ID that is
// not a number 404, and the object stays until an administrator asks.
func TestAdminDeletes(t *testing.T) {
	e := newEnv(t, nil)
	e.user("root", true)
	e.user("bob", false)
	admin, user := e.client(), e.client()
	admin.login("root")
	user.login("bob")

	g, err := e.store.CreateGroup(e.sys, "Temporary")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := e.store.CreateCategory(e.sys, "Temporary", 9)
	if err != nil {
		t.Fatal(err)
	}
	rule, err := e.store.AddClientRule(e.sys, catalog.ClientRule{Prefix: "-TT", Note: "test"})
	if err != nil {
		t.Fatal(err)
	}
	_, inv, err := e.store.CreateInvite(e.sys, catalog.NewInvite{Note: "test"})
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]func() bool{
		"group": func() bool {
			gs, err := e.store.Groups(e.sys)
			return err == nil && slices.ContainsFunc(gs, func(x *catalog.Group) bool { return x.ID == g.ID })
		},
		"category": func() bool {
			cs, err := e.store.Categories(e.sys)
			return err == nil && slices.ContainsFunc(cs, func(x *catalog.Category) bool { return x.ID == cat.ID })
		},
		"rule": func() bool {
			rs, err := e.store.ClientRules(e.sys)
			return err == nil && slices.ContainsFunc(rs, func(x *catalog.ClientRule) bool { return x.ID == rule.ID })
		},
		"invite": func() bool {
			is, err := e.store.Invites(e.sys)
			return err == nil && slices.ContainsFunc(is, func(x *catalog.Invite) bool { return x.ID == inv.ID })
		},
	}
	tests := []struct {
		what, list string
		id         int64
	}{
		{"group", "/admin/groups", g.ID},
		{"category", "/admin/categories", cat.ID},
		{"rule", "/admin/clients", rule.ID},
		{"invite", "/admin/invites", inv.ID},
	}
	for _, tc := range tests {
		t.Run(tc.what, func(t *testing.T) {
			path := fmt.Sprintf("%s/%d/delete", tc.list, tc.id)
			if r := user.post(path, nil); r.status != http.StatusForbidden {
				t.Errorf("member: %d", r.status)
			}
			if r := admin.post(tc.list+"/x/delete", nil); r.status != http.StatusNotFound {
				t.Errorf("bad ID: %d", r.status)
			}
			if !has[tc.what]() {
				t.Fatalf("the %s is gone before an administrator deleted it", tc.what)
			}
			r := admin.post(path, nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != tc.list {
				t.Fatalf("admin: %d to %q, want 303 to %s", r.status, r.header.Get("Location"), tc.list)
			}
			if has[tc.what]() {
				t.Fatalf("the %s is still there", tc.what)
			}
		})
	}
}
