package servetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/trackerclient"
)

// announceLog is one HTTP announce a client sent through the proxy, with
// the outcome the client saw.
type announceLog struct {
	At                           time.Time
	Key                          string // the path's announce key
	InfoHash                     [20]byte
	PeerID                       [20]byte
	Uploaded, Downloaded, Left   int64
	Event                        string // "", started, completed, stopped
	Status                       int    // HTTP status the client got (502: tracker unreachable)
	Failure                      string // the tracker's failure reason, if any
	OK                           bool   // a 200 answer without a failure reason
	parseErr, forwardErr, badReq string
}

// proxy is a logging HTTP reverse proxy in front of the tracker: every
// announce passing through is parsed and recorded with its answer.
type proxy struct {
	addr   string
	target func() string // host:port of the tracker, read per request
	srv    *http.Server
	hc     *http.Client

	mu   sync.Mutex
	logs []announceLog
	// answered is signalled (without blocking) after every announce the
	// tracker answered.
	answered chan struct{}
}

// startProxy listens on 127.0.0.1:0 and forwards to target().
func startProxy(t *testing.T, target func() string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), target: target, answered: make(chan struct{}, 1),
		hc: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p.srv.Shutdown(ctx)
	})
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rec *announceLog
	if strings.HasSuffix(r.URL.Path, "/announce") {
		rec = parseAnnounce(r)
	}
	status, body, ferr := p.forward(r)
	if ferr != nil {
		status, body = http.StatusBadGateway, []byte("tracker unreachable: "+ferr.Error())
	}
	if rec != nil {
		rec.Status = status
		if ferr != nil {
			rec.forwardErr = ferr.Error()
		} else if status == http.StatusOK {
			_, err := trackerclient.ParseHTTPAnnounce(body)
			var te *trackerclient.TrackerError
			switch {
			case errors.As(err, &te):
				rec.Failure = te.Reason
			case err != nil:
				rec.parseErr = err.Error()
			default:
				rec.OK = true
			}
		}
		p.mu.Lock()
		p.logs = append(p.logs, *rec)
		p.mu.Unlock()
		if rec.OK {
			select {
			case p.answered <- struct{}{}:
			default:
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	w.Write(body)
}

func (p *proxy) forward(r *http.Request) (int, []byte, error) {
	u := "http://" + p.target() + r.URL.RequestURI()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u, nil)
	if err != nil {
		return 0, nil, err
	}
	if ua := r.Header.Get("User-Agent"); ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, body, nil
}

// parseAnnounce reads the announce parameters from the raw query ('+' is
// not a space here: binary values are percent-encoded).
func parseAnnounce(r *http.Request) *announceLog {
	rec := &announceLog{At: time.Now()}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 2 {
		rec.Key = parts[0]
	}
	vals := map[string]string{}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		k, v, _ := strings.Cut(kv, "=")
		dv, err := url.PathUnescape(v)
		if err != nil {
			rec.badReq = fmt.Sprintf("bad %s: %v", k, err)
			continue
		}
		vals[k] = dv
	}
	copy(rec.InfoHash[:], vals["info_hash"])
	copy(rec.PeerID[:], vals["peer_id"])
	if len(vals["info_hash"]) != 20 || len(vals["peer_id"]) != 20 {
		rec.badReq = "info_hash or peer_id not 20 bytes"
	}
	num := func(k string) int64 {
		n, err := strconv.ParseInt(vals[k], 10, 64)
		if err != nil {
			rec.badReq = fmt.Sprintf("bad %s %q", k, vals[k])
		}
		return n
	}
	rec.Uploaded, rec.Downloaded, rec.Left = num("uploaded"), num("downloaded"), num("left")
	rec.Event = vals["event"]
	return rec
}

// announces returns a copy of the log.
func (p *proxy) announces() []announceLog {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]announceLog(nil), p.logs...)
}

// announceURL is the proxy's announce URL for an announce key.
func (p *proxy) announceURL(key string) string {
	return "http://" + p.addr + "/" + key + "/announce"
}
