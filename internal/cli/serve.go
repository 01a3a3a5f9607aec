package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gale-bt/gale/internal/catalog"
	"github.com/gale-bt/gale/internal/catalog/privtracker"
	"github.com/gale-bt/gale/internal/catalog/sqlstore"
	"github.com/gale-bt/gale/internal/catalog/web"
	"github.com/gale-bt/gale/internal/tracker"
	"github.com/gale-bt/gale/internal/tracker/httptracker"
	"github.com/gale-bt/gale/internal/tracker/udptracker"
)

func init() {
	register(&command{
		name:    "serve",
		summary: "run a private tracker with its catalog website and JSON API",
		usage:   "gale serve [--data DIR] [--http ADDR] [--udp ADDR] [--config FILE] [--db URL]",
		help: `Run a private BitTorrent tracker and its catalog website in one process: the
tracker engine of 'gale tracker' in private mode (personal announce keys,
rights per group and category, per-user accounting) and a website and JSON
API for accounts, uploads, search and personal .torrent downloads, on an
embedded SQLite database. Nothing else needs installing.

The first run creates the data directory (--data, default ./gale-data) and
the database in it. As long as the site has no administrator, each start
prints a one-time link that creates the first one (valid for 24 hours).

--http ADDR (default :8080) serves the site, the JSON API and HTTP announces
on one listener; --udp ADDR (default :6969) serves UDP announces, whose key
travels in BEP 41 URL data. Repeat either for several addresses; --udp ""
turns UDP off. For every bound address a line "listening http ADDR" or
"listening udp ADDR" is printed on stderr; the site URL and the
administrator link go to stdout.

Personal announce URLs carry the user's key as XBT's do, BASE/KEY/announce
(a site that computes XBT's URLs hands out the same ones). libtorrent 2.x
clients (qBittorrent, Deluge) refuse that form over HTTP for a tracker on
localhost (SSRF mitigation) and use the UDP URL there;
announce-key-form = "query" hands out BASE/announce?passkey=KEY, which they
accept everywhere. The tracker reads every form, and BASE/announce/KEY.

--db URL selects the database: a SQLite file (default DIR/gale.db) or a
PostgreSQL URL (postgres://user@host/db?sslmode=disable).

--config FILE reads a TOML file for everything else (flags win):
  site-name = "My tracker"          the name shown and set as 'source' in torrents
  site-url = "https://example.org"  the site's public URL (default: from the
                                    first --http address, localhost for :PORT)
  announce-urls = ["https://example.org", "udp://example.org:6969"]
                                    tracker bases in personal .torrent files
                                    (default: site-url and the first --udp port)
  announce-key-form = "path"        personal URLs BASE/KEY/announce (XBT's, the
                                    default; libtorrent 2.x refuses it over HTTP
                                    for a tracker on loopback); "query":
                                    BASE/announce?passkey=KEY
  interval = "30m", min-interval, peer-ttl (default 1.5 x interval)
  numwant-default, numwant-max, max-swarms, max-peers-per-swarm
  state = "FILE"                    swarms saved here and reloaded on start
                                    (default DIR/tracker.state; "" turns it off)
  state-interval = "5m"
  idle-write = "30s"                announces that only add seeding or leeching
                                    time are written at most this often per
                                    peer (at most interval/2; "off": every
                                    announce at the next flush, each second)
  secure-cookies = true             the site is served over HTTPS
  trusted-proxy = ["10.0.0.0/8"]    believe X-Forwarded-For from these
  max-upload-size = "8MiB", session-ttl = "720h"
  flag-rate = "100MiB"              flag accounting deltas faster than this
                                    per second for moderators (0: never)
  log-format = "text" or "json", access-log = true
  data, db, http, udp               as the flags

Users and torrents can also be managed from the command line on the same
data directory, while the server runs: see 'gale help user' and 'gale help
torrent'. Their changes reach the tracker within a second.

SIGINT or SIGTERM stop the server: accounting is flushed to the database and
the swarms are saved to the state file, so a restart loses no peer.`,
		flags: func() *flag.FlagSet { return serveFlags(defaultServeSettings()) },
		run:   runServe,
	})
}

func runServe(ctx context.Context, e *Env, args []string) error {
	s, pos, err := loadSiteSettings(args, serveFlags)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if len(s.HTTP.vals) == 0 {
		return usagef("the site needs an HTTP address (--http)")
	}
	out := &lockedWriter{w: e.Stderr}
	sv := &siteServer{s: s, log: newLogger(out, s.LogFormat), logw: out, stdout: e.Stdout}
	return sv.Run(ctx)
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// siteServer is `gale serve`: the catalog, the private tracker engine and
// its frontends, and the website.
type siteServer struct {
	s      *serveSettings
	log    *slog.Logger
	logw   io.Writer // "listening" lines and access logs
	stdout io.Writer // the site URL and the administrator link
}

// Run serves until ctx is done, then stops the listeners, flushes the
// accounting and saves the swarms.
func (sv *siteServer) Run(ctx context.Context) error {
	s, log := sv.s, sv.log
	if err := os.MkdirAll(s.Data, 0o700); err != nil {
		return err
	}
	store, err := s.openStore(ctx, log, true)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := sv.applySettings(ctx, store); err != nil {
		return err
	}
	priv := privtracker.New(store, privtracker.Config{Logger: log, PeerTTL: s.peerTTL(), MaxGap: 2 * time.Duration(s.Interval),
		IdleWrite: s.IdleWrite.config()})
	if err := priv.Load(ctx); err != nil {
		return fmt.Errorf("reading the catalog: %w", err)
	}
	trk := tracker.New(tracker.Config{
		Interval:         time.Duration(s.Interval),
		MinInterval:      time.Duration(s.MinInterval),
		NumWantDefault:   s.NumWantDefault,
		NumWantMax:       s.NumWantMax,
		PeerTTL:          s.peerTTL(),
		Policy:           priv,
		Accounting:       priv,
		MaxSwarms:        s.MaxSwarms,
		MaxPeersPerSwarm: s.MaxPeers,
		StateFile:        s.State,
		StateInterval:    time.Duration(s.StateInterval),
		Logger:           log,
	})
	if s.State != "" {
		info, err := trk.LoadStateFile(s.State)
		if err != nil {
			return err
		}
		log.Info("state loaded", "file", s.State, "swarms", info.Swarms, "peers", info.Peers, "expired", info.Dropped)
	}
	priv.SetAliaser(trk)

	lns, err := bindListeners(s.HTTP.vals, s.UDP.vals)
	if err != nil {
		return err
	}
	var udpAddr net.Addr
	if len(lns.udp) > 0 {
		udpAddr = lns.udp[0].LocalAddr()
	}
	site, bases := s.siteBases(lns.http[0].Addr(), udpAddr)
	if s.SiteURL == "" && strings.Contains(site, "://localhost:") {
		log.Warn("site-url is not set: personal .torrent files announce to localhost; set site-url (or announce-urls) in the config so that other machines can reach the tracker", "announce", strings.Join(bases, " "))
	}
	proxies, _ := parseProxies(s.TrustedProxy.vals)
	keyForm := s.configKeyForm()
	ws, err := web.New(web.Config{
		Catalog: store, Tracker: engineStats{trk}, Logger: log,
		SiteURL: s.SiteURL, AnnounceURLs: bases, AnnounceKeyForm: keyForm,
		SecureCookies: s.SecureCookies, MaxUploadSize: int64(s.MaxUploadSize), SessionTTL: time.Duration(s.SessionTTL),
		TrustedProxies: proxies,
	})
	if err != nil {
		lns.close()
		return err
	}
	udpSecret, err := loadSecret(filepath.Join(s.Data, udpSecretFile))
	if err != nil {
		lns.close()
		return err
	}
	hcfg := httptracker.Config{Tracker: trk, Logger: log, TrustedProxies: proxies, Handler: siteHandler(ws, trk, priv)}
	ucfg := udptracker.Config{Tracker: trk, Logger: log, Secret: udpSecret}
	if s.AccessLog {
		h, u := accessLoggers(sv.logw, log, s.LogFormat == "json")
		hcfg.AccessLog = func(a httptracker.Access) { a.Target = redactTarget(a.Action, a.Target); h(a) }
		ucfg.AccessLog = u
	}
	hsrv, usrv := httptracker.New(hcfg), udptracker.New(ucfg)

	ri := &runtimeInfo{SiteURL: site, AnnounceURLs: bases, AnnounceKeyForm: string(keyForm), PID: os.Getpid(), Started: time.Now().UTC()}
	for _, ln := range lns.http {
		ri.HTTP = append(ri.HTTP, ln.Addr().String())
	}
	for _, pc := range lns.udp {
		ri.UDP = append(ri.UDP, pc.LocalAddr().String())
	}
	if err := s.writeRuntime(ri); err != nil {
		lns.close()
		return err
	}
	link, err := ws.BootstrapLink(ctx, 0)
	if err != nil {
		lns.close()
		return fmt.Errorf("creating the administrator link: %w", err)
	}
	fmt.Fprintf(sv.stdout, "gale serve: site %s\n", site)
	if link != "" {
		if strings.HasPrefix(link, "/") {
			link = site + link
		}
		fmt.Fprintf(sv.stdout, "Create the first administrator with this one-time link (valid for 24 hours):\n%s\n", link)
	}
	log.Info("serving", "site", site, "database", dbLabel(s.dsn()), "data", s.Data)

	// The engine and the accounting outlive the listeners: once these
	// stopped, no announce is in flight and the final flush and state
	// save see everything.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	privDone, trkDone := make(chan error, 1), make(chan error, 1)
	go func() { privDone <- priv.Run(runCtx) }()
	go func() { trkDone <- trk.Run(runCtx) }()
	serveErr := lns.serve(ctx, sv.logw, hsrv, usrv)
	stopRun()
	flushErr, stateErr := <-privDone, <-trkDone
	st := priv.Stats()
	log.Info("server stopped", "announces_recorded", st.Recorded, "peer_updates_written", st.Written, "dropped", st.Dropped)
	return errors.Join(serveErr, flushErr, stateErr)
}

// udpSecretFile keeps the key of the UDP connection IDs (BEP 15), so that
// IDs handed out before a restart stay valid.
const udpSecretFile = "udp.secret"

// loadSecret reads a 32-byte secret from path, creating it on first use.
func loadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) == 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, writeFileAtomic(path, b, 0o600)
}

// applySettings writes site-name and flag-rate from the config into the
// catalog's settings when they differ (the admin page may change them
// until the next start).
func (sv *siteServer) applySettings(ctx context.Context, store *sqlstore.Store) error {
	sys := catalog.WithSystem(ctx)
	cur, err := store.Settings(sys)
	if err != nil {
		return err
	}
	var up catalog.SettingsUpdate
	changed := false
	if sv.s.SiteName != "" && sv.s.SiteName != cur.SiteName {
		up.SiteName, changed = &sv.s.SiteName, true
	}
	if sv.s.FlagRate != nil && int64(*sv.s.FlagRate) != cur.FlagRate {
		r := int64(*sv.s.FlagRate)
		up.FlagRate, changed = &r, true
	}
	if !changed {
		return nil
	}
	if _, err := store.UpdateSettings(sys, up); err != nil {
		return fmt.Errorf("config: %v", err)
	}
	return nil
}

// dbLabel names the database for logs without a password.
func dbLabel(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	if i := strings.Index(dsn, "@"); i >= 0 {
		scheme, _, _ := strings.Cut(dsn, "://")
		return scheme + "://...@" + dsn[i+1:]
	}
	return dsn
}

// redactTarget removes secrets from a site request's target for the
// access log: keys in paths (web.RedactPath) and every query (invite
// codes, searches). Announce targets come redacted from httptracker.
func redactTarget(a tracker.Action, target string) string {
	if a != tracker.ActionOther {
		return target
	}
	path, query, _ := strings.Cut(target, "?")
	path = web.RedactPath(path)
	if query != "" {
		path += "?..."
	}
	return path
}

// siteHandler serves the site, and the tracker's and accounting's
// Prometheus metrics at /metrics.
func siteHandler(ws *web.Server, trk *tracker.Tracker, priv *privtracker.Private) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			ws.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = trk.WritePrometheus(w)
		st := priv.Stats()
		for _, m := range []struct {
			name, typ, help string
			v               uint64
		}{
			{"gale_accounting_recorded_total", "counter", "Announces handed to the accounting.", st.Recorded},
			{"gale_accounting_dropped_total", "counter", "Announces dropped because the accounting queue was full.", st.Dropped},
			{"gale_accounting_unknown_total", "counter", "Announces of torrents no longer in the catalog.", st.Unknown},
			{"gale_accounting_flushes_total", "counter", "Accounting batches written.", st.Flushes},
			{"gale_accounting_flush_errors_total", "counter", "Accounting batches that failed (retried).", st.FlushErrors},
			{"gale_accounting_written_total", "counter", "Peer updates committed.", st.Written},
			{"gale_accounting_pending", "gauge", "Peers with unwritten announces.", uint64(st.Pending)},
		} {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", m.name, m.help, m.name, m.typ, m.name, m.v)
		}
	})
}

// engineStats shows the engine's live swarms on the site
// (web.TrackerStats), without the private policy's checks: the site
// decides who may see a torrent.
type engineStats struct{ t *tracker.Tracker }

func (e engineStats) Swarm(ih [20]byte) web.SwarmStats {
	st := e.t.Stats(ih)
	return web.SwarmStats{Seeders: st.Seeders, Leechers: st.Leechers, Completed: st.Completed}
}

func (e engineStats) Peers(ih [20]byte, limit int) []web.SwarmPeer {
	ps := e.t.Peers(ih, limit)
	out := make([]web.SwarmPeer, len(ps))
	for i, p := range ps {
		out[i] = web.SwarmPeer{PeerID: [20]byte(p.ID), Addr: netip.AddrPortFrom(p.Addr.Addr().Unmap(), p.Addr.Port()), Seeder: p.Seeder, LastSeen: p.LastSeen}
	}
	return out
}

func (e engineStats) Totals() web.TrackerTotals {
	x := e.t.Totals()
	return web.TrackerTotals{Swarms: x.Swarms, Seeders: x.Seeders4 + x.Seeders6, Leechers: x.Leechers4 + x.Leechers6, Completed: x.Completed}
}
