// Package sqlstore implements the catalog services (catalog.Catalog) over
// database/sql, on SQLite (modernc.org/sqlite, pure Go) or PostgreSQL
// (pgx), with embedded migrations.
//
// Every service method runs in one transaction. User input only ever
// reaches SQL as parameters; full-text queries are built from
// catalog.SearchTerms. Mutations that the tracker must see (users,
// torrents, rights, client rules, settings) append to a change log whose
// sequence is bumped as the last statement of their transaction, under the
// row lock of a single counter row, so sequence numbers become visible in
// order on PostgreSQL as well (catalog.TrackerStore.Changes).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gale-bt/gale/internal/catalog"
)

// Options configure a Store; the zero value works.
type Options struct {
	// Logger receives operational messages (default: discard).
	Logger *slog.Logger
	// Argon2 are the password hashing parameters (default
	// catalog.DefaultArgon2).
	Argon2 catalog.Argon2Params
	// PeerTTL is how long a peer counts as active after its last announce
	// (default 45 minutes, the tracker's default peer TTL).
	PeerTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultPeerTTL is Options.PeerTTL when zero.
const DefaultPeerTTL = 45 * time.Minute

type dialect int

const (
	sqliteDialect dialect = iota
	postgresDialect
)

// Store is the catalog over a database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	dialect dialect
	opts    Options
	log     *slog.Logger
	now     func() time.Time

	dummyOnce sync.Once
	dummy     string
}

var _ catalog.Catalog = (*Store)(nil)

// Open opens the database named by dsn and applies pending migrations:
//
//	postgres://user@host:port/db?sslmode=disable  (or postgresql://)
//	sqlite:///absolute/path/gale.db               (sqlite://relative/path too)
//	path/to/gale.db                               (a plain path: SQLite)
//
// SQLite runs in WAL mode with a busy timeout of 10 seconds, foreign keys
// on and synchronous=NORMAL (a process crash loses nothing committed; a
// power loss may lose the last transactions, all or nothing). The first
// Open of an empty database creates the schema, the default group "Users"
// and category "General", and a random key secret.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PeerTTL <= 0 {
		opts.PeerTTL = DefaultPeerTTL
	}
	s := &Store{opts: opts, log: opts.Logger, now: opts.Now}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = postgresDialect
		s.db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("opening database: %w", err)
		}
		s.db.SetMaxOpenConns(16)
		s.db.SetMaxIdleConns(16)
	default:
		path := dsn
		if strings.HasPrefix(dsn, "sqlite://") {
			path = strings.TrimPrefix(dsn, "sqlite://")
		} else if strings.HasPrefix(dsn, "sqlite:") {
			path = strings.TrimPrefix(dsn, "sqlite:")
		}
		if path == "" || strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("database %q: want a file path without '?' or '#'", dsn)
		}
		// WAL with synchronous=NORMAL: a commit is a write(2) of its pages
		// to the WAL, without fsync (fsyncs come with checkpoints). The
		// pages are in the kernel once COMMIT returns, so SIGKILL of the
		// process (the crash test, internal/interop/servetest) loses
		// nothing committed; only a power loss or kernel crash may lose
		// the last transactions, whole (the accounting credits them again
		// from the stored counters when the peers announce). FULL would
		// fsync every accounting flush.
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate") // writers take the lock at BEGIN: no upgrade deadlocks
		s.dialect = sqliteDialect
		s.db, err = sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("opening database: %w", err)
		}
		s.db.SetMaxOpenConns(8)
		s.db.SetMaxIdleConns(8)
		s.db.SetConnMaxIdleTime(0)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("opening database: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.initSettings(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database (for tests and maintenance).
func (s *Store) DB() *sql.DB { return s.db }

// Postgres reports whether the store is on PostgreSQL.
func (s *Store) Postgres() bool { return s.dialect == postgresDialect }

// txn is one transaction with the changes it made for the tracker.
type txn struct {
	*sql.Tx
	s       *Store
	ctx     context.Context
	changes []catalog.Change
	now     time.Time
}

// changed records that an entity changed (see package doc).
func (t *txn) changed(entity string, id int64) {
	for _, c := range t.changes {
		if c.Entity == entity && c.ID == id {
			return
		}
	}
	t.changes = append(t.changes, catalog.Change{Entity: entity, ID: id})
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	return t.ExecContext(t.ctx, q, args...)
}

func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(t.ctx, q, args...)
}

func (t *txn) row(q string, args ...any) *sql.Row {
	return t.QueryRowContext(t.ctx, q, args...)
}

// read runs fn in a read-only transaction.
func (s *Store) read(ctx context.Context, fn func(t *txn) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return internal("begin", err)
	}
	defer tx.Rollback()
	t := &txn{Tx: tx, s: s, ctx: ctx, now: s.now()}
	if err := fn(t); err != nil {
		return wrap(err)
	}
	return nil
}

// write runs fn in a read-write transaction and commits it together with
// the change log entries fn recorded.
func (s *Store) write(ctx context.Context, fn func(t *txn) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return internal("begin", err)
	}
	defer tx.Rollback()
	t := &txn{Tx: tx, s: s, ctx: ctx, now: s.now()}
	if err := fn(t); err != nil {
		return wrap(err)
	}
	if len(t.changes) > 0 {
		if err := t.logChanges(); err != nil {
			return internal("change log", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(err)
	}
	return nil
}

// changeLogKeep is how long change log entries are kept.
const changeLogKeep = time.Hour

// logChanges bumps the change counter (taking its row lock until commit,
// so sequence numbers commit in order) and appends the entries.
func (t *txn) logChanges() error {
	var seq int64
	err := t.row(`UPDATE change_counter SET seq = seq + $1 WHERE id = 1 RETURNING seq`, len(t.changes)).Scan(&seq)
	if err != nil {
		return err
	}
	first := seq - int64(len(t.changes)) + 1
	at := t.now.Unix()
	for i, c := range t.changes {
		if _, err := t.exec(`INSERT INTO change_log (seq, entity, entity_id, at) VALUES ($1, $2, $3, $4)`,
			first+int64(i), c.Entity, c.ID, at); err != nil {
			return err
		}
	}
	if first/256 != (seq+1)/256 { // now and then
		if _, err := t.exec(`DELETE FROM change_log WHERE at < $1`, at-int64(changeLogKeep/time.Second)); err != nil {
			return err
		}
	}
	return nil
}

// internal wraps an unexpected error.
func internal(op string, err error) error { return fmt.Errorf("catalog: %s: %w", op, err) }

// wrap maps driver errors to catalog errors where users can act on them.
func wrap(err error) error {
	var ce *catalog.Error
	switch {
	case errors.As(err, &ce):
		return err
	case isUnique(err):
		return catalog.Errorf(catalog.ECONFLICT, "already exists")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return internal("query", err)
}

// isUnique reports a unique constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// notFound returns the ENOTFOUND error for a kind of object.
func notFound(what string) error { return catalog.Errorf(catalog.ENOTFOUND, "no such %s", what) }

// params returns n positional parameters starting at from, for
// generated statements with many of them: "?, ?" on SQLite (whose parser
// looks named parameters such as $7 up in a list, quadratic in their
// number), "$from, ..." on PostgreSQL. Statements use one style only.
func (s *Store) params(from, n int) string {
	if s.dialect == postgresDialect {
		return placeholders(from, n)
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// placeholders returns "$from, $from+1, ..." for n parameters.
func placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}

func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func unixMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// i64 converts a counter for the database (values above MaxInt64 are
// clamped; no client transfers 8 EiB).
func i64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

func u64(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}
