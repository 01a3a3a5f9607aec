package servetest

import (
	"database/sql"
	"net/url"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	_ "github.com/jackc/pgx/v5/stdlib"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// server is a `gale serve` process on a data directory; it can be killed
// and restarted on the same addresses.
type server struct {
	t      *testing.T
	bin    string
	data   string
	config string // --config file, or ""
	db     string // --db URL, or "" for the SQLite default
	http   string // bound addresses, from the "listening" lines
	udp    string
	// bootstrap is the first-administrator link printed by the first run.
	bootstrap string
	p         *proc
	procs     []*proc // every run, for log checks
	runs      int
}

var bootstrapRE = regexp.MustCompile(`\S*/signup\?invite=[^\s"'<>]+`)

// startServer runs `gale serve` on a new data directory on 127.0.0.1 with
// free ports, with the TOML settings in config (if any).
func startServer(t *testing.T, config string) *server {
	t.Helper()
	return startServerDB(t, config, "")
}

// startServerDB is startServer on the database db (a --db URL; "" is the
// SQLite default in the data directory).
func startServerDB(t *testing.T, config, db string) *server {
	t.Helper()
	s := &server{t: t, bin: galeBinary(t), data: filepath.Join(t.TempDir(), "data"), db: db}
	if config != "" {
		s.config = filepath.Join(t.TempDir(), "gale.toml")
		if err := os.WriteFile(s.config, []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// start runs the server, on the addresses of the previous run if any,
// and waits (at most 20 s, or until ctx ends) until both listeners are up.
// It does not fail the test itself, so that other goroutines may call it.
func (s *server) start(ctx context.Context) error {
	t := s.t
	httpAddr, udpAddr := "127.0.0.1:0", "127.0.0.1:0"
	if s.http != "" {
		httpAddr, udpAddr = s.http, s.udp
	}
	args := []string{"serve", "--data", s.data, "--http", httpAddr, "--udp", udpAddr}
	if s.config != "" {
		args = append(args, "--config", s.config)
	}
	if s.db != "" {
		args = append(args, "--db", s.db)
	}
	var lastErr error
	// A restart on the same ports may race a socket still closing.
	for attempt := 0; attempt < 5; attempt++ {
		s.runs++
		p, err := startProc(t, fmt.Sprintf("gale-serve-%d", s.runs), filepath.Dir(s.data), nil, s.bin, args...)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, p)
		if lastErr = s.waitReady(ctx, p); lastErr == nil {
			s.p = p
			return nil
		}
		p.killWait()
		if s.http == "" || ctx.Err() != nil {
			break // a first start has no excuse
		}
		time.Sleep(200 * time.Millisecond)
	}
	return lastErr
}

func (s *server) waitReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var httpAddr, udpAddr string
	for _, proto := range []string{"http", "udp"} {
		line, err := p.waitLine(ctx, "listening "+proto, func(l string) bool {
			f := strings.Fields(l)
			return len(f) >= 3 && f[0] == "listening" && f[1] == proto
		})
		if err != nil {
			return fmt.Errorf("gale serve did not start: %v", err)
		}
		addr := strings.Fields(line)[2]
		if proto == "http" {
			httpAddr = addr
		} else {
			udpAddr = addr
		}
	}
	if s.http != "" && (httpAddr != s.http || udpAddr != s.udp) {
		return fmt.Errorf("restart bound http %s udp %s, want %s and %s", httpAddr, udpAddr, s.http, s.udp)
	}
	s.http, s.udp = httpAddr, udpAddr
	if s.runs == 1 {
		// The link is printed before or right after the listeners.
		lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
		line, err := p.waitLine(lctx, "first-administrator link", bootstrapRE.MatchString)
		lcancel()
		if err == nil {
			link := bootstrapRE.FindString(line)
			if strings.HasPrefix(link, "/") {
				link = s.siteURL() + link
			}
			s.bootstrap = link
		}
	}
	// The site answers once the HTTP listener is up.
	c, err := net.DialTimeout("tcp", httpAddr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("gale serve listens on %s but refuses connections: %v", httpAddr, err)
	}
	c.Close()
	return nil
}

// siteURL is the site's base URL.
func (s *server) siteURL() string { return "http://" + s.http }

// kill9 kills the server with SIGKILL and waits until it is gone.
func (s *server) kill9() {
	s.p.killWait()
}

// log returns the output of every run of the server so far.
func (s *server) log() string {
	var b strings.Builder
	for _, p := range s.procs {
		b.WriteString(strings.Join(p.output(), "\n"))
		b.WriteString("\n")
	}
	return b.String()
}

// gale runs a gale admin command on the server's data directory and
// returns its standard output; a failure fails the test.
func (s *server) gale(stdin string, args ...string) string {
	s.t.Helper()
	out, err := s.galeErr(stdin, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// galeErr is gale returning the error (with stderr) instead.
func (s *server) galeErr(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append(args, "--data", s.data)
	if s.db != "" {
		args = append(args, "--db", s.db)
	}
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	if d := time.Since(t0); d > time.Second {
		s.t.Logf("slow admin command: gale %s took %v", strings.Join(args, " "), d.Round(time.Millisecond))
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("gale %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// addUser creates a user with a password (gale user add --password-stdin).
func (s *server) addUser(name, password string, extra ...string) {
	s.t.Helper()
	s.gale(password+"\n", append([]string{"user", "add", name, "--password-stdin"}, extra...)...)
}

// userTotals are the fields of `gale user show --json` the tests read.
type userTotals struct {
	Name       string `json:"name"`
	Uploaded   int64  `json:"uploaded"`
	Downloaded int64  `json:"downloaded"`
	// Raw* are the reported bytes before freeleech and double upload.
	RawUploaded   int64 `json:"raw_uploaded"`
	RawDownloaded int64 `json:"raw_downloaded"`
	Snatches      int64 `json:"snatches"`
	Disabled      bool  `json:"disabled"`
}

// userShow runs `gale user show NAME --json`.
func (s *server) userShow(name string) userTotals {
	s.t.Helper()
	out := s.gale("", "user", "show", name, "--json")
	var u userTotals
	if err := json.Unmarshal([]byte(out), &u); err != nil {
		s.t.Fatalf("gale user show %s --json: %v\n%s", name, err, out)
	}
	return u
}

var hexHashRE = regexp.MustCompile(`\b[0-9a-f]{40}\b`)

// addTorrent registers a .torrent for owner and returns its (site) info
// hash in hex, as printed by gale torrent add.
func (s *server) addTorrent(file, owner string) string {
	s.t.Helper()
	out := s.gale("", "torrent", "add", file, "--owner", owner)
	h := hexHashRE.FindString(out)
	if h == "" {
		s.t.Fatalf("gale torrent add printed no info hash: %q", out)
	}
	return h
}

// fetchTorrent writes user's personal .torrent of infoHash to a new file
// and returns its path.
func (s *server) fetchTorrent(infoHash, user string) string {
	s.t.Helper()
	out := filepath.Join(s.t.TempDir(), user+"-"+infoHash[:8]+".torrent")
	s.gale("", "torrent", "fetch", infoHash, "--user", user, "-o", out)
	return out
}

// createTorrent makes a v1 .torrent of path with `gale create` (16 KiB
// pieces unless pieceLen says otherwise) and returns the file's path.
func createTorrent(t *testing.T, path string, pieceLen string) string {
	t.Helper()
	if pieceLen == "" {
		pieceLen = "16KiB"
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path)+".torrent")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, galeBinary(t), "create", "--piece-length", pieceLen, "-o", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gale create: %v\n%s", err, b)
	}
	return out
}

// testDBs lists the databases the crash test runs on: SQLite always, and a
// fresh PostgreSQL database when GALE_TEST_POSTGRES is set (see
// scripts/postgres-test.sh); GALE_REQUIRE_POSTGRES=1 makes it mandatory.
func testDBs(t *testing.T) map[string]func(t *testing.T) string {
	dbs := map[string]func(*testing.T) string{"sqlite": func(*testing.T) string { return "" }}
	base := os.Getenv("GALE_TEST_POSTGRES")
	if base == "" && os.Getenv("GALE_REQUIRE_POSTGRES") == "1" {
		t.Fatal("GALE_REQUIRE_POSTGRES=1 but GALE_TEST_POSTGRES is not set")
	}
	if base == "" {
		return dbs
	}
	dbs["postgres"] = func(t *testing.T) string {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		name := fmt.Sprintf("gale_servetest_%d", time.Now().UnixNano())
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if db, err := sql.Open("pgx", base); err == nil {
				db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
				db.Close()
			}
		})
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dbs
}
