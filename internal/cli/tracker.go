package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/internal/tracker/httptracker"
	"github.com/gale-bt/gale/internal/tracker/udptracker"
)

func init() {
	register(&command{
		name:    "tracker",
		summary: "run a BitTorrent tracker (HTTP and UDP)",
		usage:   "gale tracker [flags]",
		help: `Run a standalone BitTorrent tracker: HTTP announce and scrape (BEP 3, 23, 7,
24, 48) and UDP (BEP 15, 41), open or restricted by info hash lists.

Each address given with --http or --udp is served; give the flag several
times for several addresses (IPv4 and IPv6), or an empty value to turn that
protocol off. Port 0 picks a free port. For every bound address a line
"listening http ADDR" or "listening udp ADDR" is printed on stderr.

--whitelist and --blacklist name files of info hashes in hex, one per line
('#' comments allowed). They are read again on SIGHUP and whenever they
change. Without either list the tracker is open.

With --state FILE the swarms are saved atomically every few minutes and on
exit, and loaded at start, so a restart keeps every peer.

The HTTP listener also serves / (statistics), /stats.json and /metrics
(Prometheus). Durations accept Go syntax (30m, 1h30m) or plain seconds.

--config FILE reads a TOML file whose keys are the flag names ("http",
"min-interval", ...); flags on the command line win. The file may also set
full-scrape (bool), tracker-id, state-interval, max-swarms and
max-peers-per-swarm.`,
		flags: func() *flag.FlagSet { fs, _ := trackerFlags(defaultTrackerSettings()); return fs },
		run:   runTracker,
	})
}

// trackerSettings are the tracker's settings, from defaults, a TOML file
// and flags, in that order.
type trackerSettings struct {
	HTTP           addrList `toml:"http"`
	UDP            addrList `toml:"udp"`
	Whitelist      string   `toml:"whitelist"`
	Blacklist      string   `toml:"blacklist"`
	State          string   `toml:"state"`
	Interval       seconds  `toml:"interval"`
	MinInterval    seconds  `toml:"min-interval"`
	NumWantDefault int      `toml:"numwant-default"`
	NumWantMax     int      `toml:"numwant-max"`
	PeerTTL        seconds  `toml:"peer-ttl"`
	TrustedProxy   addrList `toml:"trusted-proxy"`
	Config         string   `toml:"-"`
	LogFormat      string   `toml:"log-format"`
	AccessLog      bool     `toml:"access-log"`
	FullScrape     bool     `toml:"full-scrape"`
	TrackerID      string   `toml:"tracker-id"`
	StateInterval  seconds  `toml:"state-interval"`
	MaxSwarms      int      `toml:"max-swarms"`
	MaxPeers       int      `toml:"max-peers-per-swarm"`
}

func defaultTrackerSettings() *trackerSettings {
	return &trackerSettings{
		HTTP:           addrList{vals: []string{":6969"}},
		UDP:            addrList{vals: []string{":6969"}},
		Interval:       seconds(tracker.DefaultInterval),
		MinInterval:    seconds(tracker.DefaultInterval / 2),
		NumWantDefault: tracker.DefaultNumWant,
		NumWantMax:     tracker.DefaultNumWantMax,
		PeerTTL:        seconds(tracker.DefaultInterval * 3 / 2),
		LogFormat:      "text",
		StateInterval:  seconds(tracker.DefaultStateInterval),
	}
}

// trackerFlags defines the flags over s, with s's current values as
// defaults.
func trackerFlags(s *trackerSettings) (*flag.FlagSet, *trackerSettings) {
	fs := newFlagSet("tracker")
	s.HTTP.fresh, s.UDP.fresh, s.TrustedProxy.fresh = true, true, true
	fs.Var(&s.HTTP, "http", "serve HTTP on `ADDR` (repeatable; empty: no HTTP)")
	fs.Var(&s.UDP, "udp", "serve UDP on `ADDR` (repeatable; empty: no UDP)")
	fs.StringVar(&s.Whitelist, "whitelist", s.Whitelist, "track only the info hashes in `FILE`")
	fs.StringVar(&s.Blacklist, "blacklist", s.Blacklist, "never track the info hashes in `FILE`")
	fs.StringVar(&s.State, "state", s.State, "save and restore the swarms in `FILE`")
	fs.Var(&s.Interval, "interval", "tell clients to announce every `DURATION` (or seconds)")
	fs.Var(&s.MinInterval, "min-interval", "tell clients not to announce more often than every `DURATION`")
	fs.IntVar(&s.NumWantDefault, "numwant-default", s.NumWantDefault, "send `N` peers when the client does not say")
	fs.IntVar(&s.NumWantMax, "numwant-max", s.NumWantMax, "send at most `N` peers")
	fs.Var(&s.PeerTTL, "peer-ttl", "forget peers silent for `DURATION`")
	fs.Var(&s.TrustedProxy, "trusted-proxy", "believe X-Forwarded-For and X-Real-IP from `CIDR` (repeatable)")
	fs.StringVar(&s.Config, "config", s.Config, "read settings from the TOML `FILE` (flags win)")
	fs.StringVar(&s.LogFormat, "log-format", s.LogFormat, "log `FORMAT`: text or json")
	fs.BoolVar(&s.AccessLog, "access-log", s.AccessLog, "log one line per request")
	return fs, s
}

// addrList is a repeatable address flag. The first Set replaces the
// default (or the config file's list); an empty value adds nothing, so
// --http "" turns HTTP off.
type addrList struct {
	vals  []string
	fresh bool
}

func (a *addrList) String() string {
	if a == nil {
		return ""
	}
	return strings.Join(a.vals, ",")
}

func (a *addrList) Set(v string) error {
	if a.fresh {
		a.vals, a.fresh = nil, false
	}
	if v = strings.TrimSpace(v); v != "" {
		a.vals = append(a.vals, v)
	}
	return nil
}

// UnmarshalTOML accepts a string or an array of strings.
func (a *addrList) UnmarshalTOML(v any) error {
	a.vals = nil
	switch v := v.(type) {
	case string:
		if v != "" {
			a.vals = []string{v}
		}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return fmt.Errorf("want strings, got %T", x)
			}
			if s != "" {
				a.vals = append(a.vals, s)
			}
		}
	default:
		return fmt.Errorf("want a string or an array of strings, got %T", v)
	}
	return nil
}

// seconds is a duration flag that also accepts plain seconds.
type seconds time.Duration

func (d *seconds) String() string {
	if d == nil {
		return "0s"
	}
	return time.Duration(*d).String()
}

func (d *seconds) Set(v string) error {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		*d = seconds(time.Duration(n) * time.Second)
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("invalid duration %q (use 30m, 1h or seconds)", v)
	}
	*d = seconds(x)
	return nil
}

// UnmarshalTOML accepts "30m" or a number of seconds.
func (d *seconds) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		return d.Set(v)
	case int64:
		if v < 0 {
			return fmt.Errorf("negative duration %d", v)
		}
		*d = seconds(time.Duration(v) * time.Second)
		return nil
	}
	return fmt.Errorf("want a duration string or seconds, got %T", v)
}

// loadTrackerSettings combines defaults, --config and flags.
func loadTrackerSettings(args []string) (*trackerSettings, error) {
	// First pass only finds --config.
	fs, s := trackerFlags(defaultTrackerSettings())
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usagef("unexpected argument %q", pos[0])
	}
	s = defaultTrackerSettings()
	if fs.Lookup("config").Value.String() != "" {
		path := fs.Lookup("config").Value.String()
		md, err := toml.DecodeFile(path, s)
		if err != nil {
			return nil, fmt.Errorf("config %s: %v", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("config %s: unknown setting %q", path, und[0].String())
		}
	}
	fs, s = trackerFlags(s)
	if _, err := parseInterspersed(fs, args); err != nil {
		return nil, err
	}
	return s, s.validate()
}

func (s *trackerSettings) validate() error {
	switch s.LogFormat {
	case "text", "json":
	default:
		return usagef("--log-format must be text or json, not %q", s.LogFormat)
	}
	if len(s.HTTP.vals) == 0 && len(s.UDP.vals) == 0 {
		return usagef("nothing to serve: both --http and --udp are off")
	}
	switch {
	case s.Interval < seconds(time.Second):
		return usagef("--interval must be at least 1s")
	case s.MinInterval < 0 || s.MinInterval > s.Interval:
		return usagef("--min-interval must be between 0 and --interval")
	case s.PeerTTL < seconds(time.Second):
		return usagef("--peer-ttl must be at least 1s")
	case s.NumWantMax < 1 || s.NumWantMax > 10000:
		return usagef("--numwant-max must be between 1 and 10000")
	case s.NumWantDefault < 0 || s.NumWantDefault > s.NumWantMax:
		return usagef("--numwant-default must be between 0 and --numwant-max")
	case s.StateInterval < seconds(time.Second):
		return usagef("state-interval must be at least 1s")
	}
	if _, err := s.proxies(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func (s *trackerSettings) proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range s.TrustedProxy.vals {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy %q: want a CIDR or an address", v)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func runTracker(ctx context.Context, e *Env, args []string) error {
	s, err := loadTrackerSettings(args)
	if err != nil {
		return err
	}
	out := &lockedWriter{w: e.Stderr}
	var h slog.Handler = slog.NewTextHandler(out, nil)
	if s.LogFormat == "json" {
		h = slog.NewJSONHandler(out, nil)
	}
	log := slog.New(h)

	var policy tracker.Policy = tracker.Open{}
	var lists *tracker.ListPolicy
	if s.Whitelist != "" || s.Blacklist != "" {
		lists = &tracker.ListPolicy{WhitelistFile: s.Whitelist, BlacklistFile: s.Blacklist}
		if _, err := lists.Reload(true); err != nil {
			return err
		}
		w, b := lists.Counts()
		log.Info("lists loaded", "whitelist", w, "blacklist", b)
		policy = lists
	}
	proxies, _ := s.proxies()
	tr := tracker.New(tracker.Config{
		Interval:         time.Duration(s.Interval),
		MinInterval:      time.Duration(s.MinInterval),
		NumWantDefault:   s.NumWantDefault,
		NumWantMax:       s.NumWantMax,
		PeerTTL:          time.Duration(s.PeerTTL),
		Policy:           policy,
		MaxSwarms:        s.MaxSwarms,
		MaxPeersPerSwarm: s.MaxPeers,
		StateFile:        s.State,
		StateInterval:    time.Duration(s.StateInterval),
		Logger:           log,
	})
	if s.State != "" {
		info, err := tr.LoadStateFile(s.State)
		if err != nil {
			return err
		}
		log.Info("state loaded", "file", s.State, "swarms", info.Swarms, "peers", info.Peers, "expired", info.Dropped, "duration", info.Duration)
	}

	// Bind everything before serving anything, so a bad address fails
	// the command at once.
	lns, err := bindListeners(s.HTTP.vals, s.UDP.vals)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Catch SIGHUP before announcing the listeners, so that a HUP sent
	// once they are printed never hits the default action (which would
	// end the process without saving the state). Without lists a HUP
	// only says so in the log.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hcfg := httptracker.Config{Tracker: tr, Logger: log, TrustedProxies: proxies, TrackerID: s.TrackerID, FullScrape: s.FullScrape}
	ucfg := udptracker.Config{Tracker: tr, Logger: log}
	if s.AccessLog {
		hcfg.AccessLog, ucfg.AccessLog = accessLoggers(out, log, s.LogFormat == "json")
	}
	hsrv, usrv := httptracker.New(hcfg), udptracker.New(ucfg)

	runDone := make(chan error, 1)
	go func() { runDone <- tr.Run(ctx) }()
	var wg sync.WaitGroup
	wg.Add(1)
	if lists != nil {
		go func() { defer wg.Done(); watchLists(ctx, lists, log, hup) }()
	} else {
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					log.Info("SIGHUP: no whitelist or blacklist to reload")
				}
			}
		}()
	}
	serveErr := lns.serve(ctx, out, hsrv, usrv)
	cancel()
	wg.Wait()
	stateErr := <-runDone
	log.Info("tracker stopped")
	return errors.Join(serveErr, stateErr)
}

// listPollInterval is how often the list files are checked for changes.
var listPollInterval = 2 * time.Second

// watchLists reloads the lists on SIGHUP (always) and every
// listPollInterval when a file changed.
func watchLists(ctx context.Context, p *tracker.ListPolicy, log *slog.Logger, hup <-chan os.Signal) {
	tick := time.NewTicker(listPollInterval)
	defer tick.Stop()
	for {
		force := false
		select {
		case <-ctx.Done():
			return
		case <-hup:
			force = true
		case <-tick.C:
		}
		changed, err := p.Reload(force)
		if err != nil {
			log.Error("reloading lists failed; keeping the previous ones", "err", err)
			continue
		}
		if changed {
			w, b := p.Counts()
			log.Info("lists reloaded", "whitelist", w, "blacklist", b, "signal", force)
		}
	}
}

// lockedWriter serializes writes from many goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// accessLoggers returns the access log callbacks: Common Log Format lines
// (as bttrack printed them) in text mode, JSON records otherwise.
func accessLoggers(w io.Writer, log *slog.Logger, json bool) (func(httptracker.Access), func(udptracker.Access)) {
	if json {
		return func(a httptracker.Access) {
				log.Info("access", "proto", "http", "remote", a.Remote.String(), "client", a.Client.String(),
					"method", a.Method, "target", a.Target, "status", a.Status, "bytes", a.Bytes,
					"outcome", a.Outcome.String(), "message", a.Message, "user_agent", a.UserAgent, "duration", a.Duration)
			}, func(a udptracker.Access) {
				log.Info("access", "proto", "udp", "remote", a.Remote.String(), "action", a.Action.String(),
					"info_hash", a.InfoHash.String(), "event", a.Event.String(), "outcome", a.Outcome.String(),
					"message", a.Message, "duration", a.Duration)
			}
	}
	return func(a httptracker.Access) {
			fmt.Fprintf(w, "%s - - [%s] %q %d %d \"-\" %q %.6f\n", a.Client, a.Time.Format("02/Jan/2006:15:04:05 -0700"),
				a.Method+" "+a.Target+" "+a.Proto, a.Status, a.Bytes, a.UserAgent, a.Duration.Seconds())
		}, func(a udptracker.Access) {
			what := a.Action.String()
			if a.Action == tracker.ActionAnnounce {
				what += " " + a.InfoHash.String() + " " + a.Event.String()
			}
			fmt.Fprintf(w, "%s - - [%s] \"UDP %s\" %s %q %.6f\n", a.Remote.Addr().Unmap(), time.Now().Format("02/Jan/2006:15:04:05 -0700"),
				what, a.Outcome.String(), a.Message, a.Duration.Seconds())
		}
}
