package servetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/gale-bt/gale/metainfo"
)

const chromiumPath = "/usr/bin/chromium"

// chromium returns the path of Debian's chromium, or skips (fails with
// GALE_REQUIRE_INTEROP=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{chromiumPath, "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	missing(t, "chromium not found (scripts/install-browser.sh, or apt-get install chromium)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns
// a tab's context. Only loopback URLs are ever opened.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	// Start the browser now with a context without a deadline (it lives as
	// long as the context of this first call); a watchdog bounds the wait.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting chromium: %v", err)
		}
	case <-time.After(30 * time.Second):
		bcancel()
		t.Fatal("chromium did not start within 30 s")
	}
	return bctx
}

// page runs browser actions with a time limit, failing the test with the
// step's name.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p page) do(step string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := p.try(timeout, actions...); err != nil {
		p.fail(step, err)
	}
}

// fail ends the test with what the browser shows (and keeps a screenshot
// with GALE_SERVETEST_ARTIFACTS).
func (p page) fail(step string, err error) {
	p.t.Helper()
	lctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(lctx, chromedp.Location())
	body, _ := chromedp.Run(lctx, chromedp.Text(chromedp.CSS("body")))
	if png, err := chromedp.Run(lctx, chromedp.FullScreenshot(90)); err == nil {
		path := filepath.Join(p.t.TempDir(), "failure.png")
		if os.WriteFile(path, png, 0o644) == nil {
			keepArtifact(p.t, path)
		}
	}
	if len(body) > 1500 {
		body = body[:1500] + "..."
	}
	p.t.Fatalf("%s: %v\n(at %s; page text: %s)", step, err, loc, body)
}

func (p page) try(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// get runs one action returning a value, with a time limit.
func get[T any](p page, step string, timeout time.Duration, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail(step, err)
	}
	return v
}

// text returns the trimmed text of the element matching sel.
func (p page) text(sel string) string {
	p.t.Helper()
	return strings.TrimSpace(get(p, "reading "+sel, 5*time.Second, chromedp.Text(chromedp.CSS(sel))))
}

// attr returns an attribute of the element matching sel.
func (p page) attr(sel, name string) string {
	p.t.Helper()
	r := get(p, "reading "+sel+"["+name+"]", 5*time.Second, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !r.Exists {
		p.t.Fatalf("%s has no attribute %s", sel, name)
	}
	return r.Value
}

// screenshot saves a full-page PNG into dir (and the artifact directory).
func (p page) screenshot(dir, name string) string {
	p.t.Helper()
	png := get(p, "screenshot "+name, 15*time.Second, chromedp.FullScreenshot(100))
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	keepArtifact(p.t, path)
	return path
}

// swarmNumbers reads seeders, leechers and completed on a torrent page.
func (p page) swarmNumbers() (seeders, leechers, completed int, err error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if err = chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#torrent"))); err != nil {
		return
	}
	var n [3]int
	for i, sel := range []string{"#torrent-seeders", "#torrent-leechers", "#torrent-completed"} {
		var s string
		if s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))); err != nil {
			return
		}
		if n[i], err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return
		}
	}
	return n[0], n[1], n[2], nil
}

// TestBrowserFlow: the first administrator signs up with the printed
// link, signs out and in, uploads a .torrent made with gale create, finds
// it by searching, opens its page and downloads the personal .torrent
// (private, personal announce URL). A python3-libtorrent client seeds with
// it while a second user (gale user add) downloads with theirs, and the
// torrent page (seeders, leechers, completed) and both profiles (uploaded,
// downloaded, snatches) show the numbers moving.
//
// It runs once per database of testDBs (subtests "sqlite" and, with
// GALE_TEST_POSTGRES, "postgres" on a fresh database), one after the
// other: each run starts its own server and browser.
func TestBrowserFlow(t *testing.T) {
	chromium(t)
	python(t)
	dbs := testDBs(t)
	for _, name := range []string{"sqlite", "postgres"} {
		db, ok := dbs[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) { browserFlow(t, db(t)) })
	}
}

// browserFlow is TestBrowserFlow on the database db (a --db URL, "" for
// SQLite in the data directory).
func browserFlow(t *testing.T, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	srv := startServerDB(t, "interval = 2\nmin-interval = 1\n", db)
	// The server says which database it serves from: make sure it is
	// the one this subtest is about.
	want := "/gale.db"
	if db != "" {
		u, err := url.Parse(db)
		if err != nil {
			t.Fatal(err)
		}
		want = u.Path
	}
	line, err := srv.p.waitLine(ctx, "the serving line", func(l string) bool { return strings.Contains(l, "msg=serving") })
	if err != nil || !strings.Contains(line, want) {
		t.Fatalf("gale serve does not serve from %q (%v): %q", want, err, line)
	}
	if srv.bootstrap == "" {
		t.Fatalf("gale serve printed no first-administrator link; output:\n%s", srv.log())
	}
	if u, err := url.Parse(srv.bootstrap); err != nil || u.Host != srv.http {
		t.Fatalf("bootstrap link %q does not point at the site %s", srv.bootstrap, srv.siteURL())
	}
	site := srv.siteURL()
	shots := t.TempDir()

	// Payload and a .torrent made with gale create.
	work := t.TempDir()
	const name = "galebrowserpayload.bin"
	payloadDir := filepath.Join(work, "seed")
	const size = 1<<20 + 4321
	payload := writePayload(t, filepath.Join(payloadDir, name), size, 42)
	torrentFile := createTorrent(t, filepath.Join(payloadDir, name), "16KiB")

	p := page{t, newBrowser(t, ctx)}
	const admin, adminPW = "admin", "correct horse battery staple"

	// 1. The printed link creates the first administrator.
	p.do("open the bootstrap link", 15*time.Second,
		chromedp.Navigate(srv.bootstrap),
		chromedp.WaitVisible(chromedp.CSS("#signup-form")),
		chromedp.WaitVisible(chromedp.CSS("#signup-bootstrap")),
		chromedp.SendKeys(chromedp.CSS("#signup-name"), admin),
		chromedp.SendKeys(chromedp.CSS("#signup-password"), adminPW),
		chromedp.SendKeys(chromedp.CSS("#signup-password2"), adminPW),
		chromedp.Click(chromedp.CSS("#signup-submit")),
		chromedp.WaitVisible(chromedp.CSS("#logout-submit")),
	)
	if f := p.text("#flash"); !strings.Contains(f, "administrator") {
		t.Errorf("after the first sign-up the flash says %q, want it to mention administrator", f)
	}
	p.do("the bootstrap link is one-time", 10*time.Second,
		chromedp.Navigate(srv.bootstrap),
		chromedp.WaitVisible(chromedp.CSS("#page-title")),
	)
	again := get(p, "look for the bootstrap form", 5*time.Second,
		chromedp.Evaluate[bool](`document.querySelector("#signup-bootstrap") !== null`))
	if again {
		t.Error("the bootstrap link still offers to create an administrator after use")
	}

	// 2. Sign out, fail to sign in, sign in.
	p.do("sign out", 10*time.Second,
		chromedp.Navigate(site+"/"),
		chromedp.WaitVisible(chromedp.CSS("#logout-submit")),
		chromedp.Click(chromedp.CSS("#logout-submit")),
		chromedp.WaitNotPresent(chromedp.CSS("#logout-submit")),
		chromedp.Navigate(site+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), admin),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "not the password"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")),
	)
	p.do("sign in", 15*time.Second,
		chromedp.Clear(chromedp.CSS("#login-name")),
		chromedp.Clear(chromedp.CSS("#login-password")),
		chromedp.SendKeys(chromedp.CSS("#login-name"), admin),
		chromedp.SendKeys(chromedp.CSS("#login-password"), adminPW),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#logout-submit")),
	)

	// 3. Upload.
	p.do("upload", 20*time.Second,
		chromedp.Navigate(site+"/upload"),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{torrentFile}),
		chromedp.SendKeys(chromedp.CSS("#upload-description"), "Uploaded by the **browser test**."),
		chromedp.Click(chromedp.CSS("#upload-submit")),
		chromedp.WaitVisible(chromedp.CSS("#torrent")),
	)
	id := p.attr("#torrent", "data-id")
	siteHash := p.attr("#torrent", "data-info-hash")
	if got := p.text("#torrent-name"); got != name {
		t.Errorf("torrent page name %q, want %q", got, name)
	}
	orig, err := metainfo.Load(torrentFile)
	if err != nil {
		t.Fatal(err)
	}
	if siteHash == fmt.Sprintf("%x", orig.InfoHash) || len(siteHash) != 40 {
		t.Errorf("site info hash %q: want a new 40-hex hash (private, source), not the upload's %x", siteHash, orig.InfoHash)
	}

	// 4. Search: a word that is nowhere finds nothing; the name finds
	// the torrent, whose page opens from the results.
	p.do("search for something else", 15*time.Second,
		chromedp.Navigate(site+"/stats"),
		chromedp.WaitVisible(chromedp.CSS("#search-q")),
		chromedp.SendKeys(chromedp.CSS("#search-q"), "nosuchwordanywhere"),
		chromedp.Click(chromedp.CSS("#search-submit")),
		waitLocation("q=nosuchwordanywhere"),
		chromedp.WaitVisible(chromedp.CSS("#search-q")),
		chromedp.WaitNotPresent(chromedp.CSS("#torrent-row-"+id)),
	)
	p.do("search", 15*time.Second,
		chromedp.Clear(chromedp.CSS("#search-q")),
		chromedp.SendKeys(chromedp.CSS("#search-q"), "galebrowserpayload"),
		chromedp.Click(chromedp.CSS("#search-submit")),
		waitLocation("q=galebrowserpayload"),
		chromedp.WaitVisible(chromedp.CSS("#torrent-row-"+id+" .torrent-link")),
	)
	hits := get(p, "count the results", 5*time.Second,
		chromedp.Evaluate[int](`document.querySelectorAll("#torrent-list .torrent-link").length`))
	if hits != 1 {
		t.Errorf("search found %d torrents, want 1", hits)
	}
	p.do("open the result", 15*time.Second,
		chromedp.Click(chromedp.CSS("#torrent-row-"+id+" .torrent-link")),
		waitLocation("/torrent/"+id),
		chromedp.WaitVisible(chromedp.CSS("#torrent")),
	)
	if got := p.attr("#torrent", "data-id"); got != id {
		t.Fatalf("the search result opened torrent %s, want %s", got, id)
	}
	if s, l, c, err := p.swarmNumbers(); err != nil || s+l+c != 0 {
		t.Errorf("before any client: seeders %d leechers %d completed %d (%v), want zeros", s, l, c, err)
	}

	// 5. Download the personal .torrent.
	data := downloadTorrent(t, p, "#torrent-download")
	mine, err := metainfo.Parse(data)
	if err != nil {
		t.Fatalf("the downloaded .torrent does not parse: %v", err)
	}
	if !mine.Info.Private {
		t.Error("the personal .torrent is not private")
	}
	if got := fmt.Sprintf("%x", mine.InfoHash); got != siteHash {
		t.Errorf("the personal .torrent has info hash %s, the page says %s", got, siteHash)
	}
	key, inQuery, ok := personalKey(mine.Announce)
	if !ok || inQuery || mine.Announce != "http://"+srv.http+"/"+key+"/announce" {
		t.Fatalf("announce %q: want http://%s/<32 hex>/announce", mine.Announce, srv.http)
	}
	var haveUDP bool
	for _, tr := range mine.Trackers() {
		if tr == "udp://"+srv.udp+"/"+key+"/announce" {
			haveUDP = true
		}
	}
	if !haveUDP {
		t.Errorf("trackers %q lack udp://%s/announce?passkey=%s", mine.Trackers(), srv.udp, key)
	}
	adminTorrent := filepath.Join(work, "admin.torrent")
	if err := os.WriteFile(adminTorrent, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// 6. A second user, made on the command line while the server runs.
	srv.addUser("bob", "bob's password 123")
	bobTorrent := srv.fetchTorrent(siteHash, "bob")
	bobT, err := metainfo.Load(bobTorrent)
	if err != nil {
		t.Fatal(err)
	}
	if bobT.InfoHash != mine.InfoHash || bobT.Announce == mine.Announce {
		t.Errorf("bob's .torrent: hash %x announce %q; want the same swarm with another key than %q", bobT.InfoHash, bobT.Announce, mine.Announce)
	}

	// 7. Real clients: the admin seeds, bob downloads (rate limited so
	// that the leecher is visible for a few seconds).
	seeder := startClient(t, "seeder", adminTorrent, payloadDir, 0, 0)
	if _, err := seeder.waitEvent(ctx, "seeding", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	dlDir := filepath.Join(work, "bob")
	os.MkdirAll(dlDir, 0o755)
	leecher := startClient(t, "leecher", bobTorrent, dlDir, 0, 256<<10)
	stopPoke := poke(ctx, time.Second, seeder, leecher)
	defer stopPoke()

	// The swarm as the page shows it: a leecher appears, then completes.
	var sawLeecher, sawSeeder bool
	err = eventually(ctx, 45*time.Second, 300*time.Millisecond, func() error {
		s, l, c, err := p.swarmNumbers()
		if err != nil {
			return err
		}
		sawSeeder = sawSeeder || s >= 1
		sawLeecher = sawLeecher || l >= 1
		if sawLeecher && s == 2 && l == 0 && c == 1 {
			return nil
		}
		return fmt.Errorf("seeders %d leechers %d completed %d (a leecher seen: %v)", s, l, c, sawLeecher)
	})
	if err != nil {
		t.Fatalf("torrent page: %v; seeder tracker errors %q, leecher %q", err, seeder.trackerErrors(), leecher.trackerErrors())
	}
	if got, err := os.ReadFile(filepath.Join(dlDir, name)); err != nil || string(got) != string(payload) {
		t.Errorf("bob's download differs from the payload (%v)", err)
	}
	// The snatch is written by the accounting (flushed every second).
	err = eventually(ctx, 10*time.Second, 300*time.Millisecond, func() error {
		if err := p.try(5*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#torrent-snatches"))); err != nil {
			return err
		}
		if s := p.text("#torrent-snatches"); s != "1" {
			return fmt.Errorf("the torrent page shows %q snatches, want 1", s)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	torrentShot := p.screenshot(shots, "torrent-page")

	// Profiles: the admin uploaded it all, bob downloaded it all.
	profileBytes := func(user, sel string) (int64, error) {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(site+"/user/"+user), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			return 0, err
		}
		r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), "data-bytes"))
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(r.Value, 10, 64)
	}
	for _, c := range []struct{ user, sel string }{{admin, "#profile-uploaded"}, {"bob", "#profile-downloaded"}} {
		err := eventually(ctx, 20*time.Second, 500*time.Millisecond, func() error {
			n, err := profileBytes(c.user, c.sel)
			if err == nil && n < size {
				err = fmt.Errorf("%s shows %d bytes, want at least %d", c.sel, n, size)
			}
			return err
		})
		if err != nil {
			t.Errorf("profile of %s: %v", c.user, err)
		}
	}
	if s := p.text("#profile-snatches"); s != "1" {
		t.Errorf("bob's profile shows %q snatches, want 1", s)
	}
	profileShot := p.screenshot(shots, "profile-bob")
	t.Logf("screenshots: %s, %s", torrentShot, profileShot)
}

// poke makes the clients re-announce every period (so the counters
// reach the tracker without waiting for the interval) until stopped.
func poke(ctx context.Context, period time.Duration, clients ...*client) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, c := range clients {
					c.send("reannounce")
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// waitLocation waits until the page's URL contains s.
func waitLocation(s string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			loc, err := chromedp.Location()(ctx, t)
			if err == nil && strings.Contains(loc, s) {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("the page is at %q, want %q in its URL: %w", loc, s, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// downloadTorrent clicks the link sel and returns the file the browser
// downloaded.
func downloadTorrent(t *testing.T, p page, sel string) []byte {
	t.Helper()
	dir := t.TempDir()
	ectx, ecancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer ecancel()
	yes := true
	// Subscribe first; the events come on the browser session, where the
	// download behavior is set.
	events := chromedp.BrowserEvents(ectx, browser.DownloadProgress)
	if _, err := chromedp.CallBrowser(ectx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes,
	}); err != nil {
		t.Fatalf("Browser.setDownloadBehavior: %v", err)
	}
	p.do("click "+sel, 10*time.Second, chromedp.Click(chromedp.CSS(sel)))
	for ev, err := range events {
		if err != nil {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no completed download after clicking %s (download dir holds %d entries): %v", sel, len(entries), err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				t.Fatal(err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("the browser canceled the download of %s", sel)
		}
	}
	t.Fatalf("no download event after clicking %s", sel)
	return nil
}
