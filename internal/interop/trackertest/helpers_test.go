package trackertest

import (
	"bufio"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/interop/interoptest"

	"github.com/gale-bt/gale/bencode"
)

var (
	missing        = interoptest.Missing
	requireInterop = interoptest.Required
	python         = interoptest.Python
	galeBinary     = interoptest.GaleBinary
	systemPython   = interoptest.SystemPython
)

// tool returns the path of a required program.
var tool = interoptest.Tool

func TestMain(m *testing.M) {
	code := m.Run()
	interoptest.Cleanup()
	os.Exit(code)
}

// hostPort joins ip and port, bracketing IPv6.
func hostPort(ip string, port int) string { return net.JoinHostPort(ip, fmt.Sprint(port)) }

// freePort returns a port that was just free for both TCP and UDP on ip.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", hostPort(ip, 0))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", hostPort(ip, port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// proc is a child process whose output (stdout and stderr) goes to a log
// file and, line by line, to an optional channel.
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   string
	lines chan string
	stdin io.WriteCloser
	done  chan struct{}
	err   error
}

// start runs name with args in dir; the process is killed at cleanup.
// With wantLines its output lines are delivered on p.lines as well.
func start(t *testing.T, ctx context.Context, label, dir string, wantLines bool, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	logPath := filepath.Join(t.TempDir(), label+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: label, cmd: cmd, log: logPath, done: make(chan struct{})}
	var pw *io.PipeWriter
	var readers sync.WaitGroup
	if wantLines {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		p.lines = make(chan string, 100)
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer close(p.lines)
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				select {
				case p.lines <- sc.Text():
				default: // nobody listening: the log has it
				}
			}
			io.Copy(logf, pr) // an over-long line: keep draining
		}()
	} else {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	// An open stdin that is closed at cleanup tells the seeder to stop.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", label, err)
	}
	go func() {
		p.err = cmd.Wait()
		if pw != nil {
			pw.Close()
		}
		readers.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	return p
}

func (p *proc) dumpLog(t *testing.T) {
	b, _ := os.ReadFile(p.log)
	if keep := os.Getenv("GALE_TRACKERTEST_LOGS"); keep != "" {
		name := strings.NewReplacer("/", "_").Replace(t.Name()) + "-" + p.name + ".log"
		os.WriteFile(filepath.Join(keep, name), b, 0o644)
	}
	// Progress lines repeat: keep one of each run.
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r", "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" && (len(out) == 0 || out[len(out)-1] != line) {
			out = append(out, line)
		}
	}
	s := strings.Join(out, "\n")
	if len(s) > 4000 {
		s = "...\n" + s[len(s)-4000:]
	}
	t.Logf("---- %s log (%s):\n%s", p.name, p.log, s)
}

// waitLine waits for a stdout line starting with prefix and returns it.
func (p *proc) waitLine(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				return "", fmt.Errorf("%s exited (%v) before printing %q", p.name, p.err, prefix)
			}
			if strings.HasPrefix(line, prefix) {
				return line, nil
			}
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no %q line: %w", p.name, prefix, ctx.Err())
		}
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// writePayload writes size pseudo-random bytes to path.
func writePayload(t *testing.T, path string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// makeTorrent creates a private torrent of file with mktorrent and
// returns its path and info hash.
func makeTorrent(t *testing.T, mktorrent, file, announce, out string) (string, [20]byte) {
	t.Helper()
	cmd := exec.Command(mktorrent, "-p", "-l", "15", "-a", announce, "-o", out, file)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mktorrent: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var mi struct {
		Info bencode.RawMessage `bencode:"info"`
	}
	if _, err := (bencode.DecodeOptions{Tolerant: true}).Unmarshal(data, &mi); err != nil || len(mi.Info) == 0 {
		t.Fatalf("reading %s: %v", out, err)
	}
	return out, sha1.Sum(mi.Info)
}

// skipIfNoIPv6 skips when ::1 is unusable.
func skipIfNoIPv6(t *testing.T, ip string) {
	t.Helper()
	if !strings.Contains(ip, ":") {
		return
	}
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
}

// tcpReady reports whether something accepts TCP connections on addr.
func tcpReady(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
