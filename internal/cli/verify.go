package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gale-bt/gale/metainfo"
)

func init() {
	register(&command{
		name:    "verify",
		summary: "check data on disk against a .torrent",
		usage:   "gale verify [flags] FILE PATH",
		help: `Hashes the data at PATH against the torrent FILE (v1 pieces and, for v2 and
hybrid torrents, the v2 piece layers) and lists the bad pieces and the files
they touch. PATH is the torrent's content (the file, or the directory named
after the torrent) or the directory that holds it. Exit code 1 on any
mismatch or missing file.`,
		flags: func() *flag.FlagSet { fs, _ := verifyFlags(); return fs },
		run:   runVerify,
	})
}

type verifyOptions struct {
	json         bool
	threads      int
	progressMode string
}

func verifyFlags() (*flag.FlagSet, *verifyOptions) {
	o := &verifyOptions{}
	fs := newFlagSet("verify")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	fs.IntVar(&o.threads, "threads", 0, "hashing threads `N` (default: every core)")
	fs.StringVar(&o.progressMode, "progress", "auto", "progress bar `MODE`: auto (on a terminal), always, never")
	return fs, o
}

// contentPath resolves PATH for verify: the content itself, or its parent
// directory when that holds an entry named after the torrent.
func contentPath(t *metainfo.Torrent, p string) string {
	st, err := os.Stat(p)
	if err != nil || !st.IsDir() {
		return p
	}
	abs, _ := filepath.Abs(p)
	if t.Info.MultiFile && filepath.Base(abs) == t.Info.Name {
		return p
	}
	name, err := metainfo.SafePath([]string{t.Info.Name})
	if err != nil {
		return p
	}
	if _, err := os.Stat(filepath.Join(p, name)); err == nil {
		return filepath.Join(p, name)
	}
	return p
}

func runVerify(ctx context.Context, e *Env, args []string) error {
	fs, o := verifyFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want a torrent FILE and the data PATH")
	}
	switch o.progressMode {
	case "auto", "always", "never":
	default:
		return usagef("--progress must be auto, always or never")
	}
	t, err := metainfo.Load(pos[0])
	if err != nil {
		return err
	}
	path := contentPath(t, pos[1])
	bar := e.newProgress(progressMode(o.progressMode), t.Info.TotalLength, "verifying")
	start := time.Now()
	res, err := metainfo.Verify(ctx, t, path, metainfo.VerifyOptions{
		Threads:  o.threads,
		Progress: func(done, total int64) { bar.set(done) },
	})
	bar.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return &exitError{code: ExitFailure, msg: "interrupted"}
		}
		return err
	}
	secs := time.Since(start).Seconds()
	fileName := func(i int) string { return strings.Join(t.Info.Files[i].Path, "/") }
	if o.json {
		type fileRef struct {
			Index int    `json:"index"`
			Path  string `json:"path"`
		}
		doc := struct {
			OK        bool      `json:"ok"`
			Pieces    int       `json:"pieces"`
			BadPieces []int     `json:"bad_pieces"`
			BadFiles  []fileRef `json:"bad_files"`
			Missing   []fileRef `json:"missing_files"`
			Bytes     int64     `json:"bytes"`
			Seconds   float64   `json:"seconds"`
			Ranges    string    `json:"bad_piece_ranges"`
			_         struct{}  `json:"-"`
		}{OK: res.OK(), Pieces: res.Pieces, BadPieces: []int{}, BadFiles: []fileRef{}, Missing: []fileRef{},
			Bytes: res.Bytes, Seconds: secs, Ranges: metainfo.FormatRanges(res.BadPieces)}
		for _, r := range res.BadPieces {
			for p := r.First; p <= r.Last; p++ {
				doc.BadPieces = append(doc.BadPieces, p)
			}
		}
		for _, i := range res.BadFiles {
			doc.BadFiles = append(doc.BadFiles, fileRef{i, fileName(i)})
		}
		for _, i := range res.MissingFiles {
			doc.Missing = append(doc.Missing, fileRef{i, fileName(i)})
		}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		if res.OK() {
			fmt.Fprintf(e.Stdout, "%s: all %d pieces good (%s in %.2fs)\n", path, res.Pieces, formatSize(res.Bytes), secs)
		} else {
			fmt.Fprintf(e.Stdout, "%s: %d of %d pieces bad: %s\n", path, res.NumBadPieces(), res.Pieces, metainfo.FormatRanges(res.BadPieces))
			if len(res.MissingFiles) > 0 {
				fmt.Fprintln(e.Stdout, "missing or short files:")
				for _, i := range res.MissingFiles {
					fmt.Fprintf(e.Stdout, "  [%d] %s\n", i, fileName(i))
				}
			}
			if len(res.BadFiles) > 0 {
				fmt.Fprintln(e.Stdout, "files with bad data:")
				for _, i := range res.BadFiles {
					fmt.Fprintf(e.Stdout, "  [%d] %s\n", i, fileName(i))
				}
			}
		}
	}
	if !res.OK() {
		return &exitError{code: ExitFailure}
	}
	return nil
}
