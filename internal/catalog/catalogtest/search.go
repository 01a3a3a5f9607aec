package catalogtest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/metainfo"
)

func names(list []*catalog.Torrent) []string {
	var out []string
	for _, t := range list {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

func testSearch(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("searcher", false, 0)
	movies, _ := e.c.CreateCategory(e.sys, "Movies", 0)
	if err := e.c.SetRights(e.sys, 1, movies.ID, catalog.RightSee); err != nil {
		t.Fatal(err)
	}
	e.torrent(u, "Debian.12.Netinstall", 0, metainfo.V1)
	e.torrent(u, "Big_Buck_Bunny.1080p", movies.ID, metainfo.V1)
	e.clock.Advance(time.Second)
	e.torrent(u, "Sintel 2010 (Blender)", movies.ID, metainfo.V1)
	desc := "The free Debian operating system, café edition"
	deb, _, _ := e.c.Torrents(as(u), catalog.TorrentFilter{Query: "netinstall"})
	if len(deb) != 1 {
		t.Fatalf("netinstall: %v", names(deb))
	}
	if _, err := e.c.UpdateTorrent(as(u), deb[0].ID, catalog.TorrentUpdate{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	ctx := as(u)
	for _, tc := range []struct {
		q    string
		cat  int64
		want []string
	}{
		{"debian", 0, []string{"Debian.12.Netinstall"}},
		{"DEBIAN 12", 0, []string{"Debian.12.Netinstall"}},
		{"deb", 0, []string{"Debian.12.Netinstall"}},       // prefix
		{"operating", 0, []string{"Debian.12.Netinstall"}}, // description
		{"café", 0, []string{"Debian.12.Netinstall"}},      // non-ASCII
		{"b.bin", 0, nil}, // every torrent has sub/b.bin: "b" "bin"
		{"bunny", 0, []string{"Big_Buck_Bunny.1080p"}},           // underscores split words
		{"blender sintel", 0, []string{"Sintel 2010 (Blender)"}}, // any order
		{"sintel debian", 0, nil},                                // all terms required
		{"", movies.ID, []string{"Big_Buck_Bunny.1080p", "Sintel 2010 (Blender)"}},
		{"bunny", 1, nil}, // category filter
		{"nothing-like-this", 0, nil},
	} {
		list, total, err := e.c.Torrents(ctx, catalog.TorrentFilter{Query: tc.q, CategoryID: tc.cat})
		if tc.q == "b.bin" {
			if err != nil || total != 3 {
				t.Errorf("%q: %d results, %v", tc.q, total, err)
			}
			continue
		}
		if err != nil || !slices.Equal(names(list), tc.want) || total != len(tc.want) {
			t.Errorf("Torrents(%q, cat %d) = %v (total %d), %v; want %v", tc.q, tc.cat, names(list), total, err, tc.want)
		}
	}
	// Sorting and paging.
	list, total, err := e.c.Torrents(ctx, catalog.TorrentFilter{Sort: catalog.SortName, Page: catalog.Page{Limit: 2}})
	if err != nil || total != 3 || len(list) != 2 || list[0].Name != "Big_Buck_Bunny.1080p" || list[1].Name != "Debian.12.Netinstall" {
		t.Fatalf("sorted page = %v, %d, %v", names(list), total, err)
	}
	list, _, _ = e.c.Torrents(ctx, catalog.TorrentFilter{Sort: catalog.SortName, Page: catalog.Page{Offset: 2, Limit: 2}})
	if len(list) != 1 || list[0].Name != "Sintel 2010 (Blender)" {
		t.Fatalf("second page = %v", names(list))
	}
	list, _, _ = e.c.Torrents(ctx, catalog.TorrentFilter{})
	if len(list) != 3 || list[0].Name != "Sintel 2010 (Blender)" {
		t.Fatalf("newest first = %v", names(list))
	}
	for _, sort := range []string{catalog.SortSize, catalog.SortSnatches, catalog.SortRelevance, "bogus; DROP TABLE torrents"} {
		if list, _, err := e.c.Torrents(ctx, catalog.TorrentFilter{Query: "sintel", Sort: sort}); err != nil || len(list) != 1 {
			t.Errorf("sort %q: %v, %v", sort, names(list), err)
		}
	}
	if _, _, err := e.c.Torrents(context.Background(), catalog.TorrentFilter{}); catalog.ErrorCode(err) != catalog.EUNAUTHORIZED {
		t.Errorf("anonymous search: %v", err)
	}
}

// testSearchInjection feeds SQL and FTS syntax to search and forms: no
// error, no crash, no match beyond the literal words, and the data intact.
func testSearchInjection(t *testing.T, open Opener) {
	e := newEnv(t, open)
	u := e.user("inj", false, 0)
	e.torrent(u, "Robert'); DROP TABLE torrents;--", 0, metainfo.V1)
	e.torrent(u, `quote " NEAR(2) * OR AND NOT ^ {col}:x`, 0, metainfo.V1)
	ctx := as(u)
	for _, q := range []string{
		`'`, `"`, `''`, `"unterminated`, `' OR '1'='1`, `1; DROP TABLE torrents; --`, `%`, `_`, `\`,
		`*`, `NEAR(a b)`, `a OR b`, `NOT x`, `body:secret`, `{body}: x`, `^start`, `a AND`, `(`, `)`, `-x`, `+x`,
		`x' UNION SELECT password_hash FROM users --`, "\x00", strings.Repeat("a", 10000), strings.Repeat("a ", 1000),
		`'':*`, `a & b | !c`, `<->`, `$1`, `?`, `:name`,
	} {
		list, _, err := e.c.Torrents(ctx, catalog.TorrentFilter{Query: q, Sort: catalog.SortRelevance})
		if err != nil {
			t.Errorf("Torrents(%q): %v", q, err)
		}
		for _, tor := range list {
			// A hit must share a word with the query.
			if len(catalog.SearchTerms(q)) == 0 {
				t.Errorf("Torrents(%q) matched %q with no search term", q, tor.Name)
			}
		}
	}
	list, _, err := e.c.Torrents(ctx, catalog.TorrentFilter{Query: "robert drop"})
	if err != nil || len(list) != 1 || list[0].Name != "Robert'); DROP TABLE torrents;--" {
		t.Fatalf("literal words: %v, %v", names(list), err)
	}
	list, _, err = e.c.Torrents(ctx, catalog.TorrentFilter{Query: `near or and not col`})
	if err != nil || len(list) != 1 {
		t.Fatalf("operators as words: %v, %v", names(list), err)
	}
	// Form fields with SQL in them are data, not code.
	g, err := e.c.CreateGroup(e.sys, "g'); DELETE FROM users;--")
	if err != nil {
		t.Fatal(err)
	}
	if gs, _ := e.c.Groups(e.sys); len(gs) != 2 || g.Name != "g'); DELETE FROM users;--" {
		t.Fatalf("groups = %v", gs)
	}
	if _, err := e.c.UserByName(ctx, "inj' OR 1=1 --"); catalog.ErrorCode(err) != catalog.ENOTFOUND {
		t.Fatalf("UserByName(injection) = %v", err)
	}
	all, total, err := e.c.Torrents(ctx, catalog.TorrentFilter{})
	if err != nil || total != 2 || len(all) != 2 {
		t.Fatalf("data after injections: %v, %d, %v", names(all), total, err)
	}
}

func testDeleteTorrent(t *testing.T, open Opener) {
	e := newEnv(t, open)
	owner := e.user("owner", false, 0)
	other := e.user("other", false, 0)
	mod := e.user("mod", false, 0)
	mg, _ := e.c.CreateGroup(e.sys, "Mods")
	if err := e.c.SetRights(e.sys, mg.ID, 1, catalog.RightModerate); err != nil {
		t.Fatal(err)
	}
	gid := mg.ID
	mod, _ = e.c.UpdateUser(e.sys, mod.ID, catalog.UserUpdate{GroupID: &gid})
	tor := e.torrent(owner, "to-delete", 0, metainfo.V1)
	wantCode(t, "delete by other", e.c.DeleteTorrent(as(other), tor.ID, "mine now"), catalog.EFORBIDDEN)
	wantCode(t, "bad reason", e.c.DeleteTorrent(as(mod), tor.ID, strings.Repeat("r", catalog.MaxReasonLen+1)), catalog.EINVALID)
	if err := e.c.DeleteTorrent(as(mod), tor.ID, "  dupe of #12  "); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete twice", e.c.DeleteTorrent(as(mod), tor.ID, "again"), catalog.ECONFLICT)
	_, err := e.c.Torrent(as(other), tor.ID)
	wantCode(t, "deleted hidden", err, catalog.ENOTFOUND)
	if list, _, _ := e.c.Torrents(as(other), catalog.TorrentFilter{}); len(list) != 0 {
		t.Errorf("deleted torrent listed: %v", names(list))
	}
	if list, _, _ := e.c.Torrents(as(other), catalog.TorrentFilter{Deleted: true}); len(list) != 0 {
		t.Errorf("deleted list for a user: %v", names(list))
	}
	got, err := e.c.Torrent(as(mod), tor.ID)
	if err != nil || !got.Deleted || got.DeleteReason != "dupe of #12" || got.DeletedAt.IsZero() {
		t.Fatalf("moderator view = %+v, %v", got, err)
	}
	list, _, err := e.c.Torrents(as(mod), catalog.TorrentFilter{Deleted: true})
	if err != nil || len(list) != 1 {
		t.Fatalf("deleted list = %v, %v", names(list), err)
	}
	_, _, err = e.c.PersonalTorrent(as(mod), tor.ID, mod.ID, func(string) []string { return nil })
	wantCode(t, "download deleted", err, catalog.ECONFLICT)
	// Deleted torrents still block re-uploads of the same info hash.
	_, err = e.c.AddTorrent(as(owner), catalog.NewTorrent{Metainfo: MakeTorrent(t, "to-delete", metainfo.V1), CategoryID: 1})
	wantCode(t, "re-upload", err, catalog.ECONFLICT)
}
