package catalogtest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

func testUsers(t *testing.T, open Opener) {
	e := newEnv(t, open)
	admin := e.user("admin", true, 0)
	alice := e.user("Alice", false, 0)
	if alice.GroupID != 1 || alice.GroupName != "Users" || alice.Admin || alice.Disabled {
		t.Fatalf("new user = %+v", alice)
	}

	for _, tc := range []struct {
		name string
		code string
	}{
		{"alice", catalog.ECONFLICT}, // names are unique regardless of case
		{"", catalog.EINVALID},
		{"-dash", catalog.EINVALID},
		{"has space", catalog.EINVALID},
		{"<script>", catalog.EINVALID},
		{"x'; DROP TABLE users; --", catalog.EINVALID},
		{strings.Repeat("a", catalog.MaxNameLen+1), catalog.EINVALID},
		{"élodie", catalog.EINVALID},
	} {
		_, err := e.c.CreateUser(e.sys, catalog.NewUser{Name: tc.name, Password: "long enough"})
		wantCode(t, "CreateUser("+tc.name+")", err, tc.code)
	}
	_, err := e.c.CreateUser(e.sys, catalog.NewUser{Name: "short", Password: "short"})
	wantCode(t, "short password", err, catalog.EINVALID)
	_, err = e.c.CreateUser(e.sys, catalog.NewUser{Name: "nogroup", Password: "long enough", GroupID: 999})
	wantCode(t, "unknown group", err, catalog.ENOTFOUND)

	// Only administrators create users.
	_, err = e.c.CreateUser(as(alice), catalog.NewUser{Name: "bob", Password: "long enough"})
	wantCode(t, "CreateUser as user", err, catalog.EFORBIDDEN)
	_, err = e.c.CreateUser(context.Background(), catalog.NewUser{Name: "bob", Password: "long enough"})
	wantCode(t, "CreateUser anonymous", err, catalog.EUNAUTHORIZED)
	if _, err := e.c.CreateUser(as(admin), catalog.NewUser{Name: "bob", Password: "long enough"}); err != nil {
		t.Fatal(err)
	}

	got, err := e.c.UserByName(as(alice), "ALICE")
	if err != nil || got.ID != alice.ID {
		t.Fatalf("UserByName = %v, %v", got, err)
	}
	_, err = e.c.User(as(alice), 12345)
	wantCode(t, "User(unknown)", err, catalog.ENOTFOUND)

	list, total, err := e.c.Users(e.sys, catalog.UserFilter{Query: "a"})
	if err != nil || total != 2 || len(list) != 2 || list[0].Name != "admin" || list[1].Name != "Alice" {
		t.Fatalf("Users(a) = %v, %d, %v", list, total, err)
	}
	// LIKE wildcards in the query are literal.
	if list, total, err := e.c.Users(e.sys, catalog.UserFilter{Query: "%"}); err != nil || total != 0 || len(list) != 0 {
		t.Fatalf("Users(%%) = %v, %d, %v", list, total, err)
	}
	_, _, err = e.c.Users(as(alice), catalog.UserFilter{})
	wantCode(t, "Users as user", err, catalog.EFORBIDDEN)

	// Users change only their own password; administrators the rest.
	pw := "new password!"
	if _, err := e.c.UpdateUser(as(alice), alice.ID, catalog.UserUpdate{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	yes := true
	_, err = e.c.UpdateUser(as(alice), alice.ID, catalog.UserUpdate{Admin: &yes})
	wantCode(t, "self-promotion", err, catalog.EFORBIDDEN)
	_, err = e.c.UpdateUser(as(admin), admin.ID, catalog.UserUpdate{Disabled: &yes})
	wantCode(t, "admin disabling self", err, catalog.EFORBIDDEN)
	reason := "spam"
	u, err := e.c.UpdateUser(as(admin), alice.ID, catalog.UserUpdate{Disabled: &yes, DisabledReason: &reason})
	if err != nil || !u.Disabled || u.DisabledReason != "spam" {
		t.Fatalf("disable = %+v, %v", u, err)
	}
	// A disabled user can do nothing.
	_, err = e.c.User(as(u), admin.ID)
	wantCode(t, "disabled actor", err, catalog.EUNAUTHORIZED)

	// Key resets bump the version; only the user or administrators.
	bob, _ := e.c.UserByName(e.sys, "bob")
	_, err = e.c.ResetKey(as(bob), admin.ID)
	wantCode(t, "ResetKey of another", err, catalog.EFORBIDDEN)
	r1, err := e.c.ResetKey(as(bob), bob.ID)
	if err != nil || r1.KeyVersion != bob.KeyVersion+1 {
		t.Fatalf("ResetKey = %+v, %v", r1, err)
	}
	r2, err := e.c.ResetKey(e.sys, bob.ID)
	if err != nil || r2.KeyVersion != bob.KeyVersion+2 {
		t.Fatalf("ResetKey = %+v, %v", r2, err)
	}

	// Feed keys: derived, revocable.
	key, err := e.c.FeedKey(as(bob), bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fu, err := e.c.FeedUser(context.Background(), key); err != nil || fu.ID != bob.ID {
		t.Fatalf("FeedUser = %v, %v", fu, err)
	}
	_, err = e.c.FeedKey(as(bob), admin.ID)
	wantCode(t, "FeedKey of another", err, catalog.EFORBIDDEN)
	if _, err := e.c.ResetFeedKey(as(bob), bob.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.FeedUser(context.Background(), key)
	wantCode(t, "revoked feed key", err, catalog.EUNAUTHORIZED)
	for _, bad := range []string{"", "zz", strings.Repeat("0", 32), key + "0", strings.ToUpper(key)} {
		_, err = e.c.FeedUser(context.Background(), bad)
		wantCode(t, "FeedUser("+bad+")", err, catalog.EUNAUTHORIZED)
	}

	st, err := e.c.UserStats(as(bob), alice.ID)
	if err != nil || st.Uploaded != 0 || st.Ratio() != 0 {
		t.Fatalf("UserStats = %+v, %v", st, err)
	}

	t.Run("Paging", func(t *testing.T) { testUserPaging(t, open) })
	t.Run("UsersStats", func(t *testing.T) { testUsersStats(t, open) })
}

// testUserPaging: UserFilter.After pages through every user in name order
// (case-insensitive) without gaps or repeats, also when users are added
// between pages, and combines with GroupID, Query and Disabled.
func testUserPaging(t *testing.T, open Opener) {
	e := newEnv(t, open)
	g, err := e.c.CreateGroup(e.sys, "Odd")
	if err != nil {
		t.Fatal(err)
	}
	// Names whose order differs between byte order and case-insensitive
	// order (but not between byte order and a linguistic collation), and
	// '_', a LIKE wildcard.
	names := []string{"b", "A", "a1", "a_2", "c-x", "C.y", "D", "e", "Zed", "z9", "m"}
	yes := true
	for i, n := range names {
		group := int64(0)
		if i%2 == 1 {
			group = g.ID
		}
		u := e.user(n, false, group)
		if i%3 == 0 {
			if _, err := e.c.UpdateUser(e.sys, u.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// pages lists every user matching f, three per call, and adds late
	// (once) after the first page.
	pages := func(f catalog.UserFilter, late string) []string {
		t.Helper()
		var got []string
		f.Limit = 3
		for calls := 0; ; calls++ {
			list, _, err := e.c.Users(e.sys, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range list {
				got = append(got, u.Name)
			}
			if calls == 0 && late != "" {
				e.user(late, false, 0)
			}
			if len(list) < 3 {
				return got
			}
			f.After = list[len(list)-1].Name
			if calls > 20 {
				t.Fatalf("paging does not end: %v", got)
			}
		}
	}
	want := func(t *testing.T, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	all := []string{"A", "a1", "a_2", "b", "c-x", "C.y", "D", "e", "m", "z9", "Zed"}
	want(t, pages(catalog.UserFilter{}, ""), all...)
	// After is case-insensitive: "B" leaves out b too.
	want(t, pages(catalog.UserFilter{After: "B"}, ""), all[4:]...)
	want(t, pages(catalog.UserFilter{GroupID: g.ID}, ""), "A", "a_2", "C.y", "e", "z9")
	want(t, pages(catalog.UserFilter{Disabled: true}, ""), "a_2", "b", "D", "z9")
	want(t, pages(catalog.UserFilter{Disabled: true, GroupID: g.ID}, ""), "a_2", "z9")
	want(t, pages(catalog.UserFilter{Query: "a", After: "A"}, ""), "a1", "a_2")
	// Users created while paging: one before the current page is not
	// listed (nor is anything repeated), one after it is.
	want(t, pages(catalog.UserFilter{}, "a0"), all...)
	want(t, pages(catalog.UserFilter{}, "n"), "A", "a0", "a1", "a_2", "b", "c-x", "C.y", "D", "e", "m", "n", "z9", "Zed")
	if list, total, err := e.c.Users(e.sys, catalog.UserFilter{After: "m"}); err != nil || total != 3 || len(list) != 3 {
		t.Fatalf("Users(After m) = %v, %d, %v; want n, z9, Zed and total 3", list, total, err)
	}
}

// testUsersStats: UsersStats returns what UserStats does for each user,
// leaves unknown IDs out and bounds the batch.
func testUsersStats(t *testing.T, open Opener) {
	e := newEnv(t, open)
	seeder := e.user("seeder", false, 0)
	leecher := e.user("leecher", false, 0)
	idle := e.user("idle", false, 0)
	t1 := e.torrent(seeder, "one", 0, metainfo.V1)
	t2 := e.torrent(seeder, "two", 0, metainfo.V1)
	for _, c := range []struct {
		user      *catalog.User
		tor       *catalog.Torrent
		peer      string
		up, down  uint64
		left      uint64
		completed bool
	}{
		{seeder, t1, "-TR4060-aaaaaaaaaaaa", 700, 0, 0, false},
		{seeder, t2, "-TR4060-bbbbbbbbbbbb", 300, 0, 0, false},
		{leecher, t1, "-TR4060-cccccccccccc", 5, 600, 100, false},
		{leecher, t2, "-TR4060-dddddddddddd", 0, 400, 0, true},
	} {
		a := newAcct(e, c.user.ID, c.tor.ID, c.peer)
		ev := tracker.EventNone
		if c.completed {
			ev = tracker.EventCompleted
		}
		a.apply(a.obs(0, 0, 0, c.left+c.down, tracker.EventStarted), a.obs(30, c.up, c.down, c.left, ev))
	}
	ids := []int64{idle.ID, seeder.ID, 99999, leecher.ID}
	got, err := e.c.UsersStats(as(idle), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[99999] != nil {
		t.Fatalf("UsersStats(%v) has %d entries, want 3 (the unknown ID left out): %v", ids, len(got), got)
	}
	for _, u := range []*catalog.User{seeder, leecher, idle} {
		one, err := e.c.UserStats(e.sys, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got[u.ID] == nil || *got[u.ID] != *one {
			t.Errorf("UsersStats[%s] = %+v, UserStats = %+v", u.Name, got[u.ID], one)
		}
	}
	if st := got[seeder.ID]; st.Uploaded != 1000 || st.Seeding != 2 || st.Leeching != 0 {
		t.Errorf("seeder: %+v, want 1000 uploaded, seeding 2", st)
	}
	if st := got[leecher.ID]; st.Downloaded != 1000 || st.Uploaded != 5 || st.Seeding != 1 || st.Leeching != 1 || st.Snatches != 1 {
		t.Errorf("leecher: %+v, want 1000 downloaded, 5 uploaded, seeding 1, leeching 1, 1 snatch", st)
	}
	if st := got[idle.ID]; st.Uploaded != 0 || st.Seeding != 0 || st.Leeching != 0 {
		t.Errorf("idle: %+v", st)
	}
	if m, err := e.c.UsersStats(e.sys, nil); err != nil || len(m) != 0 {
		t.Errorf("UsersStats(nil) = %v, %v", m, err)
	}
	_, err = e.c.UsersStats(e.sys, make([]int64, catalog.MaxStatsBatch+1))
	wantCode(t, "too many IDs", err, catalog.EINVALID)
	_, err = e.c.UsersStats(context.Background(), ids)
	wantCode(t, "anonymous", err, catalog.EUNAUTHORIZED)
	if _, err := e.c.UserStats(e.sys, 99999); catalog.ErrorCode(err) != catalog.ENOTFOUND {
		t.Errorf("UserStats(unknown): %v, want ENOTFOUND", err)
	}
}

func testAuthenticate(t *testing.T, open Opener) {
	e := newEnv(t, open)
	e.user("carol", false, 0)
	bg := context.Background()
	u, err := e.c.Authenticate(bg, "CAROL", "password-carol")
	if err != nil || u.Name != "carol" {
		t.Fatalf("Authenticate = %v, %v", u, err)
	}
	for _, tc := range []struct{ name, pw string }{
		{"carol", "wrong password"},
		{"carol", ""},
		{"nobody", "password-carol"},
		{"carol' OR '1'='1", "x' OR '1'='1"},
		{"carol", strings.Repeat("x", catalog.MaxPasswordLen+1)},
	} {
		_, err := e.c.Authenticate(bg, tc.name, tc.pw)
		wantCode(t, "Authenticate("+tc.name+")", err, catalog.EUNAUTHORIZED)
		if !strings.Contains(catalog.ErrorMessage(err), "wrong name or password") {
			t.Errorf("message %q does not hide which part was wrong", catalog.ErrorMessage(err))
		}
	}
	yes, reason := true, "abuse"
	if _, err := e.c.UpdateUser(e.sys, u.ID, catalog.UserUpdate{Disabled: &yes, DisabledReason: &reason}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Authenticate(bg, "carol", "password-carol")
	wantCode(t, "disabled", err, catalog.EUNAUTHORIZED)
	if !strings.Contains(catalog.ErrorMessage(err), "abuse") {
		t.Errorf("disabled message %q lacks the reason", catalog.ErrorMessage(err))
	}
}

func testSessions(t *testing.T, open Opener) {
	e := newEnv(t, open)
	dave := e.user("dave", false, 0)
	other := e.user("other", false, 0)
	_, err := e.c.CreateSession(as(other), dave.ID, time.Hour)
	wantCode(t, "session for another", err, catalog.EFORBIDDEN)
	tok, err := e.c.CreateSession(as(dave), dave.ID, time.Hour)
	if err != nil || len(tok) < 32 {
		t.Fatalf("CreateSession = %q, %v", tok, err)
	}
	if u, err := e.c.SessionUser(context.Background(), tok); err != nil || u.ID != dave.ID {
		t.Fatalf("SessionUser = %v, %v", u, err)
	}
	for _, bad := range []string{"", tok + "x", strings.Repeat("a", 1000)} {
		_, err := e.c.SessionUser(context.Background(), bad)
		wantCode(t, "SessionUser(bad)", err, catalog.EUNAUTHORIZED)
	}
	e.clock.Advance(time.Hour + time.Second)
	_, err = e.c.SessionUser(context.Background(), tok)
	wantCode(t, "expired session", err, catalog.EUNAUTHORIZED)

	tok, _ = e.c.CreateSession(e.sys, dave.ID, time.Hour)
	if err := e.c.DeleteSession(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.SessionUser(context.Background(), tok)
	wantCode(t, "signed out", err, catalog.EUNAUTHORIZED)

	// Disabling and password changes end sessions.
	tok, _ = e.c.CreateSession(e.sys, dave.ID, time.Hour)
	pw := "another password"
	if _, err := e.c.UpdateUser(e.sys, dave.ID, catalog.UserUpdate{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.SessionUser(context.Background(), tok)
	wantCode(t, "after password change", err, catalog.EUNAUTHORIZED)
	tok, _ = e.c.CreateSession(e.sys, dave.ID, time.Hour)
	yes := true
	if _, err := e.c.UpdateUser(e.sys, dave.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.SessionUser(context.Background(), tok)
	wantCode(t, "after disabling", err, catalog.EUNAUTHORIZED)
	_, err = e.c.CreateSession(e.sys, dave.ID, time.Hour)
	wantCode(t, "session of disabled user", err, catalog.EUNAUTHORIZED)
}

func testSignUp(t *testing.T, open Opener) {
	e := newEnv(t, open)
	bg := context.Background()
	need, err := e.c.NeedsBootstrap(bg)
	if err != nil || !need {
		t.Fatalf("NeedsBootstrap = %v, %v", need, err)
	}
	// The default is invite-only.
	_, err = e.c.SignUp(bg, catalog.SignUp{Name: "eve", Password: "long enough"})
	wantCode(t, "sign-up without invite", err, catalog.EFORBIDDEN)

	// The first administrator's link is an admin invite made by the system.
	code, inv, err := e.c.CreateInvite(e.sys, catalog.NewInvite{Admin: true, Note: "first admin"})
	if err != nil || !inv.Admin || inv.CreatedBy != 0 {
		t.Fatalf("CreateInvite = %+v, %v", inv, err)
	}
	root, err := e.c.SignUp(bg, catalog.SignUp{Name: "root", Password: "long enough", InviteCode: code})
	if err != nil || !root.Admin {
		t.Fatalf("SignUp = %+v, %v", root, err)
	}
	_, err = e.c.SignUp(bg, catalog.SignUp{Name: "again", Password: "long enough", InviteCode: code})
	wantCode(t, "used invite", err, catalog.EFORBIDDEN)
	if need, _ := e.c.NeedsBootstrap(bg); need {
		t.Error("NeedsBootstrap after the first admin")
	}

	g, err := e.c.CreateGroup(e.sys, "Friends")
	if err != nil {
		t.Fatal(err)
	}
	code, _, err = e.c.CreateInvite(as(root), catalog.NewInvite{GroupID: g.ID, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.c.Invites(as(root))
	if err != nil || len(list) != 1 || list[0].GroupID != g.ID || list[0].CreatedBy != root.ID {
		t.Fatalf("Invites = %v, %v", list, err)
	}
	// A bad name does not use the invite up.
	_, err = e.c.SignUp(bg, catalog.SignUp{Name: "bad name", Password: "long enough", InviteCode: code})
	wantCode(t, "bad name", err, catalog.EINVALID)
	u, err := e.c.SignUp(bg, catalog.SignUp{Name: "friend", Password: "long enough", InviteCode: code})
	if err != nil || u.GroupID != g.ID || u.Admin {
		t.Fatalf("SignUp friend = %+v, %v", u, err)
	}

	code, inv, _ = e.c.CreateInvite(as(root), catalog.NewInvite{TTL: time.Hour})
	e.clock.Advance(2 * time.Hour)
	_, err = e.c.SignUp(bg, catalog.SignUp{Name: "late", Password: "long enough", InviteCode: code})
	wantCode(t, "expired invite", err, catalog.EFORBIDDEN)
	code, inv, _ = e.c.CreateInvite(as(root), catalog.NewInvite{})
	if err := e.c.DeleteInvite(as(root), inv.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.SignUp(bg, catalog.SignUp{Name: "revoked", Password: "long enough", InviteCode: code})
	wantCode(t, "revoked invite", err, catalog.EFORBIDDEN)
	_, _, err = e.c.CreateInvite(as(u), catalog.NewInvite{})
	wantCode(t, "invite as user", err, catalog.EFORBIDDEN)

	open2 := catalog.SignupOpen
	if _, err := e.c.UpdateSettings(as(root), catalog.SettingsUpdate{Signup: &open2}); err != nil {
		t.Fatal(err)
	}
	if u, err := e.c.SignUp(bg, catalog.SignUp{Name: "walkin", Password: "long enough"}); err != nil || u.GroupID != 1 {
		t.Fatalf("open sign-up = %v, %v", u, err)
	}
	_, err = e.c.SignUp(bg, catalog.SignUp{Name: "WALKIN", Password: "long enough"})
	wantCode(t, "taken name", err, catalog.ECONFLICT)
}

func testTokens(t *testing.T, open Opener) {
	e := newEnv(t, open)
	frank := e.user("frank", false, 0)
	other := e.user("other", false, 0)
	bg := context.Background()
	secret, tk, err := e.c.CreateToken(as(frank), catalog.NewTokenSpec{Name: "site", Scopes: []string{catalog.ScopeTorrentsRead, catalog.ScopeTorrentsRead}, TTL: time.Hour})
	if err != nil || !strings.HasPrefix(secret, "gale_") || tk.UserID != frank.ID || !slices.Equal(tk.Scopes, []string{catalog.ScopeTorrentsRead}) {
		t.Fatalf("CreateToken = %q, %+v, %v", secret, tk, err)
	}
	a, tk2, err := e.c.TokenActor(bg, secret)
	if err != nil || a.User == nil || a.User.ID != frank.ID || tk2.ID != tk.ID {
		t.Fatalf("TokenActor = %+v, %v", a, err)
	}
	if !a.HasScope(catalog.ScopeTorrentsRead) || a.HasScope(catalog.ScopeUsersWrite) {
		t.Errorf("scopes = %v", a.Scopes)
	}
	// A token cannot mint tokens.
	_, _, err = e.c.CreateToken(catalog.WithActor(bg, a), catalog.NewTokenSpec{Name: "x", Scopes: []string{catalog.ScopeStats}})
	wantCode(t, "token minting", err, catalog.EFORBIDDEN)
	for _, spec := range []catalog.NewTokenSpec{
		{Name: "", Scopes: []string{catalog.ScopeStats}},
		{Name: "x", Scopes: nil},
		{Name: "x", Scopes: []string{"everything"}},
	} {
		_, _, err := e.c.CreateToken(as(frank), spec)
		wantCode(t, "CreateToken invalid", err, catalog.EINVALID)
	}
	_, _, err = e.c.CreateToken(as(other), catalog.NewTokenSpec{UserID: frank.ID, Name: "x", Scopes: []string{catalog.ScopeStats}})
	wantCode(t, "token for another", err, catalog.EFORBIDDEN)

	list, err := e.c.Tokens(as(frank), frank.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("Tokens = %v, %v", list, err)
	}
	_, err = e.c.Tokens(as(other), frank.ID)
	wantCode(t, "Tokens of another", err, catalog.EFORBIDDEN)
	err = e.c.RevokeToken(as(other), tk.ID)
	wantCode(t, "revoke another's", err, catalog.EFORBIDDEN)
	for _, bad := range []string{"", "gale_", secret + "x", "Bearer " + secret, strings.TrimPrefix(secret, "gale_")} {
		_, _, err := e.c.TokenActor(bg, bad)
		wantCode(t, "TokenActor(bad)", err, catalog.EUNAUTHORIZED)
	}
	if err := e.c.RevokeToken(as(frank), tk.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.c.TokenActor(bg, secret)
	wantCode(t, "revoked token", err, catalog.EUNAUTHORIZED)

	secret, _, _ = e.c.CreateToken(as(frank), catalog.NewTokenSpec{Name: "short", Scopes: []string{catalog.ScopeStats}, TTL: time.Minute})
	e.clock.Advance(2 * time.Minute)
	_, _, err = e.c.TokenActor(bg, secret)
	wantCode(t, "expired token", err, catalog.EUNAUTHORIZED)

	secret, _, _ = e.c.CreateToken(as(frank), catalog.NewTokenSpec{Name: "forever", Scopes: []string{catalog.ScopeStats}})
	yes := true
	if _, err := e.c.UpdateUser(e.sys, frank.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.c.TokenActor(bg, secret)
	wantCode(t, "token of disabled user", err, catalog.EUNAUTHORIZED)
}
