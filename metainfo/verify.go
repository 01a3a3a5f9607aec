package metainfo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// VerifyOptions configures Verify. The zero value works.
type VerifyOptions struct {
	// Threads is the number of hashing goroutines; 0 means GOMAXPROCS.
	Threads int
	// Progress, when set, is called with the bytes checked so far and the
	// total, from the goroutine that called Verify, after each chunk of
	// about 1 MiB (at least two pieces) and once at the end.
	Progress func(done, total int64)
}

// VerifyResult reports what Verify found.
type VerifyResult struct {
	// Pieces is the number of pieces checked.
	Pieces int
	// BadPieces lists the pieces whose data does not match, as merged
	// inclusive ranges of piece indices, ascending.
	BadPieces []Range
	// BadFiles lists the indices into Info.Files of the files a bad piece
	// touches, and of missing or short files, ascending. Padding files are
	// never listed.
	BadFiles []int
	// MissingFiles lists the files that could not be opened or are
	// shorter than the torrent says (a subset of BadFiles, plus missing
	// empty files).
	MissingFiles []int
	// Bytes is the number of file bytes the torrent describes.
	Bytes int64
}

// OK reports whether everything matched.
func (r *VerifyResult) OK() bool { return len(r.BadPieces) == 0 && len(r.MissingFiles) == 0 }

// NumBadPieces returns the number of bad pieces.
func (r *VerifyResult) NumBadPieces() int {
	n := 0
	for _, b := range r.BadPieces {
		n += b.Last - b.First + 1
	}
	return n
}

// ContentPath returns the path Verify expects for a torrent saved into
// saveDir: the file for single-file torrents, the directory named after
// the torrent otherwise.
func (t *Torrent) ContentPath(saveDir string) (string, error) {
	if len(t.Info.Files) == 0 {
		return "", fmt.Errorf("metainfo: torrent has no files")
	}
	p, err := SafePath(t.Info.Files[0].Path[:1])
	if err != nil {
		return "", err
	}
	return filepath.Join(saveDir, p), nil
}

// localPath returns where file f of t lives under root (see Verify).
func (t *Torrent) localPath(root string, rootIsFile bool, f *File) (string, error) {
	if !t.Info.MultiFile {
		if rootIsFile {
			return root, nil
		}
		p, err := SafePath(f.Path)
		return filepath.Join(root, p), err
	}
	p, err := SafePath(f.Path[1:])
	return filepath.Join(root, p), err
}

// Verify checks the data at path against t: the v1 piece hashes and, for
// v2 and hybrid torrents, the v2 piece layers (the pieces root for files
// of at most one piece); a hybrid piece must match both. path is what
// Build was given: for a multi-file torrent, the directory holding the
// files; for a single-file torrent, the file itself or a directory
// containing it under its torrent name. Every file path goes through
// SafePath.
//
// Missing or short files do not fail Verify: their pieces count as bad
// (even where the missing bytes would hash correctly as zeros) and the
// files are listed in MissingFiles. An error is returned only for a
// cancelled ctx, an unusable path or an unreadable directory. Hashing
// runs in parallel like Build.
func Verify(ctx context.Context, t *Torrent, path string, opts VerifyOptions) (*VerifyResult, error) {
	info := &t.Info
	pl := info.PieceLength
	v := info.Version()
	if pl <= 0 || len(info.Files) == 0 {
		return nil, fmt.Errorf("metainfo: torrent has no pieces to verify")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	rootIsFile := st.Mode().IsRegular()
	if info.MultiFile && rootIsFile {
		return nil, fmt.Errorf("%s: is a file, but the torrent has a directory of files", path)
	}

	res := &VerifyResult{Pieces: info.NumPieces(), Bytes: info.TotalLength}
	missing := make([]bool, len(info.Files))
	job := &hashJob{pl: pl, v1: v.HasV1(), v2: v.HasV2(), total: info.TotalLength,
		threads: opts.Threads, progress: opts.Progress}
	var index []int // job file -> Info.Files index
	for i := range info.Files {
		f := &info.Files[i]
		if f.Pad {
			continue
		}
		lp, err := t.localPath(path, rootIsFile, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.Join(f.Path, "/"), err)
		}
		if st, err := os.Stat(lp); err != nil || !st.Mode().IsRegular() || st.Size() < f.Length {
			// Not read at all: its pieces are bad whatever they hash to.
			missing[i] = true
			continue
		}
		job.files = append(job.files, spanFile{path: lp, size: f.Length, off: f.Offset})
		index = append(index, i)
	}
	last := info.Files[len(info.Files)-1]
	job.end = last.Offset + last.Length
	job.skipHoles = true
	job.missing = func(fi int) { missing[index[fi]] = true }
	out, err := job.run(ctx)
	if err != nil {
		return nil, err
	}

	bad := make([]bool, res.Pieces)
	if v.HasV1() {
		for p := range bad {
			if !bytes.Equal(out.pieces[p*20:p*20+20], info.Pieces[p*20:p*20+20]) {
				bad[p] = true
			}
		}
	}
	for i := range info.Files {
		f := &info.Files[i]
		if f.Length == 0 {
			continue
		}
		first := int(f.Offset / pl)
		n := int((f.Length + pl - 1) / pl)
		if missing[i] {
			for p := first; p < first+n; p++ {
				bad[p] = true
			}
		}
		if !v.HasV2() || !f.HasRoot() {
			continue
		}
		got := out.layer[first*32 : (first+n)*32]
		switch want := t.PieceLayer(f); {
		case n == 1:
			if !bytes.Equal(got, f.PiecesRoot[:]) {
				bad[first] = true
			}
		case want != nil:
			for k := range n {
				if !bytes.Equal(got[k*32:k*32+32], want[k*32:k*32+32]) {
					bad[first+k] = true
				}
			}
		default:
			// No piece layer (a bare info dictionary): only the whole
			// file can be checked.
			if layerRoot(got, pl) != f.PiecesRoot {
				for p := first; p < first+n; p++ {
					bad[p] = true
				}
			}
		}
	}

	touched := make([]bool, len(info.Files))
	for p := 0; p < len(bad); p++ {
		if !bad[p] {
			continue
		}
		q := p
		for q+1 < len(bad) && bad[q+1] {
			q++
		}
		res.BadPieces = append(res.BadPieces, Range{p, q})
		markFiles(info, int64(p)*pl, int64(q+1)*pl, touched)
		p = q
	}
	for i := range info.Files {
		if missing[i] {
			res.MissingFiles = append(res.MissingFiles, i)
			touched[i] = true
		}
		if touched[i] && !info.Files[i].Pad {
			res.BadFiles = append(res.BadFiles, i)
		}
	}
	return res, nil
}

// markFiles sets touched[i] for every non-empty file overlapping
// [start, end) of the piece address space.
func markFiles(info *Info, start, end int64, touched []bool) {
	files := info.Files
	lo, hi := 0, len(files)
	for lo < hi { // first file ending after start
		m := int(uint(lo+hi) >> 1)
		if files[m].Offset+files[m].Length <= start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := lo; i < len(files) && files[i].Offset < end; i++ {
		if files[i].Length > 0 && files[i].Offset+files[i].Length > start {
			touched[i] = true
		}
	}
}
