package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/catalog/web"
	"github.com/gale-bt/gale/internal/tracker"
)

// serveSettings are the settings of `gale serve` and of the admin
// commands (`gale user`, `gale torrent`) on the same site: defaults, then
// the TOML file of --config, then the flags.
type serveSettings struct {
	Data   string   `toml:"data"`
	DB     string   `toml:"db"`
	HTTP   addrList `toml:"http"`
	UDP    addrList `toml:"udp"`
	Config string   `toml:"-"`

	SiteName     string   `toml:"site-name"`
	SiteURL      string   `toml:"site-url"`
	AnnounceURLs []string `toml:"announce-urls"`
	// AnnounceKeyForm is "query" (BASE/announce?passkey=KEY), "path"
	// (XBT's BASE/KEY/announce) or "" (unset: see announceKeyForm).
	AnnounceKeyForm string `toml:"announce-key-form"`

	Interval       seconds `toml:"interval"`
	MinInterval    seconds `toml:"min-interval"`
	PeerTTL        seconds `toml:"peer-ttl"`
	NumWantDefault int     `toml:"numwant-default"`
	NumWantMax     int     `toml:"numwant-max"`
	MaxSwarms      int     `toml:"max-swarms"`
	MaxPeers       int     `toml:"max-peers-per-swarm"`
	State          string  `toml:"state"`
	StateInterval  seconds `toml:"state-interval"`

	// IdleWrite is privtracker.Config.IdleWrite (see idleWrite).
	IdleWrite idleWrite `toml:"idle-write"`

	SecureCookies bool      `toml:"secure-cookies"`
	TrustedProxy  addrList  `toml:"trusted-proxy"`
	MaxUploadSize tomlSize  `toml:"max-upload-size"`
	SessionTTL    seconds   `toml:"session-ttl"`
	FlagRate      *tomlSize `toml:"flag-rate"`

	LogFormat string `toml:"log-format"`
	AccessLog bool   `toml:"access-log"`

	stateSet bool // State was given (an empty one turns state files off)
}

// Defaults of `gale serve`.
const (
	defaultDataDir   = "gale-data"
	defaultServeHTTP = ":8080"
	defaultServeUDP  = ":6969"
	databaseFile     = "gale.db"
	stateFile        = "tracker.state"
	runtimeFile      = "serve.json"
)

func defaultServeSettings() *serveSettings {
	return &serveSettings{
		Data:           defaultDataDir,
		HTTP:           addrList{vals: []string{defaultServeHTTP}},
		UDP:            addrList{vals: []string{defaultServeUDP}},
		Interval:       seconds(tracker.DefaultInterval),
		NumWantDefault: tracker.DefaultNumWant,
		NumWantMax:     tracker.DefaultNumWantMax,
		StateInterval:  seconds(tracker.DefaultStateInterval),
		LogFormat:      "text",
	}
}

// tomlSize is a byte count: a number, or a string with a unit ("8MiB").
type tomlSize int64

// UnmarshalTOML accepts 1048576 or "1MiB".
func (z *tomlSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return fmt.Errorf("negative size %d", v)
		}
		*z = tomlSize(v)
		return nil
	case string:
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*z = tomlSize(n)
		return nil
	}
	return fmt.Errorf("want a size (bytes, or a string such as \"8MiB\"), got %T", v)
}

// siteFlags defines the flags every site command shares over s.
func siteFlags(fs *flag.FlagSet, s *serveSettings) {
	fs.StringVar(&s.Data, "data", s.Data, "keep the database, tracker state and settings in `DIR`")
	fs.StringVar(&s.DB, "db", s.DB, "database `URL`: a SQLite file path or postgres://... (default DIR/"+databaseFile+")")
	fs.StringVar(&s.Config, "config", s.Config, "read settings from the TOML `FILE` (flags win)")
}

// serveFlags defines the flags of `gale serve` over s.
func serveFlags(s *serveSettings) *flag.FlagSet {
	fs := newFlagSet("serve")
	s.HTTP.fresh, s.UDP.fresh = true, true
	siteFlags(fs, s)
	fs.Var(&s.HTTP, "http", "serve the site and HTTP announces on `ADDR` (repeatable)")
	fs.Var(&s.UDP, "udp", "serve UDP announces on `ADDR` (repeatable; empty: no UDP)")
	return fs
}

// loadSiteSettings combines defaults, the --config file and the flags that
// define defines over args, and returns the positional arguments.
func loadSiteSettings(args []string, define func(*serveSettings) *flag.FlagSet) (*serveSettings, []string, error) {
	// The first pass only finds --config.
	fs := define(defaultServeSettings())
	if _, err := parseInterspersed(fs, args); err != nil {
		return nil, nil, err
	}
	s := defaultServeSettings()
	if path := fs.Lookup("config").Value.String(); path != "" {
		md, err := toml.DecodeFile(path, s)
		if err != nil {
			return nil, nil, fmt.Errorf("config %s: %v", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, nil, fmt.Errorf("config %s: unknown setting %q", path, und[0].String())
		}
		s.stateSet = md.IsDefined("state")
	}
	fs = define(s)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if !s.stateSet {
		s.State = filepath.Join(s.Data, stateFile)
	}
	return s, pos, s.validate()
}

func (s *serveSettings) validate() error {
	switch s.LogFormat {
	case "text", "json":
	default:
		return usagef("log-format must be text or json, not %q", s.LogFormat)
	}
	switch {
	case s.Data == "":
		return usagef("--data must name a directory")
	case s.Interval < seconds(time.Second):
		return usagef("interval must be at least 1s")
	case s.MinInterval < 0 || s.MinInterval > s.Interval:
		return usagef("min-interval must be between 0 and interval")
	case s.PeerTTL != 0 && s.PeerTTL < seconds(time.Second):
		return usagef("peer-ttl must be at least 1s")
	case s.NumWantMax < 1 || s.NumWantMax > 10000:
		return usagef("numwant-max must be between 1 and 10000")
	case s.NumWantDefault < 0 || s.NumWantDefault > s.NumWantMax:
		return usagef("numwant-default must be between 0 and numwant-max")
	case s.StateInterval < seconds(time.Second):
		return usagef("state-interval must be at least 1s")
	case s.MaxSwarms < 0 || s.MaxPeers < 0:
		return usagef("max-swarms and max-peers-per-swarm must not be negative")
	case s.SessionTTL < 0:
		return usagef("session-ttl must not be negative")
	}
	if s.SiteURL != "" {
		if err := checkBaseURL(s.SiteURL, "http", "https"); err != nil {
			return usagef("site-url: %v", err)
		}
	}
	for _, a := range s.AnnounceURLs {
		if err := checkBaseURL(a, "http", "https", "udp"); err != nil {
			return usagef("announce-urls: %v", err)
		}
	}
	if _, err := web.ParseKeyForm(s.AnnounceKeyForm); err != nil {
		return usagef("announce-key-form: %v", err)
	}
	if _, err := parseProxies(s.TrustedProxy.vals); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// checkBaseURL checks a configured base URL: one of the schemes, a host,
// no user, query or fragment.
func checkBaseURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q: want %s://host[:port][/path]", s, strings.Join(schemes, "|"))
	}
	return nil
}

// parseProxies parses trusted proxy CIDRs or addresses.
func parseProxies(vals []string) ([]netip.Prefix, error) {
	s := trackerSettings{TrustedProxy: addrList{vals: vals}}
	return s.proxies()
}

// peerTTL is the effective peer TTL (the tracker's default when unset).
func (s *serveSettings) peerTTL() time.Duration {
	if s.PeerTTL > 0 {
		return time.Duration(s.PeerTTL)
	}
	return time.Duration(s.Interval) * 3 / 2
}

// dsn returns the database to open: --db, or the SQLite file in the data
// directory.
func (s *serveSettings) dsn() string {
	if s.DB != "" {
		return s.DB
	}
	return filepath.Join(s.Data, databaseFile)
}

// isPostgres reports whether dsn names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// sqlitePath returns the file of a SQLite dsn.
func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "sqlite://")
	if p == dsn {
		p = strings.TrimPrefix(dsn, "sqlite:")
	}
	return p
}

// openStore opens the site's catalog. With create false (the admin
// commands) a SQLite database must exist already, so that a mistyped
// --data does not quietly start an empty site.
func (s *serveSettings) openStore(ctx context.Context, log *slog.Logger, create bool) (*sqlstore.Store, error) {
	dsn := s.dsn()
	switch {
	case isPostgres(dsn):
	case create:
		if err := os.MkdirAll(filepath.Dir(sqlitePath(dsn)), 0o700); err != nil {
			return nil, err
		}
	default:
		if _, err := os.Stat(sqlitePath(dsn)); err != nil {
			return nil, fmt.Errorf("no gale database at %s (start 'gale serve --data %s' once, or give --db): %v",
				sqlitePath(dsn), s.Data, errors.Unwrap(err))
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return sqlstore.Open(ctx, dsn, sqlstore.Options{Logger: log, PeerTTL: s.peerTTL()})
}

// runtimeInfo is what a running `gale serve` writes to DATA/serve.json, so
// that the admin commands hand out the same announce URLs as the site.
type runtimeInfo struct {
	SiteURL      string   `json:"site_url"`
	AnnounceURLs []string `json:"announce_urls"`
	// AnnounceKeyForm is the key form of the personal URLs ("query" or
	// "path"; empty in files of older versions: "query").
	AnnounceKeyForm string    `json:"announce_key_form,omitempty"`
	HTTP            []string  `json:"http"`
	UDP             []string  `json:"udp"`
	PID             int       `json:"pid"`
	Started         time.Time `json:"started"`
}

func (s *serveSettings) writeRuntime(ri *runtimeInfo) error {
	b, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.Data, runtimeFile), append(b, '\n'), 0o600)
}

// announceBases returns the tracker base URLs personal .torrent files
// announce to: announce-urls from the config, else those the last `gale
// serve` on this data directory used.
func (s *serveSettings) announceBases() ([]string, error) {
	if len(s.AnnounceURLs) > 0 {
		return s.AnnounceURLs, nil
	}
	ri, name, err := s.readRuntime()
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return nil, fmt.Errorf("cannot tell the tracker's announce URLs: set announce-urls in the config, or start 'gale serve --data %s' once (%v)", s.Data, errors.Unwrap(err))
	}
	if err != nil || len(ri.AnnounceURLs) == 0 {
		return nil, fmt.Errorf("%s: no announce URLs in it (%v)", name, err)
	}
	return ri.AnnounceURLs, nil
}

// announceKeyForm returns where personal announce URLs carry the key:
// announce-key-form from the config, else the form the last `gale serve`
// on this data directory used, else XBT's path form (web.KeyInPath).
func (s *serveSettings) announceKeyForm() web.KeyForm {
	form := s.AnnounceKeyForm
	if form == "" {
		if ri, _, err := s.readRuntime(); err == nil {
			form = ri.AnnounceKeyForm
		}
	}
	f, err := web.ParseKeyForm(form)
	if err != nil {
		return web.KeyInPath
	}
	return f
}

// configKeyForm returns announce-key-form as configured, web.KeyInPath
// by default: what `gale serve` hands out.
func (s *serveSettings) configKeyForm() web.KeyForm {
	f, err := web.ParseKeyForm(s.AnnounceKeyForm)
	if err != nil { // validate refuses it
		return web.KeyInPath
	}
	return f
}

// readRuntime reads DATA/serve.json and returns it with its name.
func (s *serveSettings) readRuntime() (*runtimeInfo, string, error) {
	name := filepath.Join(s.Data, runtimeFile)
	f, err := os.Open(name)
	if err != nil {
		return nil, name, err
	}
	defer f.Close()
	var ri runtimeInfo
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&ri); err != nil {
		return nil, name, err
	}
	return &ri, name, nil
}

// siteBases returns the site URL and the announce base URLs for the bound
// listeners: site-url, else http://HOST:PORT of the first HTTP listener
// (localhost for a wildcard address); announce-urls, else the site URL
// and udp://HOST:PORT of the first UDP listener with the site's host.
func (s *serveSettings) siteBases(httpAddr, udpAddr net.Addr) (site string, announce []string) {
	site = strings.TrimRight(s.SiteURL, "/")
	if site == "" {
		site = "http://" + reachableHostPort(httpAddr)
	}
	if len(s.AnnounceURLs) > 0 {
		return site, s.AnnounceURLs
	}
	announce = []string{site}
	if udpAddr != nil {
		host := "localhost"
		if u, err := url.Parse(site); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
		_, port, _ := net.SplitHostPort(udpAddr.String())
		announce = append(announce, "udp://"+net.JoinHostPort(host, port))
	}
	return site, announce
}

// reachableHostPort returns addr as host:port, with "localhost" for a
// wildcard address.
func reachableHostPort(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ap.Addr().IsUnspecified() {
		return net.JoinHostPort("localhost", fmt.Sprint(ap.Port()))
	}
	return net.JoinHostPort(ap.Addr().Unmap().String(), fmt.Sprint(ap.Port()))
}

// idleWrite is the idle-write setting: how long the accounting may hold
// back announces that only add seeding or leeching time
// (privtracker.Config.IdleWrite). A duration ("30s", or a number of
// seconds); "0" or "off" writes every announce at the next flush; unset,
// the private tracker's default.
type idleWrite struct {
	set bool
	d   time.Duration // 0 when set: off
}

// UnmarshalTOML accepts "30s", 30, "0" or "off".
func (w *idleWrite) UnmarshalTOML(v any) error {
	var d seconds
	switch v := v.(type) {
	case string:
		if strings.EqualFold(strings.TrimSpace(v), "off") {
			*w = idleWrite{set: true}
			return nil
		}
		if err := d.Set(v); err != nil {
			return err
		}
	case int64:
		if v < 0 || v > int64(time.Duration(1<<63-1)/time.Second) {
			return fmt.Errorf("duration %d seconds out of range", v)
		}
		d = seconds(time.Duration(v) * time.Second)
	default:
		return fmt.Errorf("want a duration such as \"30s\", or \"off\", got %T", v)
	}
	if d < 0 {
		return fmt.Errorf("negative duration %v", time.Duration(d))
	}
	*w = idleWrite{set: true, d: time.Duration(d)}
	return nil
}

// config returns the value for privtracker.Config.IdleWrite: 0 (the
// default) when unset, negative when off.
func (w idleWrite) config() time.Duration {
	switch {
	case !w.set:
		return 0
	case w.d == 0:
		return -1
	}
	return w.d
}
