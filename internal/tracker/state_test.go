package tracker

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func populate(t *testing.T, tr *Tracker, swarms, peersPer int) {
	t.Helper()
	for s := 0; s < swarms; s++ {
		for p := 0; p < peersPer; p++ {
			addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(s), byte(p)}), uint16(1000+p))
			r := req(ih(s), pid(s*1000+p), addr.String(), uint64(p%3), EventStarted)
			r.Key = uint32(p + 1)
			mustAnnounce(t, tr, r)
		}
		r := req(ih(s), pid(s*1000+999), "[2001:db8::9]:999", 0, EventCompleted)
		mustAnnounce(t, tr, r)
	}
}

func snapshotOf(tr *Tracker) map[InfoHash]ScrapeStats {
	m := map[InfoHash]ScrapeStats{}
	tr.EachSwarm(func(h InfoHash, st ScrapeStats) bool { m[h] = st; return true })
	return m
}

func TestStateRoundTrip(t *testing.T) {
	clk := newClock()
	tr := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	populate(t, tr, 50, 7)
	clk.Advance(10 * time.Minute)
	mustAnnounce(t, tr, req(ih(0), pid(0), "10.1.0.0:1000", 0, EventNone))
	var buf bytes.Buffer
	info, err := tr.WriteState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if info.Swarms != 50 || info.Peers != 50*8 {
		t.Fatalf("saved %+v", info)
	}

	// A restart 20 minutes later.
	clk.Advance(20 * time.Minute)
	tr2 := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	got, err := tr2.ReadState(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Swarms != 50 || got.Peers != 400 || got.Dropped != 0 {
		t.Fatalf("loaded %+v", got)
	}
	if a, b := snapshotOf(tr), snapshotOf(tr2); len(a) != len(b) {
		t.Fatalf("swarms %d vs %d", len(a), len(b))
	} else {
		for h, st := range a {
			if b[h] != st {
				t.Fatalf("swarm %v: %+v after load, %+v before", h, b[h], st)
			}
		}
	}
	if a, b := tr.Totals(), tr2.Totals(); a.Seeders4 != b.Seeders4 || a.Leechers4 != b.Leechers4 || a.Seeders6 != b.Seeders6 || a.Swarms != b.Swarms {
		t.Fatalf("totals %+v vs %+v", a, b)
	}
	// The first announce after the restart gets the peers from before.
	resp := mustAnnounce(t, tr2, req(ih(3), pid(77777), "10.9.9.9:9", 1, EventStarted))
	if n := len(peersOf(t, resp)); n != 7 {
		t.Fatalf("first announce after load got %d peers, want 7", n)
	}
	// Keys survived: a moved peer with its key is accepted.
	r := req(ih(3), pid(3000+2), "10.200.0.1:1", 1, EventNone)
	r.Key = 3
	mustAnnounce(t, tr2, r)

	// Ages survived: the peers announced 30 minutes ago expire 30 minutes
	// later, the one refreshed 20 minutes ago 10 minutes after that.
	clk.Advance(31 * time.Minute)
	tr2.Sweep()
	if tot := tr2.Totals(); tot.Seeders4+tot.Leechers4 != 3 {
		t.Fatalf("after 31 more minutes %+v, want 3 peers left", tot)
	}
}

func TestStateDropsExpiredAndRejectsDamage(t *testing.T) {
	clk := newClock()
	tr := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	populate(t, tr, 5, 3)
	var buf bytes.Buffer
	if _, err := tr.WriteState(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	clk.Advance(2 * time.Hour)
	late := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	info, err := late.ReadState(bytes.NewReader(data))
	if err != nil || info.Peers != 0 || info.Dropped != 20 {
		t.Fatalf("late load: %+v, %v", info, err)
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("GALETRK2"), data[8:]...)},
		{"truncated", data[:len(data)-3]},
		{"flipped byte", func() []byte { d := slices.Clone(data); d[100] ^= 1; return d }()},
		{"bad tag", func() []byte { d := slices.Clone(data); d[16] = 'X'; return d }()},
		{"huge count", func() []byte { d := slices.Clone(data); d[16+1+20+8+3] = 0x7f; return d }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(Config{PeerTTL: time.Hour, Now: clk.Now})
			mustAnnounce(t, tr, req(ih(99), pid(1), "10.0.0.1:1", 1, EventStarted))
			if _, err := tr.ReadState(bytes.NewReader(tc.data)); !errors.Is(err, errCorrupt) {
				t.Fatalf("err = %v, want corrupt", err)
			}
			if tot := tr.Totals(); tot.Swarms != 1 || tot.Leechers4 != 1 {
				t.Fatalf("store changed by a failed load: %+v", tot)
			}
		})
	}
}

func TestSaveStateFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	tr := New(Config{})
	if info, err := tr.LoadStateFile(path); err != nil || info.Swarms != 0 {
		t.Fatalf("missing file: %+v %v", info, err)
	}
	populate(t, tr, 3, 2)
	if _, err := tr.SaveStateFile(path); err != nil {
		t.Fatal(err)
	}
	populate(t, tr, 6, 2)
	if _, err := tr.SaveStateFile(path); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the state file", len(ents))
	}
	tr2 := New(Config{})
	info, err := tr2.LoadStateFile(path)
	if err != nil || info.Swarms != 6 {
		t.Fatalf("load: %+v %v", info, err)
	}
	if tot := tr.Totals(); tot.SnapshotAge < 0 {
		t.Fatal("snapshot time not recorded")
	}
	if _, err := tr.SaveStateFile(filepath.Join(dir, "missing-dir", "state")); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}).LoadStateFile(path); err == nil {
		t.Fatal("garbage state loaded")
	}
}

// FuzzReadState checks that no state file, however damaged, panics the
// loader or leaves the store half-replaced.
func FuzzReadState(f *testing.F) {
	clk := newClock()
	tr := New(Config{PeerTTL: time.Hour, Now: clk.Now})
	mustAnnounce(f, tr, req(ih(1), pid(1), "10.0.0.1:1", 0, EventCompleted))
	mustAnnounce(f, tr, req(ih(1), pid(2), "[2001:db8::1]:2", 1, EventStarted))
	var buf bytes.Buffer
	if _, err := tr.WriteState(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("GALETRK1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := New(Config{PeerTTL: time.Hour, Now: clk.Now})
		info, err := tr.ReadState(bytes.NewReader(data))
		tot := tr.Totals()
		if err != nil {
			if tot.Swarms != 0 {
				t.Fatalf("failed load left %d swarms", tot.Swarms)
			}
			return
		}
		if tot.Swarms != info.Swarms || tot.Seeders4+tot.Leechers4+tot.Seeders6+tot.Leechers6 != info.Peers {
			t.Fatalf("loaded %+v but totals %+v", info, tot)
		}
		// The store must stay usable.
		mustAnnounce(t, tr, req(ih(1), pid(3), "10.0.0.3:3", 1, EventStarted))
		tr.Sweep()
	})
}
