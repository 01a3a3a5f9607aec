package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gale-bt/gale/metainfo"
)

func init() {
	register(&command{
		name:    "create",
		summary: "make a .torrent from a file or directory (btmakemetafile, btcompletedir)",
		usage:   "gale create [flags] PATH",
		help: `Hashes PATH (a file or a directory) and writes a .torrent file, by default
NAME.torrent in the current directory (-o - writes to standard output). An
existing output file is not overwritten without --force.

Trackers: each -a is one tier (BEP 12); commas inside one value list the URLs
of the same tier: -a http://a/announce,http://b/announce -a udp://c:6969.

Piece length: --piece-length takes bytes or a unit (256KiB, 4MiB), a power of
two from 16 KiB to 256 MiB. Without it, automatic rule 1 picks the smallest
power of two from 16 KiB to 16 MiB giving at most 2048 pieces.

Files are ordered by path bytes. Skipped unless asked for: names starting with
'.' (--include-hidden), symbolic links below PATH (--follow-symlinks), and
the junk names CVS, core, .DS_Store, Thumbs.db, desktop.ini. --exclude GLOB
(repeatable) skips files and directories whose name or slash path relative to
PATH matches.

--meta-version 1 (default, what every client and tracker reads), 2 (BEP 52)
or hybrid (both hashes, BEP 47 pad files; v1 and v2 swarms share the data).
With --no-date and --no-creator the same input gives the same bytes.

--each makes one torrent per entry of the directory PATH (btcompletedir),
named ENTRY.torrent, in the directory given by -o (default: the current one).

A progress bar (bytes, rate, ETA) is drawn on a terminal; --progress always
draws it on standard error even on a pipe, --progress never hides it.`,
		flags: func() *flag.FlagSet { fs, _ := createFlags(); return fs },
		run:   runCreate,
	})
}

type createOptions struct {
	announce     stringList
	output       string
	pieceLength  byteSize
	private      bool
	source       string
	comment      string
	name         string
	webSeeds     stringList
	httpSeeds    stringList
	dhtNodes     stringList
	metaVersion  string
	noDate       bool
	noCreator    bool
	exclude      stringList
	hidden       bool
	symlinks     bool
	each         bool
	threads      int
	json         bool
	force        bool
	progressMode string
}

func createFlags() (*flag.FlagSet, *createOptions) {
	o := &createOptions{}
	fs := newFlagSet("create")
	fs.Var(&o.announce, "a", "tracker `URL`s of one tier, comma separated (repeatable)")
	fs.Var(&o.announce, "announce", "same as -a")
	fs.StringVar(&o.output, "o", "", "output `FILE` (default NAME.torrent; - for stdout; a directory with --each)")
	fs.StringVar(&o.output, "output", "", "same as -o")
	fs.Var(&o.pieceLength, "piece-length", "piece length in bytes or with a unit: 256KiB, 4MiB (`SIZE`; default automatic)")
	fs.BoolVar(&o.private, "private", false, "set the private flag (BEP 27): no DHT, PEX or LSD")
	fs.StringVar(&o.source, "source", "", "set info.source to `S` (changes the info hash; used by private trackers)")
	fs.StringVar(&o.comment, "comment", "", "a free-text comment `S`")
	fs.StringVar(&o.name, "name", "", "torrent `NAME` (default: the base name of PATH)")
	fs.Var(&o.webSeeds, "w", "web seed `URL` (BEP 19 url-list; repeatable)")
	fs.Var(&o.webSeeds, "web-seed", "same as -w")
	fs.Var(&o.httpSeeds, "http-seed", "HTTP seed `URL` (BEP 17 httpseeds; repeatable)")
	fs.Var(&o.dhtNodes, "dht-node", "DHT bootstrap node `HOST:PORT` (BEP 5 nodes; repeatable)")
	fs.StringVar(&o.metaVersion, "meta-version", "1", "torrent format `V`: 1, 2 or hybrid")
	fs.BoolVar(&o.noDate, "no-date", false, "leave out the creation date")
	fs.BoolVar(&o.noCreator, "no-creator", false, "leave out 'created by'")
	fs.Var(&o.exclude, "exclude", "skip files and directories matching `GLOB` (repeatable)")
	fs.BoolVar(&o.hidden, "include-hidden", false, "include names starting with '.'")
	fs.BoolVar(&o.symlinks, "follow-symlinks", false, "follow symbolic links below PATH")
	fs.BoolVar(&o.each, "each", false, "one torrent per entry of the directory PATH (btcompletedir)")
	fs.IntVar(&o.threads, "threads", 0, "hashing threads `N` (default: every core)")
	fs.BoolVar(&o.json, "json", false, "print a summary as JSON")
	fs.BoolVar(&o.force, "f", false, "overwrite an existing output file")
	fs.BoolVar(&o.force, "force", false, "same as -f")
	fs.StringVar(&o.progressMode, "progress", "auto", "progress bar `MODE`: auto (on a terminal), always, never")
	return fs, o
}

func parseMetaVersion(s string) (metainfo.Version, error) {
	switch strings.ToLower(s) {
	case "1", "v1":
		return metainfo.V1, nil
	case "2", "v2":
		return metainfo.V2, nil
	case "hybrid", "3":
		return metainfo.Hybrid, nil
	}
	return 0, fmt.Errorf("--meta-version must be 1, 2 or hybrid, not %q", s)
}

// checkURL accepts absolute URLs with one of the given schemes.
func checkURL(flagName, s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return usagef("%s: %q is not a %s URL", flagName, s, strings.Join(schemes, "/"))
	}
	return nil
}

var trackerSchemes = []string{"http", "https", "udp", "ws", "wss"}

func parseNode(s string) (metainfo.Node, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return metainfo.Node{}, usagef("--dht-node: %q is not HOST:PORT", s)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return metainfo.Node{}, usagef("--dht-node: bad port in %q", s)
	}
	return metainfo.Node{Host: host, Port: p}, nil
}

func (o *createOptions) buildConfig() (metainfo.BuildConfig, error) {
	var cfg metainfo.BuildConfig
	v, err := parseMetaVersion(o.metaVersion)
	if err != nil {
		return cfg, usagef("%v", err)
	}
	tiers := parseTiers(o.announce)
	for _, tier := range tiers {
		for _, u := range tier {
			if err := checkURL("-a", u, trackerSchemes...); err != nil {
				return cfg, err
			}
		}
	}
	for _, u := range o.webSeeds {
		if err := checkURL("-w", u, "http", "https", "ftp"); err != nil {
			return cfg, err
		}
	}
	for _, u := range o.httpSeeds {
		if err := checkURL("--http-seed", u, "http", "https"); err != nil {
			return cfg, err
		}
	}
	var nodes []metainfo.Node
	for _, s := range o.dhtNodes {
		n, err := parseNode(s)
		if err != nil {
			return cfg, err
		}
		nodes = append(nodes, n)
	}
	pl := int64(o.pieceLength)
	if pl != 0 && (pl < 16<<10 || pl > 256<<20 || pl&(pl-1) != 0) {
		return cfg, usagef("--piece-length must be a power of two from 16KiB to 256MiB, not %d", pl)
	}
	for _, g := range o.exclude {
		if _, err := path.Match(g, ""); err != nil {
			return cfg, usagef("--exclude: bad pattern %q", g)
		}
	}
	if o.threads < 0 {
		return cfg, usagef("--threads must not be negative")
	}
	switch o.progressMode {
	case "auto", "always", "never":
	default:
		return cfg, usagef("--progress must be auto, always or never")
	}
	cfg = metainfo.BuildConfig{
		Name:           o.name,
		Version:        v,
		PieceLength:    pl,
		Announce:       tiers,
		WebSeeds:       o.webSeeds,
		HTTPSeeds:      o.httpSeeds,
		Nodes:          nodes,
		Private:        o.private,
		Source:         o.source,
		Comment:        o.comment,
		Exclude:        o.exclude,
		IncludeHidden:  o.hidden,
		FollowSymlinks: o.symlinks,
		Threads:        o.threads,
	}
	if !o.noCreator {
		cfg.CreatedBy = "gale/" + Version
	}
	if !o.noDate {
		cfg.CreationDate = time.Now().Truncate(time.Second)
	}
	return cfg, nil
}

func runCreate(ctx context.Context, e *Env, args []string) error {
	fs, o := createFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one PATH")
	}
	cfg, err := o.buildConfig()
	if err != nil {
		return err
	}
	if o.json && o.output == "-" {
		return usagef("--json and -o - both want standard output")
	}
	src := pos[0]
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !o.each {
		cfg.Path = src
		out := o.output
		if out == "" {
			name := cfg.Name
			if name == "" {
				abs, err := filepath.Abs(src)
				if err != nil {
					return err
				}
				name = filepath.Base(abs)
			}
			out = name + ".torrent"
		}
		s, err := createOne(ctx, e, o, cfg, out)
		if err != nil {
			return err
		}
		return e.printCreated(o, []*createSummary{s})
	}

	if !st.IsDir() {
		return usagef("--each needs a directory")
	}
	if o.name != "" {
		return usagef("--name cannot be used with --each")
	}
	outDir := o.output
	if outDir == "-" {
		return usagef("--each writes files; -o must be a directory")
	}
	if outDir == "" {
		outDir = "."
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	var sums []*createSummary
	for _, ent := range entries {
		if skipEntry(o, ent.Name()) {
			continue
		}
		if ent.Type()&os.ModeSymlink != 0 && !o.symlinks {
			continue
		}
		c := cfg
		c.Path = filepath.Join(src, ent.Name())
		s, err := createOne(ctx, e, o, c, filepath.Join(outDir, ent.Name()+".torrent"))
		if err != nil {
			return fmt.Errorf("%s: %w", c.Path, err)
		}
		sums = append(sums, s)
	}
	if len(sums) == 0 {
		return fmt.Errorf("%s: no entries to make torrents of", src)
	}
	return e.printCreated(o, sums)
}

// skipEntry applies the same rules as Build's directory walk to a
// top-level entry for --each.
func skipEntry(o *createOptions, name string) bool {
	if !o.hidden && strings.HasPrefix(name, ".") {
		return true
	}
	if slices.Contains(metainfo.DefaultJunk, name) {
		return true
	}
	for _, g := range o.exclude {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// createSummary is the JSON summary of one created torrent.
type createSummary struct {
	Output      string  `json:"output"`
	InfoHash    *string `json:"info_hash"`
	InfoHashV2  *string `json:"info_hash_v2"`
	MetaVersion string  `json:"meta_version"`
	Name        string  `json:"name"`
	Files       int     `json:"files"`
	TotalSize   int64   `json:"total_size"`
	PieceLength int64   `json:"piece_length"`
	NumPieces   int     `json:"num_pieces"`
	Private     bool    `json:"private"`
	Seconds     float64 `json:"seconds"`
	BytesPerSec float64 `json:"bytes_per_second"`
	Magnet      string  `json:"magnet"`
}

func createOne(ctx context.Context, e *Env, o *createOptions, cfg metainfo.BuildConfig, out string) (*createSummary, error) {
	if out != "-" && !o.force {
		if _, err := os.Stat(out); err == nil {
			return nil, fmt.Errorf("%s exists (use --force to overwrite)", out)
		}
	}
	var bar *progress
	defer func() { bar.finish() }()
	cfg.Progress = func(done, total int64) {
		if bar == nil && total > 0 {
			bar = e.newProgress(progressMode(o.progressMode), total, "hashing")
		}
		bar.set(done)
	}
	start := time.Now()
	t, err := metainfo.Build(ctx, cfg)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, &exitError{code: ExitFailure, msg: "interrupted"}
		}
		return nil, err
	}
	bar.finish()
	bar = nil
	secs := time.Since(start).Seconds()
	data, err := t.Marshal()
	if err != nil {
		return nil, err
	}
	if out == "-" {
		if _, err := e.Stdout.Write(data); err != nil {
			return nil, err
		}
	} else if err := writeFileAtomic(out, data, 0o644); err != nil {
		return nil, err
	}
	s := &createSummary{
		Output:      out,
		MetaVersion: t.Version().String(),
		Name:        t.Info.Name,
		TotalSize:   t.Info.TotalLength,
		PieceLength: t.Info.PieceLength,
		NumPieces:   t.Info.NumPieces(),
		Private:     t.Info.Private,
		Seconds:     secs,
		Magnet:      t.Magnet().String(),
	}
	for _, f := range t.Info.Files {
		if !f.Pad {
			s.Files++
		}
	}
	if secs > 0 {
		s.BytesPerSec = float64(t.Info.TotalLength) / secs
	}
	if t.Version().HasV1() {
		h := hex.EncodeToString(t.InfoHash[:])
		s.InfoHash = &h
	}
	if t.Version().HasV2() {
		h := hex.EncodeToString(t.InfoHashV2[:])
		s.InfoHashV2 = &h
	}
	return s, nil
}

func (e *Env) printCreated(o *createOptions, sums []*createSummary) error {
	if o.json {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if len(sums) == 1 && !o.each {
			return enc.Encode(sums[0])
		}
		return enc.Encode(sums)
	}
	w := e.Stdout
	if o.output == "-" {
		w = e.Stderr // the torrent itself goes to stdout
	}
	for _, s := range sums {
		fmt.Fprintf(w, "created %s: %s, %s, %s of %s, %s, in %.2fs (%s/s)\n",
			s.Output, plural(s.Files, "file"), formatSize(s.TotalSize), plural(s.NumPieces, "piece"), formatSize(s.PieceLength),
			s.MetaVersion, s.Seconds, formatSize(int64(s.BytesPerSec)))
		if s.InfoHash != nil {
			fmt.Fprintf(w, "  info hash:    %s\n", *s.InfoHash)
		}
		if s.InfoHashV2 != nil {
			fmt.Fprintf(w, "  info hash v2: %s\n", *s.InfoHashV2)
		}
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside name, syncs it
// and renames it over name, so readers see the old or the new file, never
// a partial one. An existing file's permissions are kept.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	if st, err := os.Stat(name); err == nil {
		perm = st.Mode().Perm()
	}
	dir, base := filepath.Split(name)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// plural formats n with a noun, adding "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
