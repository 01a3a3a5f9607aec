package cli

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "load-test a tracker (UDP or HTTP announces and scrapes)",
		usage:   "gale bench [flags] [URL]",
		help: `Sends announces (or scrapes) to a tracker as fast as it answers, from a
simulated population of peers spread over torrents, and prints responses
per second and latency percentiles. Works against any BEP 3 / BEP 15
tracker. The target is udp://127.0.0.1:6969/announce unless given as
--url or as the argument; it must be a loopback address unless
--allow-remote is given.

Each peer announces "started" first and plain announces after that;
seeders announce left=0. UDP keeps many requests outstanding on several
sockets with batched system calls; HTTP opens one connection per request
(as clients do) unless --keepalive. A request unanswered after --timeout
counts as a timeout. Info hashes are derived from their index; write them
with --print-infohashes (one hex hash per line, a tracker whitelist) or
use your own with --infohashes FILE.

--wrk-lua FILE writes a Lua script for wrk(1) that sends the same HTTP
requests and prints the result with the same JSON keys as --json: on a
small machine the load generator's core is the limit for one connection
per request, and wrk, written in C, spends less per connection.

--announce-urls FILE load-tests a private tracker ('gale serve'): each line
is "INFOHASH URL" with a personal announce URL (the key in the path, in
BEP 41 URL data for UDP), as 'gale bench-keys' writes them. Peer i is in
torrent i mod T and uses that torrent's URLs in turn.`,
		flags: func() *flag.FlagSet { fs, _ := benchFlags(); return fs },
		run:   runBench,
	})
}

type benchConfig struct {
	url            string
	torrents       int
	peers          int
	seeders        float64
	numWant        int
	concurrency    int
	sockets        int
	rate           float64
	duration       time.Duration
	timeout        time.Duration
	mode           string
	scrapeHashes   int
	keepAlive      bool
	closeFirst     bool
	once           bool
	infoHashesFile string
	printHashes    bool
	wrkLua         string
	jsonOut        bool
	allowRemote    bool
	cpuProfile     string
	announceURLs   string
}

func benchFlags() (*flag.FlagSet, *benchConfig) {
	c := &benchConfig{}
	fs := newFlagSet("bench")
	fs.StringVar(&c.url, "url", "udp://127.0.0.1:6969/announce", "tracker announce `URL` (udp://, http://)")
	fs.IntVar(&c.torrents, "torrents", 1000, "number of torrents (info hashes)")
	fs.IntVar(&c.peers, "peers", 10000, "number of simulated peers, spread evenly over the torrents")
	fs.Float64Var(&c.seeders, "seeders", 0.25, "fraction of peers that are seeders (left=0)")
	fs.IntVar(&c.numWant, "numwant", 50, "peers asked for in each announce")
	fs.IntVar(&c.concurrency, "concurrency", 0, "requests in flight: UDP outstanding requests (default 128), HTTP connections (default 64)")
	fs.IntVar(&c.sockets, "sockets", 4, "UDP sockets (each with its own connection ID)")
	fs.Float64Var(&c.rate, "rate", 0, "UDP: send `N` requests per second in all, paced, with --concurrency as the most in flight (default 0: as fast as answered)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to send requests")
	fs.DurationVar(&c.timeout, "timeout", time.Second, "a request unanswered after this counts as a timeout")
	fs.StringVar(&c.mode, "mode", "announce", "`announce` or scrape")
	fs.IntVar(&c.scrapeHashes, "scrape-hashes", 1, "info hashes per scrape request (UDP at most 74)")
	fs.BoolVar(&c.keepAlive, "keepalive", false, "HTTP: reuse connections instead of one connection per request")
	fs.BoolVar(&c.closeFirst, "close-first", false, "HTTP: close each connection once the answer is complete instead of waiting for the tracker to close it")
	fs.BoolVar(&c.once, "once", false, "announce every peer once, then stop (fills a tracker; --duration still bounds the run)")
	fs.StringVar(&c.infoHashesFile, "infohashes", "", "read info hashes (hex, one per line) from `FILE` instead of deriving them; sets --torrents")
	fs.BoolVar(&c.printHashes, "print-infohashes", false, "print the derived info hashes (a whitelist) and exit")
	fs.StringVar(&c.wrkLua, "wrk-lua", "", "write a wrk(1) Lua script sending these HTTP requests to `FILE` and exit")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator to `FILE`")
	fs.StringVar(&c.announceURLs, "announce-urls", "", "announce with the personal URLs in `FILE` (lines \"INFOHASH URL\", see 'gale help bench-keys'); sets the target and --torrents")
	return fs, c
}

// Limits that keep the generator's memory bounded.
const (
	benchMaxPeers       = 5_000_000
	benchMaxTorrents    = 5_000_000
	benchMaxConcurrency = 65536
)

func runBench(ctx context.Context, e *Env, args []string) error {
	fs, c := benchFlags()
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
	case 1:
		c.url = pos[0]
	default:
		return usagef("at most one URL")
	}
	var hashes [][20]byte
	keyed, err := benchKeyedConfig(fs, c, pos)
	if err != nil {
		return err
	}
	if keyed != nil {
		hashes = keyed.hashes
		c.torrents = len(hashes)
	} else if c.infoHashesFile != "" {
		if hashes, err = readInfoHashes(c.infoHashesFile); err != nil {
			return err
		}
		c.torrents = len(hashes)
	}
	switch {
	case c.torrents < 1 || c.torrents > benchMaxTorrents:
		return usagef("--torrents must be between 1 and %d", benchMaxTorrents)
	case c.peers < 1 || c.peers > benchMaxPeers:
		return usagef("--peers must be between 1 and %d", benchMaxPeers)
	case c.seeders < 0 || c.seeders > 1:
		return usagef("--seeders must be between 0 and 1")
	case c.concurrency < 0 || c.concurrency > benchMaxConcurrency:
		return usagef("--concurrency must be between 1 and %d", benchMaxConcurrency)
	case c.sockets < 1 || c.sockets > 1024:
		return usagef("--sockets must be between 1 and 1024")
	case c.rate < 0 || c.rate > 1e8:
		return usagef("--rate must be between 0 and 100000000")
	case c.duration <= 0 || c.timeout <= 0:
		return usagef("--duration and --timeout must be positive")
	case c.mode != "announce" && c.mode != "scrape":
		return usagef("--mode must be announce or scrape")
	case c.once && c.mode != "announce":
		return usagef("--once is for announces")
	case c.scrapeHashes < 1 || c.scrapeHashes > 1000:
		return usagef("--scrape-hashes must be between 1 and 1000")
	case c.numWant < -1 || c.numWant > 1<<20:
		return usagef("--numwant out of range")
	}
	if hashes == nil {
		hashes = benchInfoHashes(c.torrents)
	}
	if c.printHashes {
		w := bufio.NewWriter(e.Stdout)
		for _, h := range hashes {
			fmt.Fprintf(w, "%x\n", h)
		}
		return w.Flush()
	}
	u, err := url.Parse(c.url)
	if err != nil {
		return usagef("bad URL: %v", err)
	}
	if u.Scheme != "udp" && u.Scheme != "http" {
		return usagef("URL scheme must be udp or http, not %q", u.Scheme)
	}
	if u.Port() == "" {
		return usagef("URL %s has no port", c.url)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil || len(addrs) == 0 {
		return fmt.Errorf("resolving %s: %v", u.Hostname(), err)
	}
	if !c.allowRemote {
		for _, a := range addrs {
			if !a.Unmap().IsLoopback() {
				return usagef("target %s (%s) is not a loopback address; add --allow-remote if you mean it", u.Hostname(), a)
			}
		}
	}
	port, _ := strconv.Atoi(u.Port())
	target := netip.AddrPortFrom(addrs[0].Unmap(), uint16(port))

	pop := &benchPopulation{hashes: hashes, peers: c.peers, seeders: c.seeders, keyed: keyed}
	if c.wrkLua != "" {
		return writeWrkFile(c, u, pop)
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	var res *benchResult
	start := time.Now()
	if u.Scheme == "udp" {
		if c.concurrency == 0 {
			c.concurrency = 128
		}
		res, err = benchUDP(runCtx, c, u, target, pop)
	} else {
		if c.concurrency == 0 {
			c.concurrency = 64
		}
		res, err = benchHTTP(runCtx, c, u, target, pop)
	}
	if err != nil {
		return err
	}
	// Rates are over the time until the last answer, so that requests
	// lost at the end (waited for until --timeout) do not dilute them.
	if !res.start.IsZero() {
		start = res.start
	}
	res.Elapsed = time.Since(start)
	if !res.stats.last.IsZero() {
		res.Elapsed = res.stats.last.Sub(start)
	}
	res.finish(c)
	if c.jsonOut {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.print(e.Stdout)
	return nil
}

// benchInfoHashes derives n info hashes: SHA-1 of "gale bench torrent I".
func benchInfoHashes(n int) [][20]byte {
	hs := make([][20]byte, n)
	for i := range hs {
		hs[i] = sha1.Sum([]byte("gale bench torrent " + strconv.Itoa(i)))
	}
	return hs
}

func readInfoHashes(path string) ([][20]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hs [][20]byte
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		var h [20]byte
		if len(s) != 40 {
			return nil, fmt.Errorf("%s:%d: not a 40-digit hex info hash", path, line)
		}
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		if len(hs) >= benchMaxTorrents {
			return nil, fmt.Errorf("%s: more than %d info hashes", path, benchMaxTorrents)
		}
		hs = append(hs, h)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("%s: no info hashes", path)
	}
	return hs, nil
}

// benchPopulation describes the simulated peers: peer i is in torrent
// i mod T, listens on a port unique within its torrent, and is a seeder
// when its rank within the torrent falls in the seeder fraction.
type benchPopulation struct {
	hashes  [][20]byte
	peers   int
	seeders float64
	keyed   *benchKeyed // personal announce URLs (--announce-urls), or nil
}

func (p *benchPopulation) torrent(i int) int { return i % len(p.hashes) }

func (p *benchPopulation) port(i int) uint16 { return uint16(1025 + (i/len(p.hashes))%64000) }

func (p *benchPopulation) peerID(i int) [20]byte {
	var id [20]byte
	copy(id[:], fmt.Sprintf("-GB0001-%012d", i))
	return id
}

func (p *benchPopulation) seeder(i int) bool {
	// Spread seeders evenly: peer i is a seeder when floor((i+1)*f) > floor(i*f).
	return int(float64(i+1)*p.seeders) > int(float64(i)*p.seeders)
}

func (p *benchPopulation) left(i int) int64 {
	if p.seeder(i) {
		return 0
	}
	return 1 << 30
}

// latencyHist is a log-linear histogram of latencies in microseconds with
// 32 sub-buckets per power of two (about 3% resolution).
type latencyHist struct {
	counts [1024]uint64
	max    uint64
	n      uint64
}

func histIndex(us uint64) int {
	if us < 64 {
		return int(us)
	}
	shift := bits.Len64(us) - 6
	return min((shift+1)<<5+int(us>>shift)-32, 1023)
}

// histValue is the upper bound of bucket i.
func histValue(i int) uint64 {
	if i < 64 {
		return uint64(i)
	}
	shift := i/32 - 1
	return (uint64(i%32+32)+1)<<shift - 1
}

func (h *latencyHist) add(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histIndex(us)]++
	h.n++
	h.max = max(h.max, us)
}

func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

func (h *latencyHist) quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if rank >= h.n {
		rank = h.n - 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen > rank {
			return min(histValue(i), h.max)
		}
	}
	return h.max
}

// benchStats is what one worker counts; merged into a benchResult.
type benchStats struct {
	requests, responses, errors, timeouts, peersReturned uint64
	connects                                             uint64
	errorSample                                          string
	hist                                                 latencyHist
	last                                                 time.Time // of the last response
}

func (s *benchStats) errorf(format string, args ...any) {
	s.errors++
	if s.errorSample == "" {
		s.errorSample = fmt.Sprintf(format, args...)
	}
}

func (s *benchStats) merge(o *benchStats) {
	s.requests += o.requests
	s.responses += o.responses
	s.errors += o.errors
	s.timeouts += o.timeouts
	s.peersReturned += o.peersReturned
	s.connects += o.connects
	if o.last.After(s.last) {
		s.last = o.last
	}
	if s.errorSample == "" {
		s.errorSample = o.errorSample
	}
	s.hist.merge(&o.hist)
}

// benchResult is the printed outcome (also the --json schema).
type benchResult struct {
	URL           string        `json:"url"`
	Mode          string        `json:"mode"`
	Torrents      int           `json:"torrents"`
	Peers         int           `json:"peers"`
	Concurrency   int           `json:"concurrency"`
	KeepAlive     bool          `json:"keepalive,omitempty"`
	Elapsed       time.Duration `json:"-"`
	Seconds       float64       `json:"seconds"`
	Requests      uint64        `json:"requests"`
	Responses     uint64        `json:"responses"`
	PerSecond     float64       `json:"responses_per_second"`
	Errors        uint64        `json:"errors"`
	Timeouts      uint64        `json:"timeouts"`
	ErrorSample   string        `json:"error_sample,omitempty"`
	PeersPerReply float64       `json:"peers_per_response"`
	Connects      uint64        `json:"connects"`
	P50us         uint64        `json:"p50_us"`
	P90us         uint64        `json:"p90_us"`
	P99us         uint64        `json:"p99_us"`
	MaxUs         uint64        `json:"max_us"`

	stats benchStats
	start time.Time // when the workers started
}

func (r *benchResult) finish(c *benchConfig) {
	s := &r.stats
	r.URL, r.Mode, r.Torrents, r.Peers, r.Concurrency = c.url, c.mode, c.torrents, c.peers, c.concurrency
	r.KeepAlive = c.keepAlive && strings.HasPrefix(c.url, "http")
	r.Seconds = r.Elapsed.Seconds()
	r.Requests, r.Responses, r.Errors, r.Timeouts = s.requests, s.responses, s.errors, s.timeouts
	r.ErrorSample, r.Connects = s.errorSample, s.connects
	if r.Seconds > 0 {
		r.PerSecond = float64(s.responses) / r.Seconds
	}
	if s.responses > 0 {
		r.PeersPerReply = float64(s.peersReturned) / float64(s.responses)
	}
	r.P50us, r.P90us, r.P99us, r.MaxUs = s.hist.quantile(0.5), s.hist.quantile(0.9), s.hist.quantile(0.99), s.hist.max
}

func fmtUs(us uint64) string {
	switch {
	case us >= 1_000_000:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	case us >= 1000:
		return fmt.Sprintf("%.2fms", float64(us)/1e3)
	}
	return fmt.Sprintf("%dµs", us)
}

func (r *benchResult) print(w io.Writer) {
	conn := ""
	if strings.HasPrefix(r.URL, "http") {
		conn = ", one connection per request"
		if r.KeepAlive {
			conn = ", keep-alive"
		}
	}
	fmt.Fprintf(w, "target     %s (%s, %d peers in %d torrents, %d in flight%s)\n",
		r.URL, r.Mode, r.Peers, r.Torrents, r.Concurrency, conn)
	fmt.Fprintf(w, "duration   %.2fs\n", r.Seconds)
	fmt.Fprintf(w, "requests   %d\n", r.Requests)
	fmt.Fprintf(w, "responses  %d (%.0f/s, %.1f peers each)\n", r.Responses, r.PerSecond, r.PeersPerReply)
	fmt.Fprintf(w, "errors     %d", r.Errors)
	if r.ErrorSample != "" {
		fmt.Fprintf(w, " (first: %s)", r.ErrorSample)
	}
	fmt.Fprintf(w, "\ntimeouts   %d\n", r.Timeouts)
	fmt.Fprintf(w, "latency    p50 %s  p90 %s  p99 %s  max %s\n", fmtUs(r.P50us), fmtUs(r.P90us), fmtUs(r.P99us), fmtUs(r.MaxUs))
}
