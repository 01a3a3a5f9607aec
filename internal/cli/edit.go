package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"slices"

	"github.com/gale-bt/gale/metainfo"
)

func init() {
	register(&command{
		name:    "edit",
		summary: "change trackers, seeds, comment or name of a .torrent (btreannounce, btcopyannounce, btrename, btsethttpseeds)",
		usage:   "gale edit FILE [flags]",
		help: `Edits a .torrent file in place (written atomically) or into -o OUT.

Edits outside the info dictionary keep the info bytes byte-identical, so the
info hash, and every swarm the torrent is in, stay the same:
  --announce URL            set the main tracker and drop announce-list
  --announce-list "a,b|c"   set the tiers: '|' between tiers, ',' inside one
  --add-announce URL        add a tracker as a new last tier
  --remove-announce URL     remove a tracker from every tier
  --copy-announce-from F    copy announce and announce-list from torrent F
  -w/--web-seed URL         add a web seed (BEP 19); --clear-web-seeds first
  --http-seed URL           add an HTTP seed (BEP 17); --clear-http-seeds first
  --comment S               set the comment ('' removes it)

Edits inside info change the info hash (a new swarm) and need
--allow-hash-change: --name NAME, --private on|off, --source S.

Every edit prints the old and the new info hash. Flags are applied in the
order: copy, announce, announce-list, add, remove, seeds, comment, info.`,
		flags: func() *flag.FlagSet { fs, _ := editFlags(); return fs },
		run:   runEdit,
	})
}

type editOptions struct {
	set             map[string]bool // flags given
	announce        string
	announceList    string
	addAnnounce     stringList
	removeAnnounce  stringList
	copyFrom        string
	webSeeds        stringList
	clearWebSeeds   bool
	httpSeeds       stringList
	clearHTTPSeeds  bool
	comment         string
	output          string
	name            string
	private         string
	source          string
	allowHashChange bool
}

func editFlags() (*flag.FlagSet, *editOptions) {
	o := &editOptions{}
	fs := newFlagSet("edit")
	fs.StringVar(&o.announce, "announce", "", "set the main tracker `URL` and drop announce-list")
	fs.StringVar(&o.announceList, "announce-list", "", "set tracker tiers `LIST`: \"a,b|c\"")
	fs.Var(&o.addAnnounce, "add-announce", "add a tracker `URL` as a new tier (repeatable)")
	fs.Var(&o.removeAnnounce, "remove-announce", "remove a tracker `URL` from all tiers (repeatable)")
	fs.StringVar(&o.copyFrom, "copy-announce-from", "", "copy the trackers of another torrent `FILE`")
	fs.Var(&o.webSeeds, "w", "add a web seed `URL` (repeatable)")
	fs.Var(&o.webSeeds, "web-seed", "same as -w")
	fs.BoolVar(&o.clearWebSeeds, "clear-web-seeds", false, "remove all web seeds")
	fs.Var(&o.httpSeeds, "http-seed", "add an HTTP seed `URL` (repeatable)")
	fs.BoolVar(&o.clearHTTPSeeds, "clear-http-seeds", false, "remove all HTTP seeds")
	fs.StringVar(&o.comment, "comment", "", "set the comment to `S`")
	fs.StringVar(&o.output, "o", "", "write to `OUT` instead of editing in place")
	fs.StringVar(&o.output, "output", "", "same as -o")
	fs.StringVar(&o.name, "name", "", "rename the torrent to `NAME` (changes the info hash)")
	fs.StringVar(&o.private, "private", "", "`on|off`: set or clear the private flag (changes the info hash)")
	fs.StringVar(&o.source, "source", "", "set info.source to `S`, '' removes it (changes the info hash)")
	fs.BoolVar(&o.allowHashChange, "allow-hash-change", false, "allow edits that change the info hash")
	return fs, o
}

func runEdit(ctx context.Context, e *Env, args []string) error {
	fs, o := editFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	o.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if len(pos) != 1 {
		return usagef("want exactly one torrent FILE")
	}
	file := pos[0]
	infoEdit := o.set["name"] || o.set["private"] || o.set["source"]
	if infoEdit && !o.allowHashChange {
		return usagef("--name, --private and --source change the info hash; add --allow-hash-change")
	}
	changes := 0
	for _, k := range []string{"announce", "announce-list", "add-announce", "remove-announce", "copy-announce-from",
		"w", "web-seed", "clear-web-seeds", "http-seed", "clear-http-seeds", "comment", "name", "private", "source"} {
		if o.set[k] {
			changes++
		}
	}
	if changes == 0 {
		return usagef("nothing to change")
	}
	if err := o.check(); err != nil {
		return err
	}

	t, err := metainfo.Load(file)
	if err != nil {
		return err
	}
	oldInfo := slices.Clone(t.InfoBytes)
	oldHash := hashString(t)

	if o.copyFrom != "" {
		src, err := metainfo.Load(o.copyFrom)
		if err != nil {
			return err
		}
		t.Announce, t.AnnounceList = src.Announce, slices.Clone(src.AnnounceList)
	}
	if o.set["announce"] {
		t.Announce, t.AnnounceList = o.announce, nil
	}
	if o.set["announce-list"] {
		setTiers(t, parseTierSpec(o.announceList))
	}
	for _, u := range o.addAnnounce {
		tiers := currentTiers(t)
		if !slices.ContainsFunc(tiers, func(tier []string) bool { return slices.Contains(tier, u) }) {
			setTiers(t, append(tiers, []string{u}))
		}
	}
	for _, u := range o.removeAnnounce {
		var tiers [][]string
		for _, tier := range currentTiers(t) {
			tier = slices.DeleteFunc(slices.Clone(tier), func(s string) bool { return s == u })
			if len(tier) > 0 {
				tiers = append(tiers, tier)
			}
		}
		setTiers(t, tiers)
	}
	if o.clearWebSeeds {
		t.WebSeeds = nil
	}
	for _, u := range o.webSeeds {
		if !slices.Contains(t.WebSeeds, u) {
			t.WebSeeds = append(t.WebSeeds, u)
		}
	}
	if o.clearHTTPSeeds {
		t.HTTPSeeds = nil
	}
	for _, u := range o.httpSeeds {
		if !slices.Contains(t.HTTPSeeds, u) {
			t.HTTPSeeds = append(t.HTTPSeeds, u)
		}
	}
	if o.set["comment"] {
		t.Comment = o.comment
	}
	if infoEdit {
		var ie metainfo.InfoEdit
		if o.set["name"] {
			ie.Name = &o.name
		}
		if o.set["private"] {
			b := o.private == "on"
			ie.Private = &b
		}
		if o.set["source"] {
			ie.Source = &o.source
		}
		if err := t.EditInfo(ie); err != nil {
			return err
		}
	}
	data, err := t.Marshal()
	if err != nil {
		return err
	}
	if !infoEdit && !bytes.Equal(oldInfo, t.InfoBytes) {
		// Cannot happen with Marshal's contract; refuse rather than write.
		return fmt.Errorf("internal error: info bytes changed by an edit outside info")
	}
	out := file
	if o.output != "" {
		out = o.output
	}
	if out == "-" {
		_, err = e.Stdout.Write(data)
		return err
	}
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	newHash := hashString(t)
	if newHash == oldHash {
		fmt.Fprintf(e.Stdout, "%s: info hash %s (unchanged)\n", out, oldHash)
	} else {
		fmt.Fprintf(e.Stdout, "%s: info hash %s -> %s (changed: a new swarm)\n", out, oldHash, newHash)
	}
	return nil
}

func (o *editOptions) check() error {
	if o.set["announce"] {
		if err := checkURL("--announce", o.announce, trackerSchemes...); err != nil {
			return err
		}
	}
	if o.set["announce-list"] {
		for _, tier := range parseTierSpec(o.announceList) {
			for _, u := range tier {
				if err := checkURL("--announce-list", u, trackerSchemes...); err != nil {
					return err
				}
			}
		}
	}
	for _, u := range o.addAnnounce {
		if err := checkURL("--add-announce", u, trackerSchemes...); err != nil {
			return err
		}
	}
	for _, u := range o.webSeeds {
		if err := checkURL("-w", u, "http", "https", "ftp"); err != nil {
			return err
		}
	}
	for _, u := range o.httpSeeds {
		if err := checkURL("--http-seed", u, "http", "https"); err != nil {
			return err
		}
	}
	if o.set["private"] && o.private != "on" && o.private != "off" {
		return usagef("--private must be on or off")
	}
	if o.set["name"] && o.name == "" {
		return usagef("--name must not be empty")
	}
	return nil
}

// currentTiers returns the torrent's tiers, the lone announce URL as one
// tier when there is no announce-list.
func currentTiers(t *metainfo.Torrent) [][]string {
	if len(t.AnnounceList) > 0 {
		return slices.Clone(t.AnnounceList)
	}
	if t.Announce != "" {
		return [][]string{{t.Announce}}
	}
	return nil
}

// setTiers stores tiers as announce plus, for more than one URL,
// announce-list (BEP 12), keeping announce inside the list.
func setTiers(t *metainfo.Torrent, tiers [][]string) {
	t.Announce, t.AnnounceList = "", nil
	n := 0
	for _, tier := range tiers {
		n += len(tier)
	}
	if n == 0 {
		return
	}
	t.Announce = tiers[0][0]
	if n > 1 {
		t.AnnounceList = tiers
	}
}

func hashString(t *metainfo.Torrent) string {
	v := t.Version()
	switch {
	case v == metainfo.V2:
		return hex.EncodeToString(t.InfoHashV2[:])
	case v == metainfo.Hybrid:
		return hex.EncodeToString(t.InfoHash[:]) + " (v2 " + hex.EncodeToString(t.InfoHashV2[:]) + ")"
	}
	return hex.EncodeToString(t.InfoHash[:])
}
