package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gale-bt/gale/internal/catalog"
)

// pty is a pseudo-terminal: the command gets the terminal end, the test
// types on and reads the screen from the controlling end.
type pty struct {
	t      *testing.T
	master *os.File
	tty    *os.File

	mu      sync.Mutex
	screen  bytes.Buffer  // everything the terminal displayed
	changed chan struct{} // closed and replaced when screen grows
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	// Not m.Fd(): that would make reads blocking, and Close could not
	// end the reader below.
	var n int
	err = control(m, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return fmt.Errorf("unlockpt: %v", err)
		}
		var err error
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN)
		return err
	})
	if err != nil {
		m.Close()
		t.Skipf("setting up a pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("opening the terminal end: %v", err)
	}
	p := &pty{t: t, master: m, tty: tty, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1024)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.screen.Write(buf[:n])
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		// Closing the controlling end ends reads on both ends: also the
		// one an interrupted prompt leaves behind, which then restores
		// the terminal's settings on its descriptor. Give it a moment,
		// so that it does not reach a descriptor number reused by the
		// next test's terminal.
		m.Close()
		<-done
		time.Sleep(100 * time.Millisecond)
		tty.Close()
	})
	return p
}

// control runs f on the file descriptor of file.
func control(file *os.File, f func(fd int) error) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func (p *pty) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.screen.String()
}

// waitFor waits until the screen shows s (count times in all).
func (p *pty) waitFor(s string, count int) {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		n, changed := strings.Count(p.screen.String(), s), p.changed
		p.mu.Unlock()
		if n >= count {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			p.t.Fatalf("the terminal does not show %q (%d times); it shows %q", s, count, p.text())
		}
	}
}

// echo reports whether the terminal echoes what is typed.
func (p *pty) echo() bool {
	p.t.Helper()
	var on bool
	err := control(p.tty, func(fd int) error {
		tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err == nil {
			on = tio.Lflag&unix.ECHO != 0
		}
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return on
}

// waitNoEcho waits until the terminal's echo is off.
func (p *pty) waitNoEcho() {
	p.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); p.echo(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatal("echo stays on at the password prompt")
		}
	}
}

// typeSecret waits until echo is off, then types line and Enter.
func (p *pty) typeSecret(line string) {
	p.t.Helper()
	p.waitNoEcho()
	if _, err := p.master.WriteString(line + "\n"); err != nil {
		p.t.Fatal(err)
	}
}

// TestUserPasswdTerminal types passwords at the prompts of gale user
// passwd on a pseudo-terminal.
func TestUserPasswdTerminal(t *testing.T) {
	store, site := newSite(t, "")
	sys := catalog.WithSystem(context.Background())
	alice, err := store.CreateUser(sys, catalog.NewUser{Name: "alice", Password: "old password"})
	if err != nil {
		t.Fatal(err)
	}
	session, err := store.CreateSession(sys, alice.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const prompt1, prompt2 = "New password for alice: ", "Retype the new password: "
	for _, tc := range []struct {
		name   string
		typed  []string // one line per prompt; "cancel" cancels the context instead
		code   int
		stdout string
		stderr string
		works  string // alice's password afterwards
	}{
		{"mismatch", []string{"first secret", "second secret"}, 1, "", "do not match", "old password"},
		{"too short", []string{"short"}, 1, "", "at least 8 characters", "old password"},
		{"empty", []string{""}, 1, "", "no password given", "old password"},
		{"interrupted", []string{"typed secret", "cancel"}, 1, "", "canceled", "old password"},
		{"set", []string{"typed secret", "typed secret"}, 0, "set the password of alice", "", "typed secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := openPTY(t)
			if !p.echo() {
				t.Fatal("a new terminal does not echo")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errb bytes.Buffer
			done := make(chan int, 1)
			go func() {
				e := &Env{Stdin: p.tty, Stdout: &out, Stderr: &syncWriter{w: &errb, tty: p.tty}}
				done <- e.Run(ctx, append([]string{"user", "passwd", "alice"}, site...))
			}()
			for i, line := range tc.typed {
				p.waitFor([]string{prompt1, prompt2}[i], 1)
				if line == "cancel" {
					p.waitNoEcho()
					cancel()
					break
				}
				p.typeSecret(line)
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("gale user passwd does not end; the terminal shows %q", p.text())
			}
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tc.code, out.String(), tc.stdout, errb.String(), tc.stderr)
			}
			if !p.echo() {
				t.Error("the terminal does not echo any more")
			}
			for _, line := range tc.typed {
				if line != "cancel" && len(line) > 2 && strings.Contains(p.text(), line) {
					t.Errorf("the terminal showed the password %q: %q", line, p.text())
				}
			}
			if _, err := store.Authenticate(context.Background(), "alice", tc.works); err != nil {
				t.Errorf("alice cannot sign in with %q: %v", tc.works, err)
			}
		})
	}
	if _, err := store.SessionUser(context.Background(), session); err == nil {
		t.Error("alice's session outlived the password change")
	}
}

// syncWriter copies what the command writes to standard error to the
// terminal (where the prompts belong) and keeps it for the test.
type syncWriter struct {
	mu  sync.Mutex
	w   *bytes.Buffer
	tty *os.File
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w.Write(b)
	if _, err := s.tty.Write(b); err != nil && !errors.Is(err, os.ErrClosed) {
		return 0, err
	}
	return len(b), nil
}
