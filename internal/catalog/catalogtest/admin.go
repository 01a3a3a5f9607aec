package catalogtest

import (
	"context"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/metainfo"
)

func testSettings(t *testing.T, open Opener) {
	e := newEnv(t, open)
	admin := e.user("admin", true, 0)
	user := e.user("user", false, 0)
	st, err := e.c.Settings(e.sys)
	if err != nil || st.SiteName != "gale" || st.Signup != catalog.SignupInvite || len(st.Secret) < 16 || st.Freeleech || st.FlagRate <= 0 {
		t.Fatalf("default settings = %+v, %v", st, err)
	}
	pub, err := e.c.Settings(context.Background())
	if err != nil || pub.Secret != "" || pub.SiteName != "gale" {
		t.Fatalf("anonymous settings = %+v, %v", pub, err)
	}
	if st2, _ := e.c.Settings(as(admin)); st2.Secret != "" {
		t.Error("the secret is shown to an administrator")
	}
	name, yes, rate := "My Site", true, int64(1000)
	secret := "imported-xbt-secret"
	up, err := e.c.UpdateSettings(as(admin), catalog.SettingsUpdate{SiteName: &name, Freeleech: &yes, DoubleUpload: &yes, FlagRate: &rate, Secret: &secret})
	if err != nil || up.SiteName != name || !up.Freeleech || !up.DoubleUpload || up.FlagRate != 1000 || up.Secret != "" {
		t.Fatalf("UpdateSettings = %+v, %v", up, err)
	}
	if st, _ := e.c.Settings(e.sys); st.Secret != secret {
		t.Errorf("secret = %q", st.Secret)
	}
	_, err = e.c.UpdateSettings(as(user), catalog.SettingsUpdate{Freeleech: &yes})
	wantCode(t, "settings by user", err, catalog.EFORBIDDEN)
	bad := catalog.SignupMode("maybe")
	_, err = e.c.UpdateSettings(as(admin), catalog.SettingsUpdate{Signup: &bad})
	wantCode(t, "bad signup", err, catalog.EINVALID)
	neg, short := int64(-1), "short"
	_, err = e.c.UpdateSettings(as(admin), catalog.SettingsUpdate{FlagRate: &neg})
	wantCode(t, "negative rate", err, catalog.EINVALID)
	_, err = e.c.UpdateSettings(as(admin), catalog.SettingsUpdate{Secret: &short})
	wantCode(t, "short secret", err, catalog.EINVALID)
	// The site name becomes the source of new uploads.
	tor := e.torrent(user, "sourced", 0, metainfo.V1)
	data, _, err := e.c.PersonalTorrent(e.sys, tor.ID, user.ID, func(string) []string { return []string{"http://x/a"} })
	if err != nil {
		t.Fatal(err)
	}
	if mi, _ := metainfo.Parse(data); mi == nil || mi.Info.Source != "My Site" {
		t.Errorf("source = %+v", mi)
	}
}

func testClientRules(t *testing.T, open Opener) {
	e := newEnv(t, open)
	user := e.user("user", false, 0)
	r, err := e.c.AddClientRule(e.sys, catalog.ClientRule{Prefix: "-TR", Allow: true, Note: "Transmission"})
	if err != nil || r.ID == 0 || r.Prefix != "-TR" {
		t.Fatalf("AddClientRule = %+v, %v", r, err)
	}
	_, err = e.c.AddClientRule(e.sys, catalog.ClientRule{Prefix: "-TR"})
	wantCode(t, "duplicate rule", err, catalog.ECONFLICT)
	_, err = e.c.AddClientRule(e.sys, catalog.ClientRule{Prefix: ""})
	wantCode(t, "empty prefix", err, catalog.EINVALID)
	_, err = e.c.AddClientRule(as(user), catalog.ClientRule{Prefix: "-XX"})
	wantCode(t, "rule by user", err, catalog.EFORBIDDEN)
	if _, err := e.c.AddClientRule(e.sys, catalog.ClientRule{Prefix: "-TR2", Allow: false}); err != nil {
		t.Fatal(err)
	}
	rules, err := e.c.ClientRules(e.sys)
	if err != nil || len(rules) != 2 {
		t.Fatalf("ClientRules = %v, %v", rules, err)
	}
	if err := e.c.DeleteClientRule(e.sys, r.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete twice", e.c.DeleteClientRule(e.sys, r.ID), catalog.ENOTFOUND)
}

func testChangeLog(t *testing.T, open Opener) {
	e := newEnv(t, open)
	ctx := context.Background()
	seq0, err := e.c.ChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := e.user("changer", false, 0)
	if _, err := e.c.ResetKey(e.sys, u.ID); err != nil {
		t.Fatal(err)
	}
	tor := e.torrent(u, "changing", 0, metainfo.V1)
	if err := e.c.SetRights(e.sys, 1, 1, catalog.RightsAll); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AddClientRule(e.sys, catalog.ClientRule{Prefix: "-XX"}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := e.c.UpdateSettings(e.sys, catalog.SettingsUpdate{Freeleech: &yes}); err != nil {
		t.Fatal(err)
	}
	// Reads and failed writes change nothing.
	_, _, _ = e.c.Torrents(as(u), catalog.TorrentFilter{})
	_, _ = e.c.CreateUser(e.sys, catalog.NewUser{Name: "changer", Password: "long enough"})
	seq, err := e.c.ChangeSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := e.c.Changes(ctx, seq0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.Change{
		{Entity: catalog.ChangeUser, ID: u.ID}, {Entity: catalog.ChangeUser, ID: u.ID},
		{Entity: catalog.ChangeTorrent, ID: tor.ID}, {Entity: catalog.ChangeRights},
		{Entity: catalog.ChangeRules}, {Entity: catalog.ChangeSettings},
	}
	if len(changes) != len(want) || seq != seq0+int64(len(want)) {
		t.Fatalf("changes %v (seq %d -> %d), want %v", changes, seq0, seq, want)
	}
	for i, c := range changes {
		if c.Seq != seq0+int64(i)+1 || c.Entity != want[i].Entity || c.ID != want[i].ID {
			t.Errorf("change %d = %+v, want %+v", i, c, want[i])
		}
	}
	if more, _ := e.c.Changes(ctx, seq, 10); len(more) != 0 {
		t.Errorf("changes after the newest: %v", more)
	}
	if some, _ := e.c.Changes(ctx, seq0, 2); len(some) != 2 {
		t.Errorf("limit: %v", some)
	}
}

func testTrackerState(t *testing.T, open Opener) {
	e := newEnv(t, open)
	ctx := context.Background()
	u := e.user("tracked", false, 0)
	v1 := e.torrent(u, "state-v1", 0, metainfo.V1)
	hy := e.torrent(u, "state-hybrid", 0, metainfo.Hybrid)
	if err := e.c.DeleteTorrent(e.sys, v1.ID, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.AddClientRule(e.sys, catalog.ClientRule{Prefix: "-BAD", Allow: false}); err != nil {
		t.Fatal(err)
	}
	st, err := e.c.TrackerState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seq, _ := e.c.ChangeSeq(ctx)
	if st.Seq != seq || len(st.Users) != 1 || st.Users[0].ID != u.ID || len(st.Torrents) != 2 || len(st.Rules) != 1 ||
		len(st.Rights) != 1 || st.Settings.Secret == "" {
		t.Fatalf("TrackerState = %+v", st)
	}
	for _, tt := range st.Torrents {
		switch tt.ID {
		case v1.ID:
			if !tt.Deleted || tt.DeleteReason != "gone" || tt.HasAlias || tt.Swarm != v1.V1 || tt.DeletedAt.IsZero() {
				t.Errorf("v1 = %+v", tt)
			}
		case hy.ID:
			alias, _ := hy.AliasHash()
			if tt.Deleted || !tt.HasAlias || tt.Alias != alias || tt.Swarm != hy.V1 {
				t.Errorf("hybrid = %+v", tt)
			}
		}
	}
	us, err := e.c.TrackerUsers(ctx, []int64{u.ID, 999})
	if err != nil || len(us) != 1 {
		t.Fatalf("TrackerUsers = %v, %v", us, err)
	}
	ts, err := e.c.TrackerTorrents(ctx, []int64{hy.ID})
	if err != nil || len(ts) != 1 || ts[0].ID != hy.ID {
		t.Fatalf("TrackerTorrents = %v, %v", ts, err)
	}
	if ts, err := e.c.TrackerTorrents(ctx, nil); err != nil || len(ts) != 0 {
		t.Fatalf("TrackerTorrents(nil) = %v, %v", ts, err)
	}
}
