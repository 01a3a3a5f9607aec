package servetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/interop/interoptest"
)

var (
	missing        = interoptest.Missing
	requireInterop = interoptest.Required
	python         = interoptest.Python
	galeBinary     = interoptest.GaleBinary
	systemPython   = interoptest.SystemPython
)

func TestMain(m *testing.M) {
	code := m.Run()
	interoptest.Cleanup()
	os.Exit(code)
}

// artifactDir is where screenshots and logs are kept
// (GALE_SERVETEST_ARTIFACTS), or "".
func artifactDir() string { return os.Getenv("GALE_SERVETEST_ARTIFACTS") }

// keepArtifact copies a file into GALE_SERVETEST_ARTIFACTS when set.
func keepArtifact(t *testing.T, path string) {
	dir := artifactDir()
	if dir == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_").Replace(t.Name()) + "-" + filepath.Base(path)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
}

// proc is a child process whose output lines (stdout and stderr) are kept
// in memory and in a log file.
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   string
	stdin io.WriteCloser
	done  chan struct{}
	err   error

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
}

// start runs name with args in dir with extra environment variables; the
// process is killed at cleanup (and its log shown if the test failed).
func start(t *testing.T, label, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	p, err := startProc(t, label, dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startProc(t *testing.T, label, dir string, env []string, name string, args ...string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.CreateTemp(t.TempDir(), label+"-*.log")
	if err != nil {
		return nil, err
	}
	p := &proc{name: label, cmd: cmd, log: logf.Name(), done: make(chan struct{}), changed: make(chan struct{})}
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, errW
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %v", label, err)
	}
	var readers sync.WaitGroup
	var logMu sync.Mutex
	read := func(r io.Reader, stream string) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logMu.Lock()
			fmt.Fprintf(logf, "%s %s\n", stream, line)
			logMu.Unlock()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, r)
	}
	readers.Add(2)
	go read(outR, "out")
	go read(errR, "err")
	go func() {
		p.err = cmd.Wait()
		outW.Close()
		errW.Close()
		readers.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		<-p.done
		keepArtifact(t, p.log)
		if t.Failed() {
			p.dumpLog(t)
		}
	})
	return p, nil
}

// kill sends SIGKILL to the process (and its process group).
func (p *proc) kill() {
	p.stdin.Close()
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Process.Kill()
	}
}

// killWait kills the process and waits until it is gone.
func (p *proc) killWait() {
	p.kill()
	<-p.done
}

func (p *proc) dumpLog(t *testing.T) {
	b, _ := os.ReadFile(p.log)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && (len(out) == 0 || out[len(out)-1] != line) {
			out = append(out, line)
		}
	}
	s := strings.Join(out, "\n")
	if len(s) > 6000 {
		s = "...\n" + s[len(s)-6000:]
	}
	t.Logf("---- %s log (%s):\n%s", p.name, p.log, s)
}

// waitLine waits until a line (from the start of the output) satisfies
// match and returns it.
func (p *proc) waitLine(ctx context.Context, what string, match func(string) bool) (string, error) {
	seen := 0
	for {
		p.mu.Lock()
		lines, changed := p.lines[seen:], p.changed
		seen = len(p.lines)
		p.mu.Unlock()
		for _, l := range lines {
			if match(l) {
				return l, nil
			}
		}
		select {
		case <-changed:
		case <-p.done:
			p.mu.Lock()
			more := len(p.lines) > seen
			p.mu.Unlock()
			if !more {
				return "", fmt.Errorf("%s exited (%v) before printing %s", p.name, p.err, what)
			}
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no %s: %w", p.name, what, ctx.Err())
		}
	}
}

// output returns all lines so far.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
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

// send writes a command line to the process's standard input.
func (p *proc) send(line string) {
	io.WriteString(p.stdin, line+"\n")
}

// writePayload writes size pseudo-random bytes (seeded by seed) to path.
func writePayload(t *testing.T, path string, size int, seed uint64) []byte {
	t.Helper()
	b := make([]byte, size)
	x := seed | 1
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

// eventually calls f every step until it returns nil or the deadline
// passes, and returns f's last error.
func eventually(ctx context.Context, timeout, step time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %v: %w", timeout, err)
		case <-time.After(step):
		}
	}
}
