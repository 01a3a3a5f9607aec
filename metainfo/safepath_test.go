package metainfo

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCheckPath(t *testing.T) {
	long := strings.Repeat("x", MaxComponentLen)
	tests := []struct {
		name    string
		path    []string
		unix    bool // accepted by the platform-independent rules
		windows bool // accepted by the Windows rules too
	}{
		{"simple", []string{"a"}, true, true},
		{"nested", []string{"dir", "sub", "file.txt"}, true, true},
		{"unicode", []string{"ünïcödé", "日本語.mkv"}, true, true},
		{"invalid utf8", []string{"\xff\xfe"}, true, true},
		{"dots inside", []string{"a..b", ".hidden"}, true, true},
		{"three dots", []string{"..."}, true, false},
		{"max component", []string{long}, true, true},
		{"empty list", nil, false, false},
		{"empty component", []string{"a", "", "b"}, false, false},
		{"dot", []string{"a", "."}, false, false},
		{"dotdot", []string{"..", "etc", "passwd"}, false, false},
		{"dotdot later", []string{"a", "..", "..", "b"}, false, false},
		{"absolute via slash", []string{"/etc/passwd"}, false, false},
		{"slash inside", []string{"a/b"}, false, false},
		{"backslash inside", []string{`..\..\evil`}, false, false},
		{"nul", []string{"a\x00b"}, false, false},
		{"control char", []string{"a\nb"}, false, false},
		{"del char", []string{"a\x7fb"}, false, false},
		{"component too long", []string{long + "x"}, false, false},
		{"path too long", []string{long, long, long, long, long, long, long, long, long, long, long, long, long, long, long, long, long}, false, false},
		{"drive letter", []string{"C:"}, true, false},
		{"drive path", []string{"C:", "Windows"}, true, false},
		{"stream", []string{"file.txt:secret"}, true, false},
		{"colon title", []string{"Movie: The Sequel.mkv"}, true, false},
		{"reserved CON", []string{"CON"}, true, false},
		{"reserved con.txt", []string{"dir", "con.txt"}, true, false},
		{"reserved lpt9", []string{"Lpt9.tar.gz"}, true, false},
		{"reserved com superscript", []string{"COM¹"}, true, false},
		{"reserved with space", []string{"NUL .txt"}, true, false},
		{"not reserved", []string{"CONSOLE", "com10", "lpt", "auxiliary.txt"}, true, true},
		{"trailing dot", []string{"name."}, true, false},
		{"trailing space", []string{"name "}, true, false},
		{"question mark", []string{"what?"}, true, false},
		{"pipe", []string{"a|b"}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, win := range []bool{false, true} {
				want := tc.unix
				if win {
					want = tc.windows
				}
				err := checkPath(tc.path, win)
				if (err == nil) != want {
					t.Errorf("windows=%v: checkPath(%q) = %v, want ok=%v", win, tc.path, err, want)
				}
				if err != nil && !errors.Is(err, ErrUnsafePath) {
					t.Errorf("error %v does not wrap ErrUnsafePath", err)
				}
			}
		})
	}
}

func TestSafePath(t *testing.T) {
	p, err := SafePath([]string{"dir", "sub", "f.txt"})
	if err != nil || p != filepath.Join("dir", "sub", "f.txt") {
		t.Fatalf("SafePath = %q, %v", p, err)
	}
	if filepath.IsAbs(p) || strings.Contains(p, "..") {
		t.Fatalf("SafePath returned %q", p)
	}
	for _, bad := range [][]string{{"..", "x"}, {"/abs"}, {""}, nil} {
		if p, err := SafePath(bad); err == nil {
			t.Errorf("SafePath(%q) = %q, want error", bad, p)
		}
	}
	_, err = SafePath([]string{"C:", "x"})
	if (err == nil) != (runtime.GOOS != "windows") {
		t.Errorf("SafePath(C:) on %s: %v", runtime.GOOS, err)
	}
}

// FuzzSafePath checks SafePath's contract: whatever it accepts joins into
// a relative path that stays inside the directory, with exactly the
// given components.
func FuzzSafePath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a\x00b", "C:/x", "a//b", "./a", "ünï/cödé", "CON/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		comps := strings.Split(s, "/")
		p, err := SafePath(comps)
		if err != nil {
			return
		}
		if filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
			t.Fatalf("SafePath(%q) = %q is absolute", comps, p)
		}
		if c := filepath.Clean(p); c != p || c == "." || c == ".." || strings.HasPrefix(c, ".."+string(filepath.Separator)) {
			t.Fatalf("SafePath(%q) = %q escapes or is not clean", comps, p)
		}
		if got := strings.Split(filepath.ToSlash(p), "/"); len(got) != len(comps) {
			t.Fatalf("SafePath(%q) = %q has %d components", comps, p, len(got))
		}
	})
}
