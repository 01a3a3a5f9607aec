package metainfo

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// padPrefix starts the names BitComet gives its padding files.
const padPrefix = "_____padding_file_"

// rawInfo collects the info keys before validation (keys arrive in any
// order in tolerant input, and "files" sorts before "piece length").
type rawInfo struct {
	name        string
	hasName     bool
	pieceLength int64
	hasPL       bool
	plOff       int
	pieces      []byte
	hasPieces   bool
	piecesOff   int
	length      int64
	hasLength   bool
	files       []v1File
	hasFiles    bool
	metaVersion int64
	hasTree     bool
	treeOff     int
	attr        string
}

// v1File is an entry of "files"; its path is comps[start:end] where
// comps[start] is reserved for the torrent name.
type v1File struct {
	start, end int
	length     int64
	attr       string
	pad        bool
	off        int
}

// countFile counts one more file in *n (the v1 list and the v2 tree
// are counted separately) and enforces MaxFiles.
func (p *parser) countFile(n *int, off int) error {
	*n++
	if *n > p.opts.maxFiles() {
		return &Error{Field: "info", Offset: p.c.base + int64(off),
			Msg: fmt.Sprintf("more than %d files", p.opts.maxFiles()), Err: ErrTooLarge}
	}
	return nil
}

// parseInfo parses and validates t.InfoBytes, which start at byte base
// of the input.
func (p *parser) parseInfo(base int64) error {
	t := p.t
	p.c = &cursor{data: t.InfoBytes, base: base}
	c := p.c
	if !c.is('d') {
		return p.fieldErr("info", c.mismatch("dictionary"))
	}
	var ri rawInfo
	err := c.dict(func(key []byte, ko int) error {
		var err error
		switch string(key) {
		case "name":
			ri.name, err = c.string()
			ri.hasName = err == nil
			return p.fieldErr("info.name", err)
		case "piece length":
			ri.plOff = c.pos
			ri.pieceLength, err = c.integer()
			ri.hasPL = err == nil
			return p.fieldErr("info.piece length", err)
		case "pieces":
			ri.piecesOff = c.pos
			ri.pieces, err = c.bytes()
			ri.hasPieces = err == nil
			return p.fieldErr("info.pieces", err)
		case "private":
			t.Info.Private = false
			if !c.is('i') {
				p.warn("ignored \"private\": %s", c.mismatch("integer"))
				return c.skip()
			}
			n, err := c.integer()
			t.Info.Private = n == 1
			return p.fieldErr("info.private", err)
		case "source":
			t.Info.Source, err = c.string()
			return p.fieldErr("info.source", err)
		case "length":
			ri.length, err = c.integer()
			ri.hasLength = err == nil
			if err == nil && ri.length < 0 {
				return p.fail("info.length", ko, "negative length %d", ri.length)
			}
			return p.fieldErr("info.length", err)
		case "attr":
			if c.isString() {
				ri.attr, err = c.string()
				return err
			}
			return c.skip()
		case "files":
			ri.files, ri.hasFiles = nil, true
			p.nfiles = 0
			return p.v1Files(&ri)
		case "meta version":
			ri.metaVersion, err = c.integer()
			return p.fieldErr("info.meta version", err)
		case "file tree":
			ri.hasTree, ri.treeOff = true, c.pos
			p.tree, p.stack, p.ntree = p.tree[:0], p.stack[:0], 0
			return p.v2Tree()
		}
		return c.skip()
	})
	if err != nil {
		return p.fieldErr("info", err)
	}
	return p.validate(&ri)
}

// v1Files parses the BEP 3 "files" list.
func (p *parser) v1Files(ri *rawInfo) error {
	c := p.c
	// Count first, so that a huge list is refused before allocating.
	start, n := c.pos, 0
	err := c.list(func(int) error {
		n++
		if n > p.opts.maxFiles() {
			return &Error{Field: "info.files", Offset: c.base + int64(start),
				Msg: fmt.Sprintf("more than %d files", p.opts.maxFiles()), Err: ErrTooLarge}
		}
		return c.skip()
	})
	if err != nil {
		return p.fieldErr("info.files", err)
	}
	c.pos = start
	ri.files = make([]v1File, 0, n)
	p.comps = slices.Grow(p.comps, 2*n) // the name and usually one component
	if err := c.enter('l'); err != nil {
		return p.fieldErr("info.files", err)
	}
	for i := 0; ; i++ {
		more, err := c.next()
		if err != nil {
			return p.fieldErr("info.files", err)
		}
		if !more {
			return nil
		}
		if err := p.v1File(ri, i); err != nil {
			return err
		}
	}
}

// v1File parses entry i of "files".
func (p *parser) v1File(ri *rawInfo, i int) error {
	c := p.c
	off := c.pos
	field := func(sub string) string { return fmt.Sprintf("info.files[%d]%s", i, sub) }
	f := v1File{start: len(p.comps), off: off, length: -1}
	p.comps = append(p.comps, "") // the torrent name, filled in later
	hasPath := false
	if err := c.enter('d'); err != nil {
		return p.fieldErr(field(""), err)
	}
	for {
		more, err := c.next()
		if err != nil {
			return p.fieldErr(field(""), err)
		}
		if !more {
			break
		}
		key, ko, err := c.key()
		if err != nil {
			return p.fieldErr(field(""), err)
		}
		switch string(key) {
		case "length":
			n, err := c.integer()
			if err != nil {
				return p.fieldErr(field(".length"), err)
			}
			if n < 0 {
				return p.fail(field(".length"), ko, "negative length %d", n)
			}
			f.length = n
		case "path":
			p.comps = p.comps[:f.start+1]
			hasPath = true
			if err := p.pathList(); err != nil {
				return p.fieldErr(field(".path"), err)
			}
		case "attr":
			if c.isString() {
				f.attr, err = c.string()
			} else {
				err = c.skip()
			}
		default:
			err = c.skip()
		}
		if err != nil {
			return p.fieldErr(field(""), err)
		}
	}
	if f.length < 0 {
		return p.fail(field(""), off, "missing length")
	}
	f.end = len(p.comps)
	f.pad = strings.IndexByte(f.attr, 'p') >= 0 ||
		(f.end > f.start+1 && strings.HasPrefix(p.comps[f.end-1], padPrefix))
	if f.pad && !hasPath {
		// BEP 47: readers must not require a path on padding files.
		p.comps = append(p.comps, ".pad", strconv.FormatInt(f.length, 10))
		f.end = len(p.comps)
	}
	if f.end == f.start+1 {
		return p.fail(field(".path"), off, "missing or empty path")
	}
	if err := checkPath(p.comps[f.start+1:f.end], false); err != nil {
		return p.fail(field(".path"), off, "%v", err)
	}
	ri.files = append(ri.files, f)
	return nil
}

// pathList appends the strings of the list at the cursor to p.comps.
func (p *parser) pathList() error {
	c := p.c
	if err := c.enter('l'); err != nil {
		return err
	}
	for {
		more, err := c.next()
		if err != nil || !more {
			return err
		}
		s, err := c.string()
		if err != nil {
			return err
		}
		p.comps = append(p.comps, s)
	}
}

// v2Tree parses the BEP 52 "file tree" at the cursor.
func (p *parser) v2Tree() error {
	c := p.c
	if !c.is('d') {
		return p.fieldErr("info.file tree", c.mismatch("dictionary"))
	}
	// Count first, so that a huge tree is refused before allocating.
	start, n := c.pos, 0
	if err := p.countTree(&n); err != nil {
		return p.fieldErr("info.file tree", err)
	}
	c.pos = start
	p.tree = slices.Grow(p.tree, n)
	return p.treeNode(true)
}

// countTree counts the file entries ("" keys) of the tree at the cursor
// without allocating, failing beyond MaxFiles.
func (p *parser) countTree(n *int) error {
	c := p.c
	if !c.is('d') {
		return c.skip()
	}
	c.pos++
	for {
		more, err := c.next()
		if err != nil || !more {
			return err
		}
		key, ko, err := c.key()
		if err != nil {
			return err
		}
		if len(key) == 0 {
			*n++
			if *n > p.opts.maxFiles() {
				return &Error{Field: "info.file tree", Offset: c.base + int64(ko),
					Msg: fmt.Sprintf("more than %d files", p.opts.maxFiles()), Err: ErrTooLarge}
			}
			err = c.skip()
		} else {
			err = p.countTree(n)
		}
		if err != nil {
			return err
		}
	}
}

func (p *parser) treeField() string {
	return "info.file tree/" + strings.Join(p.stack, "/")
}

// treeNode parses one directory or file node of the file tree.
func (p *parser) treeNode(root bool) error {
	c := p.c
	sawFile, sawChild := false, false
	if err := c.enter('d'); err != nil {
		return p.fieldErr(p.treeField(), err)
	}
	for {
		more, err := c.next()
		if err != nil {
			return p.fieldErr(p.treeField(), err)
		}
		if !more {
			return nil
		}
		key, ko, err := c.key()
		if err != nil {
			return p.fieldErr(p.treeField(), err)
		}
		if len(key) == 0 {
			if root {
				return p.fail("info.file tree", ko, "the root of the file tree must not be a file")
			}
			if sawChild || sawFile {
				return p.fail(p.treeField(), ko, "file entry has siblings")
			}
			sawFile = true
			if err := p.treeFile(ko); err != nil {
				return err
			}
			continue
		}
		if sawFile {
			return p.fail(p.treeField(), ko, "file entry has siblings")
		}
		sawChild = true
		name := string(key)
		p.stack = append(p.stack, name)
		if err := checkComponent(name, false); err != nil {
			return p.fail(p.treeField(), ko, "%v", err)
		}
		if !c.is('d') {
			return p.fieldErr(p.treeField(), c.mismatch("dictionary"))
		}
		if err := p.treeNode(false); err != nil {
			return err
		}
		p.stack = p.stack[:len(p.stack)-1]
	}
}

// treeFile parses the properties dictionary of a file ("" key).
func (p *parser) treeFile(ko int) error {
	c := p.c
	if err := p.countFile(&p.ntree, ko); err != nil {
		return err
	}
	f := treeFile{start: len(p.comps), length: -1}
	p.comps = append(p.comps, "")
	p.comps = append(p.comps, p.stack...)
	f.end = len(p.comps)
	hasRoot := false
	if err := c.enter('d'); err != nil {
		return p.fieldErr(p.treeField(), err)
	}
	for {
		more, err := c.next()
		if err != nil {
			return p.fieldErr(p.treeField(), err)
		}
		if !more {
			break
		}
		key, vo, err := c.key()
		if err != nil {
			return p.fieldErr(p.treeField(), err)
		}
		vo = c.pos
		switch string(key) {
		case "length":
			n, err := c.integer()
			if err != nil {
				return p.fieldErr(p.treeField()+".length", err)
			}
			if n < 0 {
				return p.fail(p.treeField()+".length", vo, "negative length %d", n)
			}
			f.length = n
		case "pieces root":
			b, err := c.bytes()
			if err != nil {
				return p.fieldErr(p.treeField()+".pieces root", err)
			}
			if len(b) != 32 {
				return p.fail(p.treeField()+".pieces root", vo, "pieces root is %d bytes, want 32", len(b))
			}
			copy(f.root[:], b)
			hasRoot = true
		default:
			if err := c.skip(); err != nil {
				return p.fieldErr(p.treeField(), err)
			}
		}
	}
	if f.length < 0 {
		return p.fail(p.treeField(), ko, "missing length")
	}
	if f.length > 0 && !hasRoot {
		return p.fail(p.treeField(), ko, "non-empty file without pieces root")
	}
	if f.length == 0 {
		f.root = [32]byte{}
	}
	if err := checkPath(p.comps[f.start+1:f.end], false); err != nil {
		return p.fail(p.treeField(), ko, "%v", err)
	}
	p.tree = append(p.tree, f)
	return nil
}

// validate checks the collected info keys and fills t.Info.
func (p *parser) validate(ri *rawInfo) error {
	info := &p.t.Info
	info.MetaVersion = int(ri.metaVersion)
	// BEP 52: check the version before anything else.
	if ri.metaVersion > 2 || ri.metaVersion < 0 || ri.metaVersion == 1 {
		return &Error{Field: "info.meta version", Offset: -1,
			Msg: fmt.Sprintf("unsupported meta version %d (gale understands 2)", ri.metaVersion)}
	}
	if !ri.hasName {
		return &Error{Field: "info.name", Offset: -1, Msg: "missing name"}
	}
	if err := checkComponent(ri.name, false); err != nil {
		return &Error{Field: "info.name", Offset: -1, Msg: err.Error()}
	}
	info.Name = ri.name
	if !ri.hasPL {
		return &Error{Field: "info.piece length", Offset: -1, Msg: "missing piece length"}
	}
	pl := ri.pieceLength
	plErr := func(msg string) error {
		return p.fail("info.piece length", ri.plOff, "piece length %d %s", pl, msg)
	}
	switch {
	case pl <= 0:
		return plErr("is not positive")
	case pl > MaxPieceLength:
		return plErr(fmt.Sprintf("exceeds the limit of %d", MaxPieceLength))
	case pl&(pl-1) != 0 && ri.metaVersion == 2:
		return plErr("is not a power of two (BEP 52)")
	case pl < BlockSize && ri.metaVersion == 2:
		return plErr("is less than 16 KiB (BEP 52)")
	case pl&(pl-1) != 0:
		p.warn("piece length %d is not a power of two", pl)
	}
	info.PieceLength = pl

	hasV1 := ri.hasPieces || ri.hasLength || ri.hasFiles
	if ri.metaVersion == 2 {
		if !ri.hasTree {
			return &Error{Field: "info.file tree", Offset: -1, Msg: "meta version 2 without file tree"}
		}
		if hasV1 && !ri.hasPieces {
			return &Error{Field: "info.pieces", Offset: -1, Msg: "hybrid torrent without pieces"}
		}
	} else if ri.hasTree {
		p.warn("ignored \"file tree\" without meta version 2")
		p.tree = nil
	}
	var err error
	switch {
	case ri.metaVersion == 2 && ri.hasPieces:
		if err = p.v1View(ri); err == nil {
			err = p.hybridCheck(ri)
		}
	case ri.metaVersion == 2:
		err = p.v2View()
	default:
		err = p.v1View(ri)
	}
	if err != nil {
		return err
	}
	if n := info.NumPieces(); n > p.opts.maxPieces() {
		return &Error{Field: "info", Offset: -1, Msg: fmt.Sprintf("%d pieces exceed the limit of %d", n, p.opts.maxPieces()), Err: ErrTooLarge}
	}
	// Full paths, with the name, must fit the path length limit too.
	for i := range info.Files {
		if err := checkPath(info.Files[i].Path, false); err != nil {
			return &Error{Field: fmt.Sprintf("info.files[%d]", i), Offset: -1, Msg: err.Error()}
		}
	}
	return nil
}

// addLength adds n to *total, failing on overflow.
func addLength(total *int64, n int64) bool {
	if n > math.MaxInt64-*total {
		return false
	}
	*total += n
	return true
}

// v1View fills Files from "length" or "files" and checks "pieces".
func (p *parser) v1View(ri *rawInfo) error {
	info := &p.t.Info
	switch {
	case ri.hasLength && ri.hasFiles:
		return &Error{Field: "info", Offset: -1, Msg: "both length and files present"}
	case !ri.hasLength && !ri.hasFiles:
		return &Error{Field: "info", Offset: -1, Msg: "neither length nor files present"}
	case !ri.hasPieces:
		return &Error{Field: "info.pieces", Offset: -1, Msg: "missing pieces"}
	}
	var end int64
	if ri.hasLength {
		info.Files = []File{{Path: []string{info.Name}, Length: ri.length, Attr: ri.attr}}
		end = ri.length
		info.TotalLength = ri.length
	} else {
		if len(ri.files) == 0 {
			return &Error{Field: "info.files", Offset: -1, Msg: "empty file list"}
		}
		info.MultiFile = true
		info.Files = make([]File, len(ri.files))
		for i, rf := range ri.files {
			p.comps[rf.start] = info.Name
			info.Files[i] = File{Path: p.comps[rf.start:rf.end:rf.end], Length: rf.length, Offset: end, Pad: rf.pad, Attr: rf.attr}
			if !addLength(&end, rf.length) || (!rf.pad && !addLength(&info.TotalLength, rf.length)) {
				return p.fail(fmt.Sprintf("info.files[%d].length", i), rf.off, "total size overflows")
			}
		}
	}
	pl := info.PieceLength
	want := end / pl
	if end%pl != 0 {
		want++
	}
	if len(ri.pieces)%20 != 0 {
		return p.fail("info.pieces", ri.piecesOff, "length %d is not a multiple of 20", len(ri.pieces))
	}
	if want > int64(p.opts.maxPieces()) {
		return &Error{Field: "info", Offset: -1, Msg: fmt.Sprintf("%d pieces exceed the limit of %d", want, p.opts.maxPieces()), Err: ErrTooLarge}
	}
	if got := int64(len(ri.pieces) / 20); got != want {
		return p.fail("info.pieces", ri.piecesOff, "has %d hashes, but %d bytes in pieces of %d need %d", got, end, pl, want)
	}
	info.Pieces = ri.pieces
	return nil
}

// v2View fills Files from the file tree, aligning each non-empty file to
// a piece boundary (BEP 52).
func (p *parser) v2View() error {
	info := &p.t.Info
	if len(p.tree) == 0 {
		return &Error{Field: "info.file tree", Offset: -1, Msg: "no files"}
	}
	single := len(p.tree) == 1 && p.tree[0].end-p.tree[0].start == 2
	info.MultiFile = !single
	info.Files = make([]File, len(p.tree))
	pl := info.PieceLength
	var off int64
	for i, tf := range p.tree {
		path := p.comps[tf.start:tf.end:tf.end]
		if single {
			path = path[1:]
		} else {
			p.comps[tf.start] = info.Name
		}
		if tf.length > 0 && off%pl != 0 {
			if !addLength(&off, pl-off%pl) {
				return &Error{Field: "info.file tree", Offset: -1, Msg: "total size overflows"}
			}
		}
		info.Files[i] = File{Path: path, Length: tf.length, Offset: off, PiecesRoot: tf.root}
		if !addLength(&off, tf.length) || !addLength(&info.TotalLength, tf.length) {
			return &Error{Field: "info.file tree", Offset: -1, Msg: "total size overflows"}
		}
	}
	return nil
}

// hybridCheck verifies that the v1 file list (already in Files) and the
// v2 file tree describe the same files in the same order, with every
// non-empty file piece-aligned, and copies the pieces roots over.
func (p *parser) hybridCheck(ri *rawInfo) error {
	info := &p.t.Info
	mismatch := func(format string, args ...any) error {
		return &Error{Field: "info", Offset: -1, Msg: "hybrid torrent: v1 and v2 views differ: " + fmt.Sprintf(format, args...)}
	}
	pl := info.PieceLength
	j := 0
	for i := range info.Files {
		f := &info.Files[i]
		if f.Pad {
			if f.Length >= pl {
				return mismatch("padding file %d is %d bytes, not less than a piece", i, f.Length)
			}
			continue
		}
		if j >= len(p.tree) {
			return mismatch("v1 file %d (%s) is not in the file tree", i, strings.Join(f.Path, "/"))
		}
		tf := p.tree[j]
		j++
		tpath := p.comps[tf.start+1 : tf.end]
		vpath := f.Path[1:]
		if !info.MultiFile {
			vpath = f.Path
		}
		if !equalPaths(tpath, vpath) || tf.length != f.Length {
			return mismatch("v1 file %d is %s (%d bytes), file tree has %s (%d bytes)",
				i, strings.Join(vpath, "/"), f.Length, strings.Join(tpath, "/"), tf.length)
		}
		if f.Length > 0 && f.Offset%pl != 0 {
			return mismatch("v1 file %d (%s) does not start on a piece boundary", i, strings.Join(vpath, "/"))
		}
		f.PiecesRoot = tf.root
	}
	if j != len(p.tree) {
		return mismatch("the file tree has %d files, the v1 list %d", len(p.tree), j)
	}
	return nil
}

func equalPaths(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pieceLayers parses "piece layers" (BEP 52) at offset start of data
// (-1 if absent) and checks every layer against its pieces root.
func (p *parser) pieceLayers(data []byte, start int) error {
	t := p.t
	info := &t.Info
	pl := info.PieceLength
	need := map[[32]byte]int64{} // roots of files larger than a piece
	for i := range info.Files {
		if f := &info.Files[i]; f.HasRoot() && f.Length > pl {
			need[f.PiecesRoot] = f.Length
		}
	}
	t.PieceLayers = map[[32]byte][]byte{}
	if start >= 0 {
		c := &cursor{data: data, pos: start}
		if !c.is('d') {
			return p.fieldErr("piece layers", c.mismatch("dictionary"))
		}
		err := c.dict(func(key []byte, ko int) error {
			b, err := c.bytes()
			if err != nil {
				return p.fieldErr("piece layers", err)
			}
			var root [32]byte
			length, ok := need[root]
			if len(key) == 32 {
				copy(root[:], key)
				length, ok = need[root]
			}
			if !ok {
				p.warn("ignored a piece layer that belongs to no file larger than a piece")
				return nil
			}
			pieces := (length + pl - 1) / pl
			if int64(len(b)) != pieces*32 {
				return &Error{Field: "piece layers", Offset: int64(ko),
					Msg: fmt.Sprintf("layer for root %x has %d bytes, want %d", root, len(b), pieces*32)}
			}
			if got := layerRoot(b, pl); got != root {
				return &Error{Field: "piece layers", Offset: int64(ko),
					Msg: fmt.Sprintf("layer does not hash to its pieces root %x", root)}
			}
			t.PieceLayers[root] = bytes.Clone(b)
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i := range info.Files {
		f := &info.Files[i]
		if _, ok := need[f.PiecesRoot]; ok && t.PieceLayers[f.PiecesRoot] == nil {
			return &Error{Field: "piece layers", Offset: -1,
				Msg: fmt.Sprintf("missing piece layer for %s (BEP 52 requires one for every file larger than a piece)", strings.Join(f.Path, "/"))}
		}
	}
	return nil
}
