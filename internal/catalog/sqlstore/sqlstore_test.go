package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/catalogtest"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
)

// fastArgon keeps tests quick; production uses catalog.DefaultArgon2.
var fastArgon = catalog.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// OpenSQLite opens a store on a new SQLite file in t.TempDir().
func openSQLite(t *testing.T, now func() time.Time) catalog.Catalog {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "gale.db"), sqlstore.Options{Argon2: fastArgon, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) { catalogtest.Run(t, openSQLite) }

// postgresURL returns GALE_TEST_POSTGRES, skipping (or failing with
// GALE_REQUIRE_POSTGRES=1) when it is not set.
func postgresURL(t *testing.T) string {
	u := os.Getenv("GALE_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("GALE_REQUIRE_POSTGRES") == "1" {
			t.Fatal("GALE_REQUIRE_POSTGRES=1 but GALE_TEST_POSTGRES is not set (see scripts/postgres-test.sh)")
		}
		t.Skip("GALE_TEST_POSTGRES not set (scripts/postgres-test.sh starts a server)")
	}
	return u
}

// openPostgres creates a fresh database on the server of
// GALE_TEST_POSTGRES for one test and drops it afterwards.
func openPostgres(t *testing.T, now func() time.Time) catalog.Catalog {
	t.Helper()
	base := postgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := fmt.Sprintf("gale_t_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	s, err := sqlstore.Open(context.Background(), u.String(), sqlstore.Options{Argon2: fastArgon, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
			db.Close()
		}
	})
	return s
}

func TestPostgres(t *testing.T) {
	postgresURL(t)
	catalogtest.Run(t, openPostgres)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{"", "sqlite://", "file?x=1", filepath.Join(t.TempDir(), "missing", "dir", "gale.db")} {
		if s, err := sqlstore.Open(ctx, dsn, sqlstore.Options{}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

// TestSQLiteReopen checks the forms of SQLite URLs, that migrations are
// applied once, and that data and the secret survive a reopen.
func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "gale.db")
	var secret string
	for i, dsn := range []string{path, "sqlite://" + path, "sqlite:" + path} {
		s, err := sqlstore.Open(ctx, dsn, sqlstore.Options{Argon2: fastArgon})
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != 2 {
			t.Errorf("schema version = %d, %v", v, err)
		}
		sys := catalog.WithSystem(ctx)
		if i == 0 {
			if _, err := s.CreateUser(sys, catalog.NewUser{Name: "kept", Password: "long enough"}); err != nil {
				t.Fatal(err)
			}
		} else if _, err := s.UserByName(sys, "kept"); err != nil {
			t.Errorf("after reopen: %v", err)
		}
		st, err := s.Settings(sys)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			secret = st.Secret
		} else if st.Secret != secret {
			t.Errorf("secret changed on reopen")
		}
		var mode string
		if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v", mode, err)
		}
		var fk int
		if err := s.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v", fk, err)
		}
		s.Close()
	}
}

// TestSecretsAtRest checks that session, invite and API token secrets and
// passwords are stored hashed.
func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "gale.db"), sqlstore.Options{Argon2: fastArgon})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sys := catalog.WithSystem(ctx)
	u, err := s.CreateUser(sys, catalog.NewUser{Name: "hashed", Password: "plain text password"})
	if err != nil {
		t.Fatal(err)
	}
	session, _ := s.CreateSession(sys, u.ID, time.Hour)
	code, _, _ := s.CreateInvite(sys, catalog.NewInvite{})
	token, _, err := s.CreateToken(catalog.WithUser(ctx, u), catalog.NewTokenSpec{Name: "t", Scopes: []string{catalog.ScopeStats}})
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	for _, q := range []string{
		`SELECT password_hash FROM users`, `SELECT token_hash FROM sessions`,
		`SELECT code_hash FROM invites`, `SELECT token_hash FROM api_tokens`,
	} {
		rows, err := s.DB().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			rows.Scan(&v)
			dump.WriteString(v + "\n")
		}
		rows.Close()
	}
	for _, secret := range []string{"plain text password", session, code, token} {
		if strings.Contains(dump.String(), secret) {
			t.Errorf("secret %q stored in clear", secret[:8])
		}
	}
	if !strings.Contains(dump.String(), catalog.HashToken(token)) || !strings.Contains(dump.String(), "$argon2id$v=19$") {
		t.Errorf("stored forms unexpected:\n%s", dump.String())
	}
}
