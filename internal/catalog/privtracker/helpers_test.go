package privtracker

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/metainfo"
)

var fastArgon = catalog.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// backend names a database for the tests: "sqlite" always, "postgres"
// when GALE_TEST_POSTGRES is set.
type backend struct {
	name string
	dsn  func(t *testing.T) string
}

func backends(t *testing.T) []backend {
	bs := []backend{{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "gale.db") }}}
	base := os.Getenv("GALE_TEST_POSTGRES")
	if base == "" && os.Getenv("GALE_REQUIRE_POSTGRES") == "1" {
		t.Fatal("GALE_REQUIRE_POSTGRES=1 but GALE_TEST_POSTGRES is not set")
	}
	if base != "" {
		bs = append(bs, backend{"postgres", func(t *testing.T) string {
			admin, err := sql.Open("pgx", base)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			name := fmt.Sprintf("gale_p_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
			if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if db, err := sql.Open("pgx", base); err == nil {
					db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
					db.Close()
				}
			})
			u, _ := url.Parse(base)
			u.Path = "/" + name
			return u.String()
		}})
	}
	return bs
}

// forEachBackend runs fn against every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, dsn string)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b.dsn(t)) })
	}
}

// fixture is a catalog with users and torrents and a Private on it.
type fixture struct {
	t      testing.TB
	dsn    string
	clock  *catalogtest.Clock
	store  *sqlstore.Store
	sys    context.Context
	priv   *Private
	secret string
}

func openStore(t testing.TB, dsn string, clock *catalogtest.Clock) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Options{Argon2: fastArgon, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newFixture(t testing.TB, dsn string) *fixture {
	f := &fixture{t: t, dsn: dsn, clock: catalogtest.NewClock(), sys: catalog.WithSystem(context.Background())}
	f.store = openStore(t, dsn, f.clock)
	st, err := f.store.Settings(f.sys)
	if err != nil {
		t.Fatal(err)
	}
	f.secret = st.Secret
	f.priv = f.newPrivate(f.store)
	return f
}

func (f *fixture) newPrivate(store catalog.TrackerStore) *Private {
	p := New(store, Config{Now: f.clock.Now, PollInterval: 20 * time.Millisecond, FlushInterval: 50 * time.Millisecond})
	return p
}

func (f *fixture) load() {
	f.t.Helper()
	if err := f.priv.Load(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) user(name string, group int64) *catalog.User {
	f.t.Helper()
	u, err := f.store.CreateUser(f.sys, catalog.NewUser{Name: name, Password: "long enough", GroupID: group})
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

func (f *fixture) torrent(owner *catalog.User, name string, v metainfo.Version) *catalog.Torrent {
	f.t.Helper()
	tor, err := f.store.AddTorrent(f.sys, catalog.NewTorrent{Metainfo: catalogtest.MakeTorrent(f.t, name, v), CategoryID: 1, OwnerID: owner.ID})
	if err != nil {
		f.t.Fatal(err)
	}
	return tor
}

// key returns u's current announce key for tor.
func (f *fixture) key(u *catalog.User, tor *catalog.Torrent) []byte {
	f.t.Helper()
	k, err := f.store.AnnounceKey(f.sys, tor.ID, u.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return []byte(k)
}

func pid(s string) peer.ID {
	var p peer.ID
	copy(p[:], s)
	copy(p[len(s):], "000000000000000000000")
	return p
}

func announce(key []byte, ih tracker.InfoHash, id peer.ID, up, down, left uint64, ev tracker.Event) *tracker.AnnounceRequest {
	return &tracker.AnnounceRequest{
		InfoHash: ih, PeerID: id, Addr: netip.MustParseAddr("192.0.2.1"), Port: 6881,
		Uploaded: up, Downloaded: down, Left: left, Event: ev, NumWant: -1, Passkey: key,
	}
}

// fact is what the engine hands Accounting for an announce by user uid.
func (f *fixture) fact(uid int64, ih tracker.InfoHash, id peer.ID, up, down, left uint64, ev tracker.Event) *tracker.Fact {
	return &tracker.Fact{
		User: uint64(uid), InfoHash: ih, Announced: ih, PeerID: id,
		Addr:     netip.MustParseAddrPort("192.0.2.1:6881"),
		Uploaded: up, Downloaded: down, Left: left, Event: ev, UnixNano: f.clock.Now().UnixNano(),
	}
}

// wantTotals checks a user's credited totals.
func (f *fixture) wantTotals(store *sqlstore.Store, uid int64, up, down, snatches int64) {
	f.t.Helper()
	st, err := store.UserStats(f.sys, uid)
	if err != nil {
		f.t.Fatal(err)
	}
	if st.Uploaded != up || st.Downloaded != down || st.Snatches != snatches {
		f.t.Fatalf("user %d: up %d down %d snatches %d; want %d %d %d", uid, st.Uploaded, st.Downloaded, st.Snatches, up, down, snatches)
	}
}

func newTextLogger(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
