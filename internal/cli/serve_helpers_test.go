package cli

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

// siteDB is a database for the site tests: "" (the SQLite default in the
// data directory) always, and a fresh PostgreSQL database when
// GALE_TEST_POSTGRES is set (scripts/postgres-test.sh run go test ...).
type siteDB struct {
	name string
	url  func(t *testing.T) string
}

func siteDBs(t *testing.T) []siteDB {
	dbs := []siteDB{{"sqlite", func(*testing.T) string { return "" }}}
	base := os.Getenv("GALE_TEST_POSTGRES")
	if base == "" && os.Getenv("GALE_REQUIRE_POSTGRES") == "1" {
		t.Fatal("GALE_REQUIRE_POSTGRES=1 but GALE_TEST_POSTGRES is not set")
	}
	if base != "" {
		dbs = append(dbs, siteDB{"postgres", func(t *testing.T) string {
			admin, err := sql.Open("pgx", base)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			name := fmt.Sprintf("gale_cli_%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
			if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if db, err := sql.Open("pgx", base); err == nil {
					db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
					db.Close()
				}
			})
			u, err := url.Parse(base)
			if err != nil {
				t.Fatal(err)
			}
			u.Path = "/" + name
			return u.String()
		}})
	}
	return dbs
}

func forEachSiteDB(t *testing.T, fn func(t *testing.T, db string)) {
	for _, d := range siteDBs(t) {
		t.Run(d.name, func(t *testing.T) { fn(t, d.url(t)) })
	}
}

// lockedBuffer is a bytes.Buffer written by the server's goroutines and
// read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runningServe is `gale serve` run in-process.
type runningServe struct {
	http, udp string
	stdout    *lockedBuffer
	stderr    *lockedBuffer
	cancel    context.CancelFunc
	done      chan int
}

func startServe(t *testing.T, args ...string) *runningServe {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningServe{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(rs.stderr, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		code := (&Env{Stdin: strings.NewReader(""), Stdout: rs.stdout, Stderr: pw}).Run(ctx, append([]string{"serve"}, args...))
		pw.Close()
		rs.done <- code
	}()
	t.Cleanup(func() {
		rs.stop(t)
		if t.Failed() {
			t.Logf("serve stdout:\n%s\nserve stderr:\n%s", rs.stdout, rs.stderr)
		}
	})
	deadline := time.After(20 * time.Second)
	for rs.http == "" || rs.udp == "" {
		select {
		case l := <-lines:
			if a, ok := strings.CutPrefix(l, "listening http "); ok {
				rs.http = a
			}
			if a, ok := strings.CutPrefix(l, "listening udp "); ok {
				rs.udp = a
			}
		case code := <-rs.done:
			rs.done <- code
			t.Fatalf("serve exited with %d before listening:\n%s", code, rs.stderr)
		case <-deadline:
			t.Fatalf("serve did not print its addresses:\n%s", rs.stderr)
		}
	}
	return rs
}

// stop cancels the server and returns its exit code.
func (rs *runningServe) stop(t *testing.T) int {
	rs.cancel()
	select {
	case code := <-rs.done:
		rs.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	return -1
}

// runSite runs an admin command in-process with stdin and returns its
// exit code and output.
func runSite(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := (&Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}).Run(context.Background(), args)
	return code, out.String(), errb.String()
}

// mustSite runs an admin command and fails unless it exits 0.
func mustSite(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := runSite(t, stdin, args...)
	if code != 0 {
		t.Fatalf("gale %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// userJSON runs `gale user show NAME --json`.
func userJSON(t *testing.T, site []string, name string) userReport {
	t.Helper()
	out := mustSite(t, "", append([]string{"user", "show", name, "--json"}, site...)...)
	var r userReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("user show --json: %v\n%s", err, out)
	}
	return r
}

// waitUser polls `gale user show` until ok accepts the report.
func waitUser(t *testing.T, site []string, name string, within time.Duration, ok func(r userReport) bool) userReport {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := userJSON(t, site, name)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %s: %+v", within, name, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// announcer announces with trackerclient as one peer.
type announcer struct {
	c    *trackerclient.Client
	url  string
	ih   [20]byte
	id   [20]byte
	port uint16
}

func newAnnouncer(c *trackerclient.Client, announceURL string, ih [20]byte, id string, port uint16) *announcer {
	a := &announcer{c: c, url: announceURL, ih: ih, port: port}
	copy(a.id[:], id+"-----------------------")
	return a
}

func (a *announcer) announce(up, down, left int64, ev trackerclient.Event) (*trackerclient.AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.c.Announce(ctx, a.url, trackerclient.AnnounceRequest{
		InfoHash: a.ih, PeerID: a.id, Port: a.port, Uploaded: up, Downloaded: down, Left: left, Event: ev, Key: 7,
	})
}

// refusal returns the tracker's failure reason of err ("" for nil; the
// error text for other errors).
func refusal(err error) string {
	var te *trackerclient.TrackerError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &te):
		return te.Reason
	}
	return err.Error()
}

// within retries an announce until its refusal is want ("" = admitted),
// failing after d.
func within(t *testing.T, d time.Duration, what, want string, fn func() error) {
	t.Helper()
	start := time.Now()
	for {
		got := refusal(fn())
		if got == want {
			t.Logf("%s: %q after %v", what, want, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > d {
			t.Fatalf("%s: after %v the announce gets %q, want %q", what, d, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
