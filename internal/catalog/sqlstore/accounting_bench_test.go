package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

// BenchmarkApplyAccounting measures the accounting write of the private
// tracker's flush: one ApplyAccounting of N peers whose counters all
// moved since the previous flush (the stored counters known, as in the
// privtracker's cache), over 20 users and 1000 torrents as in
// scripts/bench-private.sh. SQLite runs on a file in b.TempDir() with the
// pragmas of gale serve (sqlstore.Open); PostgreSQL on a fresh database
// of GALE_TEST_POSTGRES when set. The "ns/peer" metric is the cost of one
// peer's row and its share of the totals.
//
//	go test -run '^$' -bench ApplyAccounting -benchtime 20x ./internal/catalog/sqlstore/
func BenchmarkApplyAccounting(b *testing.B) {
	dbs := []struct {
		name string
		open func(b *testing.B) *sqlstore.Store
	}{
		{"sqlite", func(b *testing.B) *sqlstore.Store {
			s, err := sqlstore.Open(context.Background(), filepath.Join(b.TempDir(), "gale.db"), sqlstore.Options{Argon2: fastArgon})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", openPostgresB},
	}
	for _, db := range dbs {
		b.Run(db.name, func(b *testing.B) {
			s := db.open(b) // one site for all sizes
			users, torrents := benchSite(b, s, 20, 1000)
			for _, n := range benchSizes(b) {
				b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
					benchFlush(b, s, users, torrents, n)
				})
			}
		})
	}
}

// benchSizes are the peer counts of BenchmarkApplyAccounting: 1000 and
// 20000, or those of GALE_BENCH_PEERS ("1000,200000").
func benchSizes(b *testing.B) []int {
	env := os.Getenv("GALE_BENCH_PEERS")
	if env == "" {
		return []int{1000, 20000}
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("GALE_BENCH_PEERS: bad count %q", f)
		}
		out = append(out, n)
	}
	return out
}

// benchFlush writes n peers once (inserting their rows), then once per
// iteration with moved counters.
func benchFlush(b *testing.B, s *sqlstore.Store, users, torrents []int64, n int) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(n), 7))
	ups := make([]catalog.PeerUpdate, n)
	at := time.Now().UnixNano()
	for i := range ups {
		k := catalog.PeerKey{UserID: users[i%len(users)], TorrentID: torrents[(i/len(users))%len(torrents)]}
		copy(k.PeerID[:], "-BE0001-")
		binary.BigEndian.PutUint64(k.PeerID[12:], uint64(n)<<32|uint64(i))
		left := uint64(0)
		if rng.IntN(4) != 0 {
			left = 1 << 30
		}
		ups[i] = catalog.NewPeerUpdate(k, fmt.Sprintf("10.0.%d.%d:6881", i>>8&255, i&255),
			catalog.Observation{Left: left, At: at, Event: tracker.EventStarted})
	}
	rules := catalog.AccountRules{MaxGap: time.Hour}
	known, err := s.ApplyAccounting(ctx, ups, nil, rules)
	if err != nil {
		b.Fatal(err)
	}
	// next moves every peer's counters on by a second.
	next := func() {
		at += int64(time.Second)
		for i := range ups {
			l := known[ups[i].PeerKey]
			o := catalog.Observation{Uploaded: l.Uploaded + uint64(rng.IntN(1<<20)), Downloaded: l.Downloaded, Left: l.Left, At: at}
			if o.Left > 0 {
				o.Downloaded += 1 << 14
				o.Left -= 1 << 14
			}
			ups[i] = catalog.NewPeerUpdate(ups[i].PeerKey, ups[i].Addr, o)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		next()
		c0 := cpuTime()
		b.StartTimer()
		res, err := s.ApplyAccounting(ctx, ups, known, rules)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime() - c0
		b.StartTimer()
		known = res
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/peer")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/peer")
}

// cpuTime is the process's user and system CPU time (on a busy machine
// steadier than the elapsed time; it includes the database's own threads
// only for SQLite, which runs in the process).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSite creates nu users and nt torrents.
func benchSite(b *testing.B, s *sqlstore.Store, nu, nt int) (users, torrents []int64) {
	sys := catalog.WithSystem(context.Background())
	for i := range nu {
		u, err := s.CreateUser(sys, catalog.NewUser{Name: fmt.Sprintf("bench%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u.ID)
	}
	dir := b.TempDir()
	for i := range nt {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(p, fmt.Appendf(nil, "bench torrent %d", i), 0o644); err != nil {
			b.Fatal(err)
		}
		tor, err := metainfo.Build(context.Background(), metainfo.BuildConfig{Path: p, PieceLength: 16 << 10})
		if err != nil {
			b.Fatal(err)
		}
		data, err := tor.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		t, err := s.AddTorrent(sys, catalog.NewTorrent{Metainfo: data, CategoryID: 1, OwnerID: users[0]})
		if err != nil {
			b.Fatal(err)
		}
		torrents = append(torrents, t.ID)
	}
	return users, torrents
}

// openPostgresB is openPostgres for benchmarks.
func openPostgresB(b *testing.B) *sqlstore.Store {
	base := os.Getenv("GALE_TEST_POSTGRES")
	if base == "" {
		b.Skip("GALE_TEST_POSTGRES not set (scripts/postgres-test.sh starts a server)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("gale_b_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	s, err := sqlstore.Open(context.Background(), u.String(), sqlstore.Options{Argon2: fastArgon})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Close()
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			db.Close()
		}
	})
	return s
}
