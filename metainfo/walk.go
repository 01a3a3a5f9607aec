package metainfo

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultJunk lists the file and directory names Build skips unless
// BuildConfig.IncludeJunk is set: BitTornado's "CVS" and "core", plus the
// metadata files of macOS and Windows Explorer.
var DefaultJunk = []string{"CVS", "core", ".DS_Store", "Thumbs.db", "desktop.ini"}

// sourceFile is a file to put in a torrent.
type sourceFile struct {
	abs  string   // path on disk
	rel  []string // components relative to the input directory; [] for a single file
	size int64
}

// relSlash joins rel with '/' for ordering and glob matching.
func (f *sourceFile) relSlash() string { return strings.Join(f.rel, "/") }

// walker collects the files under a directory.
type walker struct {
	cfg     *BuildConfig
	files   []sourceFile
	visited map[string]bool // directories on the current path (symlink loops)
}

// collectFiles returns the files Build puts in the torrent for cfg.Path,
// in torrent order, and whether the input is a directory.
func collectFiles(cfg *BuildConfig) ([]sourceFile, bool, error) {
	for _, g := range cfg.Exclude {
		if _, err := path.Match(g, ""); err != nil {
			return nil, false, fmt.Errorf("exclude pattern %q: %w", g, err)
		}
	}
	st, err := os.Stat(cfg.Path)
	if err != nil {
		return nil, false, err
	}
	switch {
	case st.Mode().IsRegular():
		return []sourceFile{{abs: cfg.Path, size: st.Size()}}, false, nil
	case !st.IsDir():
		return nil, false, fmt.Errorf("%s: not a regular file or directory", cfg.Path)
	}
	w := &walker{cfg: cfg, visited: map[string]bool{}}
	if err := w.dir(cfg.Path, nil, st); err != nil {
		return nil, true, err
	}
	if len(w.files) == 0 {
		return nil, true, fmt.Errorf("%s: no files to put in the torrent", cfg.Path)
	}
	if cfg.version().HasV2() {
		// BEP 52: the piece order is the order of the file tree, whose
		// keys sort component by component.
		slices.SortFunc(w.files, func(a, b sourceFile) int { return slices.Compare(a.rel, b.rel) })
	} else {
		// v1: whole relative paths in byte order, as mktorrent does.
		slices.SortFunc(w.files, func(a, b sourceFile) int { return strings.Compare(a.relSlash(), b.relSlash()) })
	}
	return w.files, true, nil
}

// skip reports whether the entry name at rel (relative, slash separated)
// is left out.
func (w *walker) skip(name, rel string) bool {
	if !w.cfg.IncludeHidden && strings.HasPrefix(name, ".") {
		return true
	}
	if !w.cfg.IncludeJunk && slices.Contains(DefaultJunk, name) {
		return true
	}
	for _, g := range w.cfg.Exclude {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
	}
	return false
}

func (w *walker) dir(dir string, rel []string, st fs.FileInfo) error {
	id := dirID(dir, st)
	if w.visited[id] {
		return nil // a symlink loop
	}
	w.visited[id] = true
	defer delete(w.visited, id)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		sub := append(rel[:len(rel):len(rel)], name)
		if w.skip(name, strings.Join(sub, "/")) {
			continue
		}
		if err := checkComponent(name, false); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, name), err)
		}
		abs := filepath.Join(dir, name)
		info, err := e.Info()
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			if !w.cfg.FollowSymlinks {
				continue
			}
			if info, err = os.Stat(abs); err != nil {
				continue // dangling link
			}
		}
		switch {
		case info.IsDir():
			if err := w.dir(abs, sub, info); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			w.files = append(w.files, sourceFile{abs: abs, rel: sub, size: info.Size()})
		}
	}
	return nil
}
