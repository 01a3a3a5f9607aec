package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/catalog/web"
	"github.com/gale-bt/gale/metainfo"
)

func init() {
	register(&command{
		name:    "torrent",
		summary: "add, fetch and delete the torrents of a gale serve site",
		usage:   "gale torrent add|fetch|delete ARG [flags]",
		help: `Manage the torrents of the site that 'gale serve' runs on the same data
directory (--data, default ./gale-data) or database (--db); also while the
server runs: a change reaches the tracker within a second.

  gale torrent add FILE --owner NAME [--category C]
      Register the .torrent FILE (v1, v2 or hybrid) as uploaded by user
      NAME in category C (name or ID; default: the first category). As on
      the site, the torrent is made private, its source set to the site
      name and its trackers removed, which changes the info hash: the
      site's info hashes are printed on stdout, the v1 one first (40 hex
      digits) and the v2 one (64) for v2 and hybrid torrents.
  gale torrent fetch INFOHASH --user NAME [-o FILE] [--force]
      Write NAME's personal .torrent: the site's copy with NAME's announce
      URLs (HTTP, and UDP with the key in BEP 41 URL data), as the site's
      download link gives it. Default FILE: the torrent's name with
      ".torrent", in the current directory; "-" writes to stdout. The URLs
      are announce-urls from --config, else those the last 'gale serve'
      on the data directory used, in the same way with the key in the
      query (BASE/announce?passkey=KEY) or the path (BASE/KEY/announce):
      announce-key-form.
  gale torrent delete INFOHASH [--reason TEXT]
      Mark the torrent deleted. Polite deletion: the tracker keeps serving
      its current peers until the last leecher finishes; others are told
      "torrent deleted: TEXT" for 24 hours, then "unregistered torrent".

INFOHASH is the v1 hash, the v2 hash or the truncated v2 hash in hex. Every
subcommand takes --data DIR, --db URL and --config FILE (the settings file
of 'gale serve').`,
		flags: func() *flag.FlagSet {
			fs := newFlagSet("torrent")
			siteFlags(fs, defaultServeSettings())
			return fs
		},
		run: runTorrent,
	})
}

func runTorrent(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: add, fetch or delete")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "add":
		return torrentAdd(ctx, e, rest)
	case "fetch":
		return torrentFetch(ctx, e, rest)
	case "delete":
		return torrentDelete(ctx, e, rest)
	}
	return usagef("unknown subcommand %q (want add, fetch or delete)", sub)
}

func torrentAdd(ctx context.Context, e *Env, args []string) error {
	var owner, category string
	s, file, err := parseSiteCommand("torrent add", "torrent FILE", args, func(fs *flag.FlagSet) {
		fs.StringVar(&owner, "owner", "", "register the torrent as uploaded by user `NAME` (required)")
		fs.StringVar(&category, "category", "", "put it in category `C` (name or ID; default: the first)")
	})
	if err != nil {
		return err
	}
	if owner == "" {
		return usagef("torrent add: --owner NAME is required")
	}
	data, err := readTorrentFile(file)
	if err != nil {
		return err
	}
	store, err := s.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer store.Close()
	sys := catalog.WithSystem(ctx)
	u, err := findUser(sys, store, owner)
	if err != nil {
		return err
	}
	cat, err := findCategory(sys, store, category)
	if err != nil {
		return err
	}
	t, err := store.AddTorrent(sys, catalog.NewTorrent{Metainfo: data, CategoryID: cat.ID, OwnerID: u.ID})
	if err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	v1, v2 := t.InfoHashes()
	for _, h := range []string{v1, v2} {
		if h != "" {
			fmt.Fprintln(e.Stdout, h)
		}
	}
	fmt.Fprintf(e.Stderr, "added torrent %d %q (category %s, owner %s)\n", t.ID, t.Name, cat.Name, u.Name)
	return nil
}

// readTorrentFile reads a .torrent, refusing files over metainfo's limit
// before reading them.
func readTorrentFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, metainfo.DefaultMaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > metainfo.DefaultMaxSize {
		return nil, fmt.Errorf("%s: larger than %s", name, formatSize(metainfo.DefaultMaxSize))
	}
	return data, nil
}

// findCategory resolves a category by name (any case) or ID; "" is the
// first one.
func findCategory(sys context.Context, store *sqlstore.Store, ref string) (*catalog.Category, error) {
	cs, err := store.Categories(sys)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, errors.New("the site has no category")
	}
	if ref == "" {
		return cs[0], nil
	}
	id, _ := strconv.ParseInt(ref, 10, 64)
	names := make([]string, len(cs))
	for i, c := range cs {
		if strings.EqualFold(c.Name, ref) || c.ID == id {
			return c, nil
		}
		names[i] = c.Name
	}
	return nil, fmt.Errorf("no category %q (categories: %s)", ref, strings.Join(names, ", "))
}

// findTorrent resolves an info hash given on the command line.
func findTorrent(sys context.Context, store *sqlstore.Store, hash string) (*catalog.Torrent, error) {
	t, err := store.TorrentByHash(sys, hash)
	if err != nil {
		return nil, fmt.Errorf("torrent %s: %v", hash, err)
	}
	return t, nil
}

func torrentFetch(ctx context.Context, e *Env, args []string) error {
	var user, output string
	var force bool
	s, hash, err := parseSiteCommand("torrent fetch", "INFOHASH", args, func(fs *flag.FlagSet) {
		fs.StringVar(&user, "user", "", "write the personal .torrent of user `NAME` (required)")
		fs.StringVar(&output, "o", "", "output `FILE` (default NAME.torrent after the torrent; - for stdout)")
		fs.StringVar(&output, "output", "", "same as -o")
		fs.BoolVar(&force, "force", false, "overwrite an existing output file")
		fs.BoolVar(&force, "f", false, "same as --force")
	})
	if err != nil {
		return err
	}
	if user == "" {
		return usagef("torrent fetch: --user NAME is required")
	}
	if _, err := catalog.ParseHash(hash); err != nil {
		return usagef("%q: an info hash has 40 or 64 hex digits", hash)
	}
	bases, err := s.announceBases()
	if err != nil {
		return err
	}
	announce, err := personalAnnounceForm(bases, s.announceKeyForm())
	if err != nil {
		return err
	}
	store, err := s.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer store.Close()
	sys := catalog.WithSystem(ctx)
	t, err := findTorrent(sys, store, hash)
	if err != nil {
		return err
	}
	u, err := findUser(sys, store, user)
	if err != nil {
		return err
	}
	data, _, err := store.PersonalTorrent(sys, t.ID, u.ID, announce)
	if err != nil {
		return err
	}
	if output == "-" {
		_, err := e.Stdout.Write(data)
		return err
	}
	if output == "" {
		output = torrentFileName(t.Name)
	}
	if !force {
		if _, err := os.Stat(output); err == nil {
			return fmt.Errorf("%s exists (use --force to overwrite)", output)
		}
	}
	if err := writeFileAtomic(output, data, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "wrote %s: %s's personal .torrent of %q, announcing to %s\n", output, u.Name, t.Name, strings.Join(bases, " "))
	return nil
}

// personalAnnounce is personalAnnounceForm in the default key form,
// XBT's base + "/" + key + "/announce".
func personalAnnounce(bases []string) (func(key string) []string, error) {
	return personalAnnounceForm(bases, web.KeyInPath)
}

// personalAnnounceForm returns the function that builds a user's announce
// URLs from their key, one for each base with the key in form
// (web.PersonalAnnounceURL), as the site does.
func personalAnnounceForm(bases []string, form web.KeyForm) (func(key string) []string, error) {
	us := make([]string, 0, len(bases))
	for _, b := range bases {
		if err := checkBaseURL(b, "http", "https", "udp"); err != nil {
			return nil, fmt.Errorf("announce URL: %v", err)
		}
		u, _ := url.Parse(b)
		u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
		us = append(us, u.String())
	}
	return func(key string) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = web.PersonalAnnounceURL(u, key, form)
		}
		return out
	}, nil
}

// torrentFileName makes a file name in the current directory from a
// torrent's name: no separators, control characters or leading dot, at
// most 100 runes, ending in ".torrent".
func torrentFileName(name string) string {
	var b strings.Builder
	n := 0
	for _, r := range name {
		if n == 100 {
			break
		}
		switch {
		case r == '/' || r == '\\' || r == utf8.RuneError || !unicode.IsPrint(r):
			r = '_'
		case n == 0 && r == '.':
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	if b.Len() == 0 {
		return "torrent.torrent"
	}
	return filepath.Clean(b.String() + ".torrent")
}

func torrentDelete(ctx context.Context, e *Env, args []string) error {
	var reason string
	s, hash, err := parseSiteCommand("torrent delete", "INFOHASH", args, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "tell peers \"torrent deleted: `TEXT`\"")
	})
	if err != nil {
		return err
	}
	if _, err := catalog.ParseHash(hash); err != nil {
		return usagef("%q: an info hash has 40 or 64 hex digits", hash)
	}
	store, err := s.openStore(ctx, nil, false)
	if err != nil {
		return err
	}
	defer store.Close()
	sys := catalog.WithSystem(ctx)
	t, err := findTorrent(sys, store, hash)
	if err != nil {
		return err
	}
	if err := store.DeleteTorrent(sys, t.ID, reason); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "deleted torrent %d %q: its current peers are served until the last leecher finishes\n", t.ID, t.Name)
	return nil
}
