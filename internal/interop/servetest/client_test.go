package servetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// client is a python3-libtorrent client (testdata/client.py).
type client struct {
	*proc
}

// startClient runs testdata/client.py on torrent with saveDir, bound to
// 127.0.0.1, with per-torrent rate limits in bytes per second (0: none).
func startClient(t *testing.T, label, torrent, saveDir string, up, down int) *client {
	t.Helper()
	py := python(t)
	script, err := filepath.Abs(filepath.Join("testdata", "client.py"))
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, label, saveDir, nil, py, script, torrent, saveDir, "127.0.0.1", fmt.Sprint(up), fmt.Sprint(down))
	return &client{p}
}

// waitEvent waits for an output line whose first field is word.
func (c *client) waitEvent(ctx context.Context, word string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.waitLine(ctx, "\""+word+"\"", func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 0 && f[0] == word
	})
}

// lastStatus returns the last "status" line's fields: progress, payload
// uploaded and downloaded, peers.
func (c *client) lastStatus() (progress float64, up, down int64, peers int, ok bool) {
	lines := c.output()
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) == 5 && f[0] == "status" {
			progress, _ = strconv.ParseFloat(f[1], 64)
			up, _ = strconv.ParseInt(f[2], 10, 64)
			down, _ = strconv.ParseInt(f[3], 10, 64)
			peers, _ = strconv.Atoi(f[4])
			return progress, up, down, peers, true
		}
	}
	return 0, 0, 0, 0, false
}

// trackerErrors returns the tracker errors the client reported.
func (c *client) trackerErrors() []string {
	var out []string
	for _, l := range c.output() {
		if strings.HasPrefix(l, "tracker-error") {
			out = append(out, l)
		}
	}
	return out
}
