package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/gale-bt/gale/metainfo"
)

func init() {
	register(&command{
		name:    "magnet",
		summary: "print a torrent's magnet link (BEP 9, 53)",
		usage:   "gale magnet [--select 1,3-5] FILE",
		help: `Prints the magnet link of a .torrent file: xt=urn:btih (v1) and/or
xt=urn:btmh (v2), the name, the size, every tracker in tier order and the web
seeds. --select adds BEP 53 select-only file indices (as 'gale show' numbers
them).`,
		flags: func() *flag.FlagSet { fs, _ := magnetFlags(); return fs },
		run:   runMagnet,
	})
}

func magnetFlags() (*flag.FlagSet, *string) {
	fs := newFlagSet("magnet")
	sel := fs.String("select", "", "select only these file indices, e.g. 1,3-5 (BEP 53)")
	return fs, sel
}

func runMagnet(ctx context.Context, e *Env, args []string) error {
	fs, sel := magnetFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one torrent file")
	}
	t, err := metainfo.Load(pos[0])
	if err != nil {
		return err
	}
	m := t.Magnet()
	if *sel != "" {
		rs, err := metainfo.ParseRanges(*sel)
		if err != nil {
			return usagef("--select: %v", err)
		}
		if err := metainfo.CheckRanges(rs, len(t.Info.Files)); err != nil {
			return usagef("--select: %v", err)
		}
		m.SelectOnly = rs
	}
	fmt.Fprintln(e.Stdout, m)
	return nil
}
