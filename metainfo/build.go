package metainfo

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gale-bt/gale/bencode"
)

// PieceLengthRule is the version of AutoPieceLength's rule. It changes
// whenever the rule does, since the rule decides info hashes.
const PieceLengthRule = 1

// Piece length bounds for building.
const (
	MinAutoPieceLength  = 16 << 10  // smallest automatic piece length
	MaxAutoPieceLength  = 16 << 20  // largest automatic piece length
	MaxBuildPieceLength = 256 << 20 // largest piece length Build accepts
	targetPieces        = 2048
)

// AutoPieceLength returns the piece length Build uses when none is given,
// for total bytes of data. Rule 1 (PieceLengthRule): the smallest power
// of two from 16 KiB to 16 MiB that gives at most 2048 pieces, so a
// torrent has 1025 to 2048 pieces unless the bounds clamp it (below
// 32 MiB of data, or above 32 GiB). The result suits v1, v2 and hybrid
// torrents alike.
func AutoPieceLength(total int64) int64 {
	pl := int64(MinAutoPieceLength)
	for pl < MaxAutoPieceLength && (total+pl-1)/pl > targetPieces {
		pl *= 2
	}
	return pl
}

// BuildConfig describes a torrent to create. The zero value of every
// field but Path is usable.
type BuildConfig struct {
	// Path is the file or directory to put in the torrent.
	Path string
	// Name is the torrent name; the base name of Path when empty.
	Name string
	// Version selects v1 (the zero value), v2 or hybrid.
	Version Version
	// PieceLength in bytes: a power of two from 16 KiB to 256 MiB, or 0
	// for AutoPieceLength.
	PieceLength int64

	// Announce lists tracker tiers (BEP 12). The first URL becomes
	// "announce"; "announce-list" is written when there is more than one.
	Announce [][]string
	// WebSeeds become "url-list" (BEP 19), HTTPSeeds "httpseeds"
	// (BEP 17), Nodes "nodes" (BEP 5).
	WebSeeds  []string
	HTTPSeeds []string
	Nodes     []Node
	// Private sets the private flag (BEP 27); Source sets "source". Both
	// are inside info and change the info hash.
	Private bool
	Source  string
	// Comment and CreatedBy are written when not empty.
	Comment   string
	CreatedBy string
	// CreationDate is written as "creation date" unless zero.
	CreationDate time.Time

	// Exclude lists glob patterns (path.Match syntax) matched against the
	// name of every file and directory and against its slash-separated
	// path relative to Path; a matching directory is skipped whole.
	Exclude []string
	// IncludeHidden keeps names starting with '.', skipped by default.
	IncludeHidden bool
	// IncludeJunk keeps the names in DefaultJunk, skipped by default.
	IncludeJunk bool
	// FollowSymlinks follows symbolic links below Path; by default they
	// are skipped. Path itself is always followed.
	FollowSymlinks bool

	// Threads is the number of hashing goroutines; 0 means GOMAXPROCS.
	Threads int
	// Progress, when set, is called with the bytes hashed so far and the
	// total, from the goroutine that called Build, after each chunk of
	// about 1 MiB (at least two pieces) and once at the end. It must
	// return quickly.
	Progress func(done, total int64)
}

func (cfg *BuildConfig) version() Version {
	if cfg.Version == 0 {
		return V1
	}
	return cfg.Version
}

// Build hashes the files at cfg.Path and returns the new torrent; its
// Marshal method gives the .torrent bytes.
//
// Files are ordered by path bytes: for v1, whole slash-separated paths
// compared bytewise (what mktorrent does); for v2 and hybrid, component
// by component, the order of the BEP 52 file tree. The info dictionary
// holds only what mktorrent (v1) and libtorrent (v2, hybrid) put there,
// so for the same files, piece length and private flag the info hashes
// equal theirs: v1 "length" or "files" {length, path}, "name",
// "piece length", "pieces", "private" when set, "source" when set; v2
// "file tree", "meta version" 2; hybrid both, with a BEP 47 padding file
// (attr "p", path [".pad", N]) after every non-empty file that does not
// end on a piece boundary, the last one included, as libtorrent does
// (single-file hybrids need none). No other BEP 47 attributes are
// recorded. With a zero CreationDate and empty CreatedBy the same input
// gives the same bytes.
//
// Hashing reads every file once, for all formats at the same time.
func Build(ctx context.Context, cfg BuildConfig) (*Torrent, error) {
	v := cfg.version()
	if v != V1 && v != V2 && v != Hybrid {
		return nil, fmt.Errorf("metainfo: unknown version %d", int(cfg.Version))
	}
	if pl := cfg.PieceLength; pl != 0 {
		if pl < BlockSize || pl > MaxBuildPieceLength || pl&(pl-1) != 0 {
			return nil, fmt.Errorf("metainfo: piece length %d is not a power of two from 16 KiB to 256 MiB", pl)
		}
	}
	files, isDir, err := collectFiles(&cfg)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		abs, err := filepath.Abs(cfg.Path)
		if err != nil {
			return nil, err
		}
		name = filepath.Base(abs)
	}
	if err := checkComponent(name, false); err != nil {
		return nil, fmt.Errorf("metainfo: torrent name: %w", err)
	}
	var total int64
	for _, f := range files {
		total += f.size
	}
	pl := cfg.PieceLength
	if pl == 0 {
		pl = AutoPieceLength(total)
	}
	job := layout(files, pl, v)
	job.total = total
	job.threads = cfg.Threads
	job.progress = cfg.Progress
	out, err := job.run(ctx)
	if err != nil {
		return nil, err
	}

	info, layers := encodeInfo(&cfg, name, files, isDir, job, out)
	t := &Torrent{
		WebSeeds:     cfg.WebSeeds,
		HTTPSeeds:    cfg.HTTPSeeds,
		Nodes:        cfg.Nodes,
		Comment:      cfg.Comment,
		CreatedBy:    cfg.CreatedBy,
		CreationDate: cfg.CreationDate,
		InfoBytes:    info,
		PieceLayers:  layers,
	}
	var urls []string
	for _, tier := range cfg.Announce {
		urls = append(urls, tier...)
	}
	if len(urls) > 0 {
		t.Announce = urls[0]
	}
	if len(urls) > 1 {
		for _, tier := range cfg.Announce {
			if len(tier) > 0 {
				t.AnnounceList = append(t.AnnounceList, slices.Clone(tier))
			}
		}
	}
	data, err := t.Marshal()
	if err != nil {
		return nil, err
	}
	// Parsing the result fills Info and checks the output.
	parsed, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("metainfo: built an invalid torrent: %w", err)
	}
	return parsed, nil
}

// layout places files in the piece address space: contiguous for v1;
// for v2 and hybrid each non-empty file ends with padding up to a piece
// boundary, except the last one of a v2 torrent. Like libtorrent, a
// hybrid torrent pads its last file too when it has more than one file.
func layout(files []sourceFile, pl int64, v Version) *hashJob {
	job := &hashJob{pl: pl, v1: v.HasV1(), v2: v.HasV2()}
	var off int64
	for i, f := range files {
		job.files = append(job.files, spanFile{path: f.abs, size: f.size, off: off})
		off += f.size
		pad := v.HasV2() && f.size > 0 && off%pl != 0 &&
			(i+1 < len(files) || (v == Hybrid && len(files) > 1))
		if pad {
			off += pl - off%pl
		}
	}
	job.end = off
	return job
}

// encodeInfo writes the info dictionary in canonical bencoding and
// returns it with the piece layers.
func encodeInfo(cfg *BuildConfig, name string, files []sourceFile, isDir bool, job *hashJob, out *hashOutput) ([]byte, map[[32]byte][]byte) {
	v := cfg.version()
	pl := job.pl
	roots := make([][32]byte, len(files))
	var layers map[[32]byte][]byte
	if v.HasV2() {
		layers = map[[32]byte][]byte{}
		for i, sf := range job.files {
			if sf.size == 0 {
				continue
			}
			first := sf.off / pl
			n := (sf.size + pl - 1) / pl
			layer := out.layer[first*32 : (first+n)*32]
			if n == 1 {
				copy(roots[i][:], layer)
				continue
			}
			roots[i] = layerRoot(layer, pl)
			layers[roots[i]] = slices.Clone(layer)
		}
	}

	b := []byte{'d'}
	if v.HasV2() {
		b = bencode.AppendString(b, "file tree")
		if isDir {
			b = appendTree(b, files, roots, 0, 0, len(files))
		} else {
			b = append(b, 'd')
			b = bencode.AppendString(b, name)
			b = appendTreeFile(b, files[0].size, roots[0])
			b = append(b, 'e')
		}
	}
	if v.HasV1() && isDir {
		b = bencode.AppendString(b, "files")
		b = append(b, 'l')
		for i, sf := range job.files {
			b = appendV1File(b, nil, sf.size, files[i].rel)
			if v == Hybrid && sf.size > 0 {
				end := sf.off + sf.size
				next := job.end
				if i+1 < len(job.files) {
					next = job.files[i+1].off
				}
				// The gap after a non-empty file is its padding.
				if pad := next - end; pad > 0 {
					b = appendV1File(b, []byte("p"), pad, []string{".pad", strconv.FormatInt(pad, 10)})
				}
			}
		}
		b = append(b, 'e')
	}
	if v.HasV1() && !isDir {
		b = bencode.AppendString(b, "length")
		b = bencode.AppendInt(b, files[0].size)
	}
	if v.HasV2() {
		b = bencode.AppendString(b, "meta version")
		b = bencode.AppendInt(b, 2)
	}
	b = bencode.AppendString(b, "name")
	b = bencode.AppendString(b, name)
	b = bencode.AppendString(b, "piece length")
	b = bencode.AppendInt(b, pl)
	if v.HasV1() {
		b = bencode.AppendString(b, "pieces")
		b = bencode.AppendBytes(b, out.pieces)
	}
	if cfg.Private {
		b = bencode.AppendString(b, "private")
		b = bencode.AppendInt(b, 1)
	}
	if cfg.Source != "" {
		b = bencode.AppendString(b, "source")
		b = bencode.AppendString(b, cfg.Source)
	}
	return append(b, 'e'), layers
}

func appendV1File(b []byte, attr []byte, length int64, path []string) []byte {
	b = append(b, 'd')
	if attr != nil {
		b = bencode.AppendString(b, "attr")
		b = bencode.AppendBytes(b, attr)
	}
	b = bencode.AppendString(b, "length")
	b = bencode.AppendInt(b, length)
	b = bencode.AppendString(b, "path")
	b = append(b, 'l')
	for _, c := range path {
		b = bencode.AppendString(b, c)
	}
	return append(b, 'e', 'e')
}

// appendTreeFile writes a file node {"": {length, pieces root}}.
func appendTreeFile(b []byte, length int64, root [32]byte) []byte {
	b = append(b, 'd')
	b = bencode.AppendString(b, "")
	b = append(b, 'd')
	b = bencode.AppendString(b, "length")
	b = bencode.AppendInt(b, length)
	if length > 0 {
		b = bencode.AppendString(b, "pieces root")
		b = bencode.AppendBytes(b, root[:])
	}
	return append(b, 'e', 'e')
}

// appendTree writes files[lo:hi], which share their first depth
// components and are in tree order, as one directory dictionary.
func appendTree(b []byte, files []sourceFile, roots [][32]byte, depth, lo, hi int) []byte {
	b = append(b, 'd')
	for i := lo; i < hi; {
		name := files[i].rel[depth]
		j := i + 1
		for j < hi && len(files[j].rel) > depth && files[j].rel[depth] == name {
			j++
		}
		b = bencode.AppendString(b, name)
		if len(files[i].rel) == depth+1 {
			b = appendTreeFile(b, files[i].size, roots[i])
		} else {
			b = appendTree(b, files, roots, depth+1, i, j)
		}
		i = j
	}
	return append(b, 'e')
}
