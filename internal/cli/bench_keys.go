package cli

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
)

// Personal announce URLs for `gale bench` against a private tracker
// (`gale serve`): `gale bench-keys` fills a site with benchmark users and
// torrents and writes one line per (info hash, personal announce URL);
// `gale bench --announce-urls FILE` reads such a file and announces with
// those keys.

func init() {
	register(&command{
		name:    "bench-keys",
		summary: "prepare a gale serve site for gale bench: users, torrents, personal announce URLs",
		usage:   "gale bench-keys [--users N] [--torrents N] [--scheme udp|http] [-o FILE] [--data DIR] [--db URL] [--config FILE]",
		help: `Prepare the site of 'gale serve' (same --data, --db and --config) for a load
test of its private tracker: make sure users bench0 ... bench<N-1> exist (no
password: they cannot sign in) and torrents "gale-bench-000000" ... exist
(tiny synthetic v1 torrents, owned by bench0, in the first category), then
write every user's personal announce URL of every torrent, one per line:

  INFOHASH URL

INFOHASH is the swarm's info hash in hex (lines are grouped by torrent, in
order), URL the announce URL the site puts into that user's .torrent for
the tracker base of --scheme (the announce-urls of the config, else those
of the last 'gale serve' on the data directory). Feed the file to
'gale bench --announce-urls FILE'. Running it again reuses what exists.
The database is created if there is none yet, so that a site can be
prepared before its first start (then set announce-urls in the config).

The file holds working announce keys: keep it private and delete it after
the benchmark (or run 'gale user reset-key' for the bench users).`,
		flags: func() *flag.FlagSet { fs, _ := benchKeysFlags(defaultServeSettings()); return fs },
		run:   runBenchKeys,
	})
}

type benchKeysConfig struct {
	users, torrents int
	scheme, output  string
}

func benchKeysFlags(s *serveSettings) (*flag.FlagSet, *benchKeysConfig) {
	c := &benchKeysConfig{}
	fs := newFlagSet("bench-keys")
	siteFlags(fs, s)
	fs.IntVar(&c.users, "users", 20, "number of benchmark users")
	fs.IntVar(&c.torrents, "torrents", 1000, "number of benchmark torrents")
	fs.StringVar(&c.scheme, "scheme", "udp", "announce URLs of the `udp` or http tracker base")
	fs.StringVar(&c.output, "o", "-", "write the lines to `FILE` (- for stdout)")
	fs.StringVar(&c.output, "output", "-", "same as -o")
	return fs, c
}

// Limits of bench-keys: the file has users x torrents lines.
const (
	benchKeysMaxUsers = 10000
	benchKeysMaxLines = 5_000_000
)

func runBenchKeys(ctx context.Context, e *Env, args []string) error {
	var c *benchKeysConfig
	s, pos, err := loadSiteSettings(args, func(s *serveSettings) *flag.FlagSet {
		var fs *flag.FlagSet
		fs, c = benchKeysFlags(s)
		return fs
	})
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case c.users < 1 || c.users > benchKeysMaxUsers:
		return usagef("--users must be between 1 and %d", benchKeysMaxUsers)
	case c.torrents < 1 || c.torrents > benchMaxTorrents:
		return usagef("--torrents must be between 1 and %d", benchMaxTorrents)
	case c.users*c.torrents > benchKeysMaxLines:
		return usagef("--users x --torrents must be at most %d", benchKeysMaxLines)
	case c.scheme != "udp" && c.scheme != "http" && c.scheme != "https":
		return usagef("--scheme must be udp or http")
	}
	bases, err := s.announceBases()
	if err != nil {
		return err
	}
	var base []string
	for _, b := range bases {
		if strings.HasPrefix(b, c.scheme+"://") {
			base = []string{b}
			break
		}
	}
	if base == nil {
		return fmt.Errorf("the site has no %s announce URL (it has: %s)", c.scheme, strings.Join(bases, " "))
	}
	announce, err := personalAnnounce(base)
	if err != nil {
		return err
	}
	store, err := s.openStore(ctx, nil, true)
	if err != nil {
		return err
	}
	defer store.Close()
	sys := catalog.WithSystem(ctx)
	users, err := benchUsers(sys, store, c.users)
	if err != nil {
		return err
	}
	torrents, err := benchTorrents(sys, store, users[0], c.torrents)
	if err != nil {
		return err
	}

	var w io.Writer = e.Stdout
	var f *os.File
	if c.output != "-" {
		if f, err = os.OpenFile(c.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, t := range torrents {
		ih := t.SwarmHash()
		ihHex := hex.EncodeToString(ih[:])
		for _, u := range users {
			key, err := store.AnnounceKey(sys, t.ID, u.ID)
			if err != nil {
				return fmt.Errorf("announce key of %s for %s: %v", u.Name, t.Name, err)
			}
			fmt.Fprintf(bw, "%s %s\n", ihHex, announce(key)[0])
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(e.Stderr, "wrote %d announce URLs (%d users x %d torrents) to %s\n", len(users)*len(torrents), len(users), len(torrents), c.output)
	}
	return nil
}

// benchUsers returns the users bench0 ... bench<n-1>, creating those that
// do not exist.
func benchUsers(sys context.Context, store *sqlstore.Store, n int) ([]*catalog.User, error) {
	users := make([]*catalog.User, n)
	for i := range users {
		name := "bench" + strconv.Itoa(i)
		u, err := store.UserByName(sys, name)
		if catalog.ErrorCode(err) == catalog.ENOTFOUND {
			u, err = store.CreateUser(sys, catalog.NewUser{Name: name})
		}
		if err != nil {
			return nil, fmt.Errorf("user %s: %v", name, err)
		}
		if u.Disabled {
			return nil, fmt.Errorf("user %s is disabled", name)
		}
		users[i] = u
	}
	return users, nil
}

// benchTorrents returns the torrents gale-bench-000000 ... in the first
// category, adding those that do not exist with owner.
func benchTorrents(sys context.Context, store *sqlstore.Store, owner *catalog.User, n int) ([]*catalog.Torrent, error) {
	cat, err := findCategory(sys, store, "")
	if err != nil {
		return nil, err
	}
	st, err := store.Settings(sys)
	if err != nil {
		return nil, err
	}
	out := make([]*catalog.Torrent, n)
	for i := range out {
		data := benchMetainfo(i)
		t, err := store.AddTorrent(sys, catalog.NewTorrent{Metainfo: data, CategoryID: cat.ID, OwnerID: owner.ID})
		if catalog.ErrorCode(err) == catalog.ECONFLICT {
			// Added by an earlier run: find it by the site's hash.
			p, perr := catalog.PrepareTorrent(data, st.SiteName)
			if perr != nil {
				return nil, perr
			}
			t, err = store.TorrentByHash(sys, hex.EncodeToString(p.V1[:]))
		}
		if err != nil {
			return nil, fmt.Errorf("torrent %d: %v", i, err)
		}
		if t.Deleted {
			return nil, fmt.Errorf("torrent %s is deleted", t.Name)
		}
		out[i] = t
	}
	return out, nil
}

// benchMetainfo is the synthetic .torrent number i: one file of 1000
// bytes in one piece (its hash is made up: nobody downloads it).
func benchMetainfo(i int) []byte {
	name := fmt.Sprintf("gale-bench-%06d", i)
	piece := sha1.Sum([]byte("gale bench piece " + strconv.Itoa(i)))
	return fmt.Appendf(nil, "d4:infod6:lengthi1000e4:name%d:%s12:piece lengthi16384e6:pieces20:%see",
		len(name), name, piece[:])
}

// benchKeyed is a file of personal announce URLs for gale bench: every
// info hash with the announce targets (path and query) of its keys.
type benchKeyed struct {
	base   *url.URL   // scheme and host of every URL
	hashes [][20]byte // in order of first appearance
	paths  [][]string // per info hash
}

// readAnnounceURLs reads lines "INFOHASH URL" (blank lines and '#'
// comments ignored). Every URL must have the scheme and host of the first.
func readAnnounceURLs(path string) (*benchKeyed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseAnnounceURLs(f, path)
}

func parseAnnounceURLs(r io.Reader, name string) (*benchKeyed, error) {
	k := &benchKeyed{}
	index := map[[20]byte]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	lines := 0
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		hs, us, ok := strings.Cut(s, " ")
		us = strings.TrimSpace(us)
		var h [20]byte
		if !ok || len(hs) != 40 {
			return nil, fmt.Errorf("%s:%d: want \"INFOHASH URL\" with a 40-digit hex info hash", name, line)
		}
		if _, err := hex.Decode(h[:], []byte(hs)); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		u, err := url.Parse(us)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if u.Scheme != "udp" && u.Scheme != "http" {
			return nil, fmt.Errorf("%s:%d: URL scheme must be udp or http, not %q", name, line, u.Scheme)
		}
		if k.base == nil {
			k.base = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/announce"}
		} else if u.Scheme != k.base.Scheme || u.Host != k.base.Host {
			return nil, fmt.Errorf("%s:%d: every URL must be on %s://%s", name, line, k.base.Scheme, k.base.Host)
		}
		target := u.EscapedPath()
		if u.RawQuery != "" {
			target += "?" + u.RawQuery
		}
		if target == "" || target[0] != '/' {
			return nil, fmt.Errorf("%s:%d: URL has no path", name, line)
		}
		if lines++; lines > benchKeysMaxLines {
			return nil, fmt.Errorf("%s: more than %d lines", name, benchKeysMaxLines)
		}
		i, seen := index[h]
		if !seen {
			if len(k.hashes) >= benchMaxTorrents {
				return nil, fmt.Errorf("%s: more than %d info hashes", name, benchMaxTorrents)
			}
			i = len(k.hashes)
			index[h] = i
			k.hashes = append(k.hashes, h)
			k.paths = append(k.paths, nil)
		}
		k.paths[i] = append(k.paths[i], target)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(k.hashes) == 0 {
		return nil, fmt.Errorf("%s: no announce URLs", name)
	}
	return k, nil
}

// errKeyedSize is returned when personal UDP announces differ in size.
var errKeyedSize = errors.New("--announce-urls: the UDP announce URLs must all have paths of the same length")

// urlTarget returns the path and query peer i announces to: peer i is in
// torrent i mod T and uses that torrent's URLs in turn, so the peers of a
// torrent are spread over its users.
func (p *benchPopulation) urlTarget(i int) string {
	t := p.torrent(i)
	ps := p.keyed.paths[t]
	return ps[(i/len(p.hashes))%len(ps)]
}

// appendRequestLine appends "GET <target>?" (or "&" when the target has a
// query) of peer i to b.
func (p *benchPopulation) appendRequestLine(b []byte, i int) []byte {
	t := p.urlTarget(i)
	b = append(b, "GET "...)
	b = append(b, t...)
	if strings.IndexByte(t, '?') >= 0 {
		return append(b, '&')
	}
	return append(b, '?')
}

// benchKeyedConfig reads --announce-urls for runBench (nil without it)
// and points c at its tracker.
func benchKeyedConfig(fs *flag.FlagSet, c *benchConfig, pos []string) (*benchKeyed, error) {
	if c.announceURLs == "" {
		return nil, nil
	}
	urlFlag := false
	fs.Visit(func(f *flag.Flag) { urlFlag = urlFlag || f.Name == "url" })
	switch {
	case urlFlag || len(pos) > 0:
		return nil, usagef("--announce-urls names the tracker: no URL")
	case c.infoHashesFile != "" || c.printHashes:
		return nil, usagef("--announce-urls gives the info hashes: no --infohashes or --print-infohashes")
	case c.mode != "announce":
		return nil, usagef("--announce-urls works with --mode announce only")
	case c.wrkLua != "":
		return nil, usagef("--wrk-lua does not support --announce-urls")
	}
	k, err := readAnnounceURLs(c.announceURLs)
	if err != nil {
		return nil, err
	}
	c.url = k.base.String()
	return k, nil
}
