package catalogtest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gale-bt/gale/bencode"
	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/metainfo"
)

func testGroupsCategories(t *testing.T, open Opener) {
	e := newEnv(t, open)
	alice := e.user("alice", false, 0)
	g, err := e.c.CreateGroup(e.sys, "VIP")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.CreateGroup(e.sys, "vip")
	wantCode(t, "duplicate group", err, catalog.ECONFLICT)
	_, err = e.c.CreateGroup(as(alice), "Mine")
	wantCode(t, "group as user", err, catalog.EFORBIDDEN)
	if g2, err := e.c.RenameGroup(e.sys, g.ID, "Gold"); err != nil || g2.Name != "Gold" {
		t.Fatalf("RenameGroup = %v, %v", g2, err)
	}
	wantCode(t, "delete default group", e.c.DeleteGroup(e.sys, 1), catalog.ECONFLICT)
	gid := g.ID
	alice, err = e.c.UpdateUser(e.sys, alice.ID, catalog.UserUpdate{GroupID: &gid})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete used group", e.c.DeleteGroup(e.sys, g.ID), catalog.ECONFLICT)
	groups, err := e.c.Groups(e.sys)
	if err != nil || len(groups) != 2 || groups[0].Name != "Gold" || groups[0].Users != 1 {
		t.Fatalf("Groups = %v, %v", groups, err)
	}

	c, err := e.c.CreateCategory(e.sys, "Movies", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", " x", "a\x00b", strings.Repeat("c", catalog.MaxCategoryLen+1)} {
		_, err := e.c.CreateCategory(e.sys, bad, 0)
		wantCode(t, fmt.Sprintf("CreateCategory(%q)", bad), err, catalog.EINVALID)
	}
	_, err = e.c.CreateCategory(e.sys, "movies", 0)
	wantCode(t, "duplicate category", err, catalog.ECONFLICT)
	// alice's group has no rights yet: she sees no category.
	cats, err := e.c.Categories(as(alice))
	if err != nil || len(cats) != 0 {
		t.Fatalf("Categories(alice) = %v, %v", cats, err)
	}
	if err := e.c.SetRights(e.sys, g.ID, c.ID, catalog.RightDownload); err != nil {
		t.Fatal(err)
	}
	cats, err = e.c.Categories(as(alice))
	if err != nil || len(cats) != 1 || cats[0].Name != "Movies" {
		t.Fatalf("Categories(alice) = %v, %v", cats, err)
	}
	mine, err := e.c.MyRights(as(alice))
	if err != nil || mine[c.ID] != catalog.RightSee|catalog.RightDownload {
		t.Fatalf("MyRights = %v, %v", mine, err)
	}
	rights, err := e.c.Rights(e.sys)
	if err != nil || len(rights) != 2 {
		t.Fatalf("Rights = %v, %v", rights, err)
	}
	wantCode(t, "SetRights as user", e.c.SetRights(as(alice), g.ID, c.ID, catalog.RightsAll), catalog.EFORBIDDEN)
	pos := 0
	_, err = e.c.UpdateCategory(as(alice), c.ID, catalog.CategoryUpdate{Position: &pos})
	wantCode(t, "UpdateCategory as user", err, catalog.EFORBIDDEN)
	if err := e.c.SetRights(e.sys, g.ID, c.ID, 0); err != nil {
		t.Fatal(err)
	}
	if cats, _ := e.c.Categories(as(alice)); len(cats) != 0 {
		t.Fatalf("rights removed, Categories = %v", cats)
	}
	e.torrent(alice, "in-movies", c.ID, metainfo.V1)
	wantCode(t, "delete used category", e.c.DeleteCategory(e.sys, c.ID), catalog.ECONFLICT)
	empty, _ := e.c.CreateCategory(e.sys, "Empty", 0)
	if err := e.c.DeleteCategory(e.sys, empty.ID); err != nil {
		t.Fatal(err)
	}
}

// testRights checks what each right allows, for a user whose group has
// only that right in the category.
func testRights(t *testing.T, open Opener) {
	e := newEnv(t, open)
	owner := e.user("owner", true, 0)
	cat, err := e.c.CreateCategory(e.sys, "Private", 0)
	if err != nil {
		t.Fatal(err)
	}
	const ok = ""
	NF, FB := catalog.ENOTFOUND, catalog.EFORBIDDEN
	for i, tc := range []struct {
		name                         string
		rights                       catalog.Rights
		admin                        bool
		see, download, upload, mod   string
		administer, list, deleteCode string
	}{
		{"none", 0, false, NF, NF, FB, NF, FB, "0", NF},
		{"see", catalog.RightSee, false, ok, FB, FB, FB, FB, "1", FB},
		{"download", catalog.RightDownload, false, ok, ok, FB, FB, FB, "1", FB},
		{"upload", catalog.RightUpload, false, ok, FB, ok, FB, FB, "1", FB},
		{"moderate", catalog.RightModerate, false, ok, ok, FB, ok, FB, "1", ok},
		{"administer", catalog.RightAdminister, false, ok, ok, ok, ok, ok, "1", ok},
		{"site admin", 0, true, ok, ok, ok, ok, ok, "1", ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := e.c.CreateGroup(e.sys, "g"+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.c.SetRights(e.sys, g.ID, cat.ID, tc.rights); err != nil {
				t.Fatal(err)
			}
			u := e.user(fmt.Sprintf("u%d", i), tc.admin, g.ID)
			tor := e.torrent(owner, "rights-"+tc.name, cat.ID, metainfo.V1)
			ctx := as(u)
			code := func(err error) string { return catalog.ErrorCode(err) }
			_, err = e.c.Torrent(ctx, tor.ID)
			if code(err) != tc.see {
				t.Errorf("Torrent: %v, want %q", err, tc.see)
			}
			_, err = e.c.AnnounceKey(ctx, tor.ID, u.ID)
			if code(err) != tc.download {
				t.Errorf("AnnounceKey: %v, want %q", err, tc.download)
			}
			_, _, err = e.c.PersonalTorrent(ctx, tor.ID, u.ID, func(k string) []string { return []string{"http://t/" + k + "/announce"} })
			if code(err) != tc.download {
				t.Errorf("PersonalTorrent: %v, want %q", err, tc.download)
			}
			_, err = e.c.AddTorrent(ctx, catalog.NewTorrent{Metainfo: MakeTorrent(t, "up-"+tc.name, metainfo.V1), CategoryID: cat.ID})
			if code(err) != tc.upload {
				t.Errorf("AddTorrent: %v, want %q", err, tc.upload)
			}
			_, err = e.c.TorrentPeers(ctx, tor.ID)
			if code(err) != tc.mod {
				t.Errorf("TorrentPeers: %v, want %q", err, tc.mod)
			}
			pos := 1
			_, err = e.c.UpdateCategory(ctx, cat.ID, catalog.CategoryUpdate{Position: &pos})
			if code(err) != tc.administer {
				t.Errorf("UpdateCategory: %v, want %q", err, tc.administer)
			}
			list, _, err := e.c.Torrents(ctx, catalog.TorrentFilter{Query: "rights " + tc.name})
			if err != nil || fmt.Sprint(len(list)) != tc.list {
				t.Errorf("Torrents = %d, %v; want %s", len(list), err, tc.list)
			}
			err = e.c.DeleteTorrent(ctx, tor.ID, "test")
			if code(err) != tc.deleteCode {
				t.Errorf("DeleteTorrent: %v, want %q", err, tc.deleteCode)
			}
		})
	}
}

func testTorrents(t *testing.T, open Opener) {
	e := newEnv(t, open)
	alice := e.user("alice", false, 0)
	bob := e.user("bob", false, 0)
	data := MakeTorrent(t, "Ubuntu.24.04-desktop", metainfo.V1)
	tor, err := e.c.AddTorrent(as(alice), catalog.NewTorrent{Metainfo: data, CategoryID: 1, Description: "# Title\n<b>bold</b>"})
	if err != nil {
		t.Fatal(err)
	}
	if tor.Name != "Ubuntu.24.04-desktop" || tor.OwnerID != alice.ID || tor.OwnerName != "alice" || tor.CategoryName != "General" ||
		tor.FileCount != 2 || len(tor.Files) != 2 || tor.Files[0].Path != "a.txt" || tor.Files[1].Path != "sub/b.bin" ||
		tor.Size != tor.Files[0].Length+tor.Files[1].Length || !tor.HasV1 || tor.HasV2 || tor.Freeleech {
		t.Fatalf("AddTorrent = %+v", tor)
	}
	// The stored torrent is private, carries the site name as source and
	// has none of the uploader's trackers: its info hash differs.
	orig, _ := metainfo.Parse(data)
	if tor.V1 == orig.InfoHash {
		t.Error("info hash unchanged: private/source not applied")
	}
	_, err = e.c.AddTorrent(as(bob), catalog.NewTorrent{Metainfo: data, CategoryID: 1})
	wantCode(t, "duplicate upload", err, catalog.ECONFLICT)
	_, err = e.c.AddTorrent(as(bob), catalog.NewTorrent{Metainfo: data, CategoryID: 1, OwnerID: alice.ID})
	wantCode(t, "upload for another", err, catalog.EFORBIDDEN)
	_, err = e.c.AddTorrent(as(bob), catalog.NewTorrent{Metainfo: MakeTorrent(t, "x", metainfo.V1), CategoryID: 1, Freeleech: true})
	wantCode(t, "freeleech by user", err, catalog.EFORBIDDEN)
	_, err = e.c.AddTorrent(as(bob), catalog.NewTorrent{Metainfo: MakeTorrent(t, "y", metainfo.V1), CategoryID: 99})
	wantCode(t, "unknown category", err, catalog.ENOTFOUND)

	byHash, err := e.c.TorrentByHash(as(bob), tor.V1.String())
	if err != nil || byHash.ID != tor.ID {
		t.Fatalf("TorrentByHash = %v, %v", byHash, err)
	}
	_, err = e.c.TorrentByHash(as(bob), "not hex")
	wantCode(t, "TorrentByHash(bad)", err, catalog.EINVALID)
	_, err = e.c.TorrentByHash(as(bob), strings.Repeat("ab", 20))
	wantCode(t, "TorrentByHash(unknown)", err, catalog.ENOTFOUND)

	desc := "new description"
	_, err = e.c.UpdateTorrent(as(bob), tor.ID, catalog.TorrentUpdate{Description: &desc})
	wantCode(t, "edit another's", err, catalog.EFORBIDDEN)
	up, err := e.c.UpdateTorrent(as(alice), tor.ID, catalog.TorrentUpdate{Description: &desc})
	if err != nil || up.Description != desc {
		t.Fatalf("UpdateTorrent = %v, %v", up, err)
	}
	yes := true
	_, err = e.c.UpdateTorrent(as(alice), tor.ID, catalog.TorrentUpdate{Freeleech: &yes})
	wantCode(t, "freeleech by owner", err, catalog.EFORBIDDEN)
	if up, err := e.c.UpdateTorrent(e.sys, tor.ID, catalog.TorrentUpdate{Freeleech: &yes}); err != nil || !up.Freeleech {
		t.Fatalf("freeleech = %v, %v", up, err)
	}
	bad := "bad\x00text"
	_, err = e.c.UpdateTorrent(as(alice), tor.ID, catalog.TorrentUpdate{Description: &bad})
	wantCode(t, "NUL in description", err, catalog.EINVALID)

	list, total, err := e.c.Torrents(as(bob), catalog.TorrentFilter{})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != tor.ID || list[0].Files != nil {
		t.Fatalf("Torrents = %v, %d, %v", list, total, err)
	}
	if list, _, _ := e.c.Torrents(as(bob), catalog.TorrentFilter{OwnerID: bob.ID}); len(list) != 0 {
		t.Fatalf("Torrents(owner bob) = %v", list)
	}
}

func testTorrentVersions(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("uploader", false, 0)
	v2 := e.torrent(u, "only-v2", 0, metainfo.V2)
	if v2.HasV1 || !v2.HasV2 {
		t.Fatalf("v2 torrent = %+v", v2)
	}
	if _, ok := v2.AliasHash(); ok {
		t.Error("a v2-only torrent has no alias")
	}
	sh := v2.SwarmHash()
	if !bytes.Equal(sh[:], v2.V2[:20]) {
		t.Error("v2-only swarm hash is not the truncated v2 hash")
	}
	hy := e.torrent(u, "hybrid", 0, metainfo.Hybrid)
	alias, ok := hy.AliasHash()
	if !hy.HasV1 || !hy.HasV2 || !ok || hy.SwarmHash() != hy.V1 || !bytes.Equal(alias[:], hy.V2[:20]) {
		t.Fatalf("hybrid = %+v", hy)
	}
	_, v2hex := hy.InfoHashes()
	for _, h := range []string{hy.V1.String(), v2hex, v2hex[:40]} {
		got, err := e.c.TorrentByHash(as(u), h)
		if err != nil || got.ID != hy.ID {
			t.Errorf("TorrentByHash(%s) = %v, %v", h, got, err)
		}
	}
}

// torrentDict encodes a minimal v1 torrent with the given file paths.
func torrentDict(t *testing.T, name string, paths ...[]string) []byte {
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
		in.Length = 10
	}
	for _, p := range paths {
		in.Files = append(in.Files, file{Length: 10 / int64(len(paths)), Path: p})
	}
	b, err := bencode.Marshal(map[string]any{"announce": "http://x/announce", "info": in})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testBadUploads(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("mallory", false, 0)
	if _, err := e.c.AddTorrent(as(u), catalog.NewTorrent{Metainfo: torrentDict(t, "fine.txt"), CategoryID: 1}); err != nil {
		t.Fatalf("a plain single-file torrent: %v", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("this is not bencode")},
		{"html", []byte("<script>alert(1)</script>")},
		{"dotdot", torrentDict(t, "x", []string{"..", "etc", "passwd"})},
		{"absolute", torrentDict(t, "x", []string{"/etc/passwd"})},
		{"name traversal", torrentDict(t, "../escape", []string{"a"})},
		{"slash in component", torrentDict(t, "x", []string{"a/../../b"})},
		{"latin-1 name", torrentDict(t, "caf\xe9.txt")},
		{"latin-1 file name", torrentDict(t, "dir", []string{"ok.txt"}, []string{"sub", "r\xe9sum\xe9.txt"})},
		{"truncated UTF-8 in a directory", torrentDict(t, "dir", []string{"\xe2\x82", "a.txt"})},
		{"too large", append([]byte("d4:info"), bytes.Repeat([]byte("x"), metainfo.DefaultMaxSize+1)...)},
	} {
		_, err := e.c.AddTorrent(as(u), catalog.NewTorrent{Metainfo: tc.data, CategoryID: 1})
		wantCode(t, tc.name, err, catalog.EINVALID)
	}
	_, err := e.c.AddTorrent(as(u), catalog.NewTorrent{Metainfo: torrentDict(t, "ok2.txt"), CategoryID: 1,
		Description: strings.Repeat("d", catalog.MaxDescriptionLen+1)})
	wantCode(t, "huge description", err, catalog.EINVALID)
}

func testPersonalTorrent(t *testing.T, open Opener) {
	e := newEnv(t, open)
	admin := e.user("admin", true, 0)
	alice := e.user("alice", false, 0)
	bob := e.user("bob", false, 0)
	tor := e.torrent(admin, "personal", 0, metainfo.Hybrid)
	announce := func(k string) []string {
		return []string{"http://tracker.test/" + k + "/announce", "udp://tracker.test:6969/" + k + "/announce"}
	}
	data, got, err := e.c.PersonalTorrent(as(alice), tor.ID, alice.ID, announce)
	if err != nil || got.ID != tor.ID {
		t.Fatalf("PersonalTorrent = %v, %v", got, err)
	}
	mi, err := metainfo.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.c.Settings(e.sys)
	if err != nil {
		t.Fatal(err)
	}
	key := catalog.Passkey(st.Secret, alice.KeyVersion, uint32(alice.ID), tor.SwarmHash())
	if mi.Announce != "http://tracker.test/"+key+"/announce" || len(mi.AnnounceList) != 2 ||
		mi.AnnounceList[1][0] != "udp://tracker.test:6969/"+key+"/announce" {
		t.Fatalf("announce = %q, list %v; want key %s", mi.Announce, mi.AnnounceList, key)
	}
	if !mi.Info.Private || mi.Info.Source != st.SiteName || len(mi.Nodes) != 0 || mi.InfoHash != tor.V1 {
		t.Fatalf("personal torrent: private %v, source %q, nodes %v, hash %x", mi.Info.Private, mi.Info.Source, mi.Nodes, mi.InfoHash)
	}
	if k, err := e.c.AnnounceKey(as(alice), tor.ID, alice.ID); err != nil || k != key {
		t.Fatalf("AnnounceKey = %q, %v", k, err)
	}
	// Other users' torrents: administrators only.
	_, _, err = e.c.PersonalTorrent(as(bob), tor.ID, alice.ID, announce)
	wantCode(t, "another's torrent", err, catalog.EFORBIDDEN)
	if _, _, err := e.c.PersonalTorrent(as(admin), tor.ID, alice.ID, announce); err != nil {
		t.Fatalf("admin fetching for alice: %v", err)
	}
	// After a key reset the key changes.
	if _, err := e.c.ResetKey(as(alice), alice.ID); err != nil {
		t.Fatal(err)
	}
	if k, _ := e.c.AnnounceKey(as(alice), tor.ID, alice.ID); k == key {
		t.Error("key unchanged after ResetKey")
	}
	yes := true
	if _, err := e.c.UpdateUser(e.sys, alice.ID, catalog.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.c.PersonalTorrent(e.sys, tor.ID, alice.ID, announce)
	wantCode(t, "disabled user", err, catalog.EFORBIDDEN)
	_, _, err = e.c.PersonalTorrent(context.Background(), tor.ID, bob.ID, announce)
	wantCode(t, "anonymous", err, catalog.EUNAUTHORIZED)
}
