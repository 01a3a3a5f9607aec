//go:build linux

package bindsock

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name, network, address string
		sotype                 int
		wantAddr               string // the bound address, "" for either unspecified address
		wantFamily             int
	}{
		{"tcp4 loopback", "tcp", "127.0.0.1:0", unix.SOCK_STREAM, "127.0.0.1", unix.AF_INET},
		{"udp4 loopback", "udp", "127.0.0.1:0", unix.SOCK_DGRAM, "127.0.0.1", unix.AF_INET},
		{"tcp4 network, no host", "tcp4", ":0", unix.SOCK_STREAM, "0.0.0.0", unix.AF_INET},
		{"udp4 network, no host", "udp4", ":0", unix.SOCK_DGRAM, "0.0.0.0", unix.AF_INET},
		{"ipv4 unspecified", "tcp", "0.0.0.0:0", unix.SOCK_STREAM, "0.0.0.0", unix.AF_INET},
		{"no host: dual stack or ipv4", "tcp", ":0", unix.SOCK_STREAM, "", 0},
		{"no host udp: dual stack or ipv4", "udp", ":0", unix.SOCK_DGRAM, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setupCalled := false
			s, err := Open(tt.network, tt.address, tt.sotype, func(fd int) error {
				setupCalled = true
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(s.FD)
			if !setupCalled {
				t.Error("setup was not called")
			}
			if s.Local.Port() == 0 {
				t.Errorf("port 0 after bind: %v", s.Local)
			}
			got := s.Local.Addr()
			if tt.wantAddr != "" {
				if got != netip.MustParseAddr(tt.wantAddr) {
					t.Errorf("bound to %v, want %s", got, tt.wantAddr)
				}
			} else if !got.IsUnspecified() {
				t.Errorf("bound to %v, want an unspecified address", got)
			}
			st, err := unix.GetsockoptInt(s.FD, unix.SOL_SOCKET, unix.SO_TYPE)
			if err != nil || st != tt.sotype {
				t.Errorf("SO_TYPE = %d, %v; want %d", st, err, tt.sotype)
			}
			if tt.wantFamily != 0 {
				dom, err := unix.GetsockoptInt(s.FD, unix.SOL_SOCKET, unix.SO_DOMAIN)
				if err != nil || dom != tt.wantFamily {
					t.Errorf("SO_DOMAIN = %d, %v; want %d", dom, err, tt.wantFamily)
				}
			}
		})
	}
}

func TestOpenIPv6(t *testing.T) {
	s, err := Open("tcp", "[::1]:0", unix.SOCK_STREAM, nil)
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	defer unix.Close(s.FD)
	if s.Local.Addr() != netip.IPv6Loopback() {
		t.Errorf("bound to %v, want ::1", s.Local)
	}
	v6only, err := unix.GetsockoptInt(s.FD, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
	if err != nil || v6only != 1 {
		t.Errorf("IPV6_V6ONLY = %d, %v; want 1 for a specific IPv6 address", v6only, err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct{ name, network, address string }{
		{"bad port", "tcp", "127.0.0.1:99999"},
		{"malformed ipv6", "udp", "[::1:1"},
		{"missing port", "tcp", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := Open(tt.network, tt.address, unix.SOCK_STREAM, nil); err == nil {
				unix.Close(s.FD)
				t.Fatalf("Open(%q, %q) succeeded", tt.network, tt.address)
			}
		})
	}
	t.Run("setup error closes and reports", func(t *testing.T) {
		want := unix.EPERM
		_, err := Open("tcp", "127.0.0.1:0", unix.SOCK_STREAM, func(int) error { return want })
		if err != want {
			t.Fatalf("err = %v, want %v", err, want)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		a, err := Open("tcp", "127.0.0.1:0", unix.SOCK_STREAM, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(a.FD)
		if err := unix.Listen(a.FD, 1); err != nil {
			t.Fatal(err)
		}
		b, err := Open("tcp", a.Local.String(), unix.SOCK_STREAM, nil)
		if err == nil {
			unix.Close(b.FD)
			t.Fatal("second bind to a listening port succeeded")
		}
	})
}
