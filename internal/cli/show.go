package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gale-bt/gale/metainfo"
)

func init() {
	register(&command{
		name:    "show",
		summary: "print what a .torrent file holds (btshowmetainfo)",
		usage:   "gale show [--json] FILE...",
		help: `Prints each torrent's name, info hashes (v1 SHA-1, v2 SHA-256), version,
piece length and count, total size, private flag, source, comment, creator,
creation date, tracker tiers, web seeds, HTTP seeds, DHT nodes, magnet link
and file tree. File numbers in brackets are the indices 'gale magnet --select'
takes.

With --json, prints one JSON object per torrent (an array when several files
are given) with the keys info_hash, info_hash_v2, meta_version, name,
piece_length, num_pieces, total_size, private, source, comment, created_by,
creation_date (Unix seconds), announce, announce_list, web_seeds, http_seeds,
nodes, files ([{index, path, length}], padding files left out), magnet and
warnings. A hash the torrent does not have is null.

A file that cannot be read or parsed is reported with its name (and the byte
offset for corrupt bencode); the others are still shown; the exit code is 1.`,
		flags: func() *flag.FlagSet { fs, _ := showFlags(); return fs },
		run:   runShow,
	})
}

type showOptions struct {
	json bool
}

func showFlags() (*flag.FlagSet, *showOptions) {
	o := &showOptions{}
	fs := newFlagSet("show")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of text")
	return fs, o
}

func runShow(ctx context.Context, e *Env, args []string) error {
	fs, o := showFlags()
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no torrent file given")
	}
	var docs []*showJSON
	failed := 0
	for i, path := range files {
		t, err := metainfo.Load(path)
		if err != nil {
			fmt.Fprintf(e.Stderr, "gale show: %v\n", err)
			failed++
			continue
		}
		if o.json {
			docs = append(docs, torrentJSON(t))
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.Stdout)
		}
		printTorrent(e.Stdout, path, t)
	}
	if o.json && len(docs) > 0 {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		var v any = docs
		if len(files) == 1 {
			v = docs[0]
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	if failed > 0 {
		return &exitError{code: ExitFailure}
	}
	return nil
}

// showJSON is the JSON form of a torrent; its keys are a stable interface.
type showJSON struct {
	InfoHash     *string    `json:"info_hash"`
	InfoHashV2   *string    `json:"info_hash_v2"`
	MetaVersion  string     `json:"meta_version"`
	Name         string     `json:"name"`
	PieceLength  int64      `json:"piece_length"`
	NumPieces    int        `json:"num_pieces"`
	TotalSize    int64      `json:"total_size"`
	Private      bool       `json:"private"`
	Source       string     `json:"source"`
	Comment      string     `json:"comment"`
	CreatedBy    string     `json:"created_by"`
	CreationDate *int64     `json:"creation_date"`
	Announce     string     `json:"announce"`
	AnnounceList [][]string `json:"announce_list"`
	WebSeeds     []string   `json:"web_seeds"`
	HTTPSeeds    []string   `json:"http_seeds"`
	Nodes        []string   `json:"nodes"`
	Files        []fileJSON `json:"files"`
	Magnet       string     `json:"magnet"`
	Warnings     []string   `json:"warnings"`
}

type fileJSON struct {
	Index  int    `json:"index"`
	Path   string `json:"path"`
	Length int64  `json:"length"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func torrentJSON(t *metainfo.Torrent) *showJSON {
	v := t.Version()
	d := &showJSON{
		MetaVersion:  v.String(),
		Name:         t.Info.Name,
		PieceLength:  t.Info.PieceLength,
		NumPieces:    t.Info.NumPieces(),
		TotalSize:    t.Info.TotalLength,
		Private:      t.Info.Private,
		Source:       t.Info.Source,
		Comment:      t.Comment,
		CreatedBy:    t.CreatedBy,
		Announce:     t.Announce,
		AnnounceList: t.AnnounceList,
		WebSeeds:     nonNil(t.WebSeeds),
		HTTPSeeds:    nonNil(t.HTTPSeeds),
		Nodes:        []string{},
		Files:        []fileJSON{},
		Magnet:       t.Magnet().String(),
		Warnings:     nonNil(t.Warnings),
	}
	if d.AnnounceList == nil {
		d.AnnounceList = [][]string{}
	}
	if v.HasV1() {
		s := hex.EncodeToString(t.InfoHash[:])
		d.InfoHash = &s
	}
	if v.HasV2() {
		s := hex.EncodeToString(t.InfoHashV2[:])
		d.InfoHashV2 = &s
	}
	if !t.CreationDate.IsZero() {
		u := t.CreationDate.Unix()
		d.CreationDate = &u
	}
	for _, n := range t.Nodes {
		d.Nodes = append(d.Nodes, n.String())
	}
	for _, l := range t.Report.Leniencies {
		d.Warnings = append(d.Warnings, "non-canonical bencode: "+l.String())
	}
	for i, f := range t.Info.Files {
		if f.Pad {
			continue
		}
		d.Files = append(d.Files, fileJSON{Index: i, Path: strings.Join(f.Path, "/"), Length: f.Length})
	}
	return d
}

func printTorrent(w io.Writer, path string, t *metainfo.Torrent) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	v := t.Version()
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, args...)...)
	}
	row("file", "%s", path)
	row("name", "%s", t.Info.Name)
	if v.HasV1() {
		row("info hash", "%x", t.InfoHash)
	}
	if v.HasV2() {
		row("info hash v2", "%x", t.InfoHashV2)
	}
	row("version", "%s", v)
	np := t.Info.NumPieces()
	row("pieces", "%d x %s", np, formatSize(t.Info.PieceLength))
	row("total size", "%s (%d bytes)", formatSize(t.Info.TotalLength), t.Info.TotalLength)
	row("private", "%s", yesNo(t.Info.Private))
	if t.Info.Source != "" {
		row("source", "%s", t.Info.Source)
	}
	if t.Comment != "" {
		row("comment", "%s", oneLine(t.Comment))
	}
	if t.CreatedBy != "" {
		row("created by", "%s", t.CreatedBy)
	}
	if !t.CreationDate.IsZero() {
		row("created on", "%s", t.CreationDate.UTC().Format(time.RFC3339))
	}
	tiers := t.AnnounceList
	if len(tiers) == 0 && t.Announce != "" {
		tiers = [][]string{{t.Announce}}
	}
	if len(tiers) == 0 {
		row("trackers", "none")
	}
	for i, tier := range tiers {
		for j, u := range tier {
			k := ""
			if i == 0 && j == 0 {
				k = "trackers"
			}
			label := ""
			if j == 0 {
				label = fmt.Sprintf("tier %d: ", i+1)
			} else {
				label = strings.Repeat(" ", len(fmt.Sprintf("tier %d: ", i+1)))
			}
			if k == "" {
				fmt.Fprintf(tw, "\t%s%s\n", label, u)
			} else {
				row(k, "%s%s", label, u)
			}
		}
	}
	listRows(tw, "web seeds", t.WebSeeds)
	listRows(tw, "http seeds", t.HTTPSeeds)
	nodes := make([]string, len(t.Nodes))
	for i, n := range t.Nodes {
		nodes[i] = n.String()
	}
	listRows(tw, "dht nodes", nodes)
	row("magnet", "%s", t.Magnet())
	for _, wmsg := range t.Warnings {
		row("warning", "%s", wmsg)
	}
	if !t.Report.Canonical() {
		row("warning", "non-canonical bencode (%d issues, first: %s)", len(t.Report.Leniencies)+t.Report.Omitted, t.Report.Leniencies[0])
	}
	tw.Flush()
	printFileTree(w, t)
}

func listRows(tw io.Writer, k string, vals []string) {
	for i, s := range vals {
		if i == 0 {
			fmt.Fprintf(tw, "%s:\t%s\n", k, s)
		} else {
			fmt.Fprintf(tw, "\t%s\n", s)
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// oneLine keeps a multi-line comment on the terminal's terms.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " / ", "\n", " / ", "\r", " / ").Replace(s)
}

// printFileTree prints the files as an indented tree with their indices
// and sizes; padding files are left out.
func printFileTree(w io.Writer, t *metainfo.Torrent) {
	n := 0
	for _, f := range t.Info.Files {
		if !f.Pad {
			n++
		}
	}
	fmt.Fprintf(w, "files (%d, %s):\n", n, formatSize(t.Info.TotalLength))
	var prev []string
	for i, f := range t.Info.Files {
		if f.Pad {
			continue
		}
		dirs := f.Path[:len(f.Path)-1]
		common := 0
		for common < len(dirs) && common < len(prev) && dirs[common] == prev[common] {
			common++
		}
		for d := common; d < len(dirs); d++ {
			fmt.Fprintf(w, "  %s%s/\n", strings.Repeat("  ", d), dirs[d])
		}
		prev = dirs
		fmt.Fprintf(w, "  %s[%d] %s (%s)\n", strings.Repeat("  ", len(dirs)), i, f.Path[len(f.Path)-1], formatSize(f.Length))
	}
}
