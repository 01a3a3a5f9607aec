package privtracker

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// BenchmarkAnnounce compares the engine in open mode with the private
// policy and accounting (key check, rights, client rules, Record; Run
// flushing to SQLite every second, as in gale serve) on the same swarms:
// "private" announces move the uploaded counter every time (every peer
// is written every second), "private-idle" ones repeat the counters
// (written every Config.IdleWrite). The benchmark over real sockets is
// scripts/bench-private.sh.
//
//	go test -run '^$' -bench Announce ./internal/catalog/privtracker/
func BenchmarkAnnounce(b *testing.B) {
	const nUsers, nTorrents, peersPerTorrent = 20, 8, 50
	f := newFixture(b, newSQLiteB(b))
	var users []*catalog.User
	for i := range nUsers {
		u, err := f.store.CreateUser(f.sys, catalog.NewUser{Name: fmt.Sprintf("b%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
	}
	var reqs []*tracker.AnnounceRequest
	for j := range nTorrents {
		tor, err := f.store.AddTorrent(f.sys, catalog.NewTorrent{Metainfo: benchTorrent(b, j), CategoryID: 1, OwnerID: users[0].ID})
		if err != nil {
			b.Fatal(err)
		}
		for k := range peersPerTorrent {
			u := users[k%nUsers]
			key, _ := f.store.AnnounceKey(f.sys, tor.ID, u.ID)
			r := announce([]byte(key), tor.V1, pid(fmt.Sprintf("-BN%03d%03d-", j, k)), 0, 0, uint64(k%3), tracker.EventNone)
			r.Addr = netip.AddrFrom4([4]byte{10, byte(j), byte(k >> 8), byte(k)})
			r.NumWant = 50
			reqs = append(reqs, r)
		}
	}
	if _, err := f.store.AddClientRule(f.sys, catalog.ClientRule{Prefix: "-XX", Note: "some rule"}); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, cfg tracker.Config, moving bool) {
		trk := tracker.New(cfg)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var resp tracker.AnnounceResponse
			i := 0
			for pb.Next() {
				r := *reqs[i%len(reqs)]
				if moving {
					r.Uploaded = uint64(i)
				}
				resp.Peers = resp.Peers[:0]
				if err := trk.Announce(&r, &resp); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	}
	b.Run("open", func(b *testing.B) { run(b, tracker.Config{}, true) })
	private := func(b *testing.B, moving bool) {
		priv := New(f.store, Config{}) // the defaults of gale serve
		if err := priv.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { priv.Run(ctx); close(done) }()
		run(b, tracker.Config{Policy: priv, Accounting: priv}, moving)
		b.StopTimer()
		cancel()
		<-done
		if st := priv.Stats(); st.Dropped != 0 || st.Pending != 0 {
			b.Fatalf("stats = %+v", st)
		}
	}
	b.Run("private", func(b *testing.B) { private(b, true) })
	b.Run("private-idle", func(b *testing.B) { private(b, false) })
}

func newSQLiteB(b *testing.B) string { return b.TempDir() + "/bench.db" }

func benchTorrent(b *testing.B, j int) []byte {
	dir := b.TempDir()
	tor, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: writeFile(b, dir, j), PieceLength: 16 << 10})
	if err != nil {
		b.Fatal(err)
	}
	data, err := tor.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func writeFile(b *testing.B, dir string, j int) string {
	p := fmt.Sprintf("%s/file-%d", dir, j)
	if err := os.WriteFile(p, []byte(fmt.Sprintf("bench content %d", j)), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}
