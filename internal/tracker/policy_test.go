package tracker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadHashSet(t *testing.T) {
	h1 := strings.Repeat("ab", 20)
	h2 := strings.Repeat("CD", 20)
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{"empty", "", 0, ""},
		{"comments and names", "# list\n\n" + h1 + " ubuntu.iso\n\t" + h2 + "\n", 2, ""},
		{"duplicate", h1 + "\n" + h1 + "\n", 1, ""},
		{"short", "abcd\n", 0, "line 1"},
		{"not hex", h1 + "\n" + strings.Repeat("zz", 20) + "\n", 0, "line 2"},
		{"long line", strings.Repeat("a", 5000), 0, "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ReadHashSet(strings.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(set) != tc.want {
				t.Fatalf("got %d, %v; want %d", len(set), err, tc.want)
			}
		})
	}
}

func TestListPolicy(t *testing.T) {
	dir := t.TempDir()
	white := filepath.Join(dir, "white")
	black := filepath.Join(dir, "black")
	a, b, c := ih(1), ih(2), ih(3)
	write := func(path string, hs ...InfoHash) {
		var sb strings.Builder
		for _, h := range hs {
			sb.WriteString(h.String() + "\n")
		}
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(white, a, b)
	write(black, b)
	p := &ListPolicy{WhitelistFile: white, BlacklistFile: black}
	if changed, err := p.Reload(true); err != nil || !changed {
		t.Fatalf("Reload: %v %v", changed, err)
	}
	check := func(h InfoHash, want error) {
		t.Helper()
		_, err := p.Announce(&AnnounceRequest{InfoHash: h})
		if !errors.Is(err, want) {
			t.Errorf("announce %v: %v, want %v", h, err, want)
		}
		if err2 := p.Scrape(nil, h); !errors.Is(err2, want) {
			t.Errorf("scrape %v: %v, want %v", h, err2, want)
		}
	}
	check(a, nil)
	check(b, ErrBlacklisted)
	check(c, ErrNotRegistered)
	if w, bl := p.Counts(); w != 2 || bl != 1 {
		t.Errorf("counts %d %d", w, bl)
	}

	if changed, _ := p.Reload(false); changed {
		t.Error("unchanged files reported as changed")
	}
	write(white, a, b, c)
	// Make sure the modification time differs even on coarse clocks.
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(white, future, future)
	if changed, err := p.Reload(false); err != nil || !changed {
		t.Fatalf("Reload after change: %v %v", changed, err)
	}
	check(c, nil)

	// A broken file keeps the previous list.
	os.WriteFile(white, []byte("nonsense\n"), 0o644)
	os.Chtimes(white, future.Add(time.Second), future.Add(time.Second))
	if _, err := p.Reload(false); err == nil {
		t.Fatal("broken whitelist accepted")
	}
	check(c, nil)

	tr := New(Config{Policy: p})
	if _, err := announce(t, tr, req(b, pid(1), "10.0.0.1:1", 1, EventStarted)); ClientMessage(err) != ErrBlacklisted.Reason {
		t.Fatalf("tracker with list policy: %v", err)
	}
	if tot := tr.Totals(); tot.Swarms != 0 || tot.WhitelistSize != 3 || tot.BlacklistSize != 1 {
		t.Fatalf("refused announce created a swarm or counts wrong: %+v", tot)
	}

	var zero ListPolicy
	if _, err := zero.Announce(&AnnounceRequest{InfoHash: c}); err != nil {
		t.Fatalf("zero ListPolicy refused: %v", err)
	}
}
