// Package servetest holds end-to-end tests of `gale serve`, the private
// tracker with its catalog website, run as a real process built from this
// module on loopback addresses:
//
//   - TestBrowserFlow drives a headless Chromium (Debian's chromium, over
//     the DevTools protocol with chromedp): the first administrator signs
//     up through the printed link, signs in, uploads a .torrent, finds it,
//     downloads the personal .torrent, and watches the swarm and profile
//     numbers move while python3-libtorrent clients seed and download
//     with personal .torrents.
//   - TestCrashAccounting transfers between real clients of three users
//     while the server is killed with SIGKILL several times, and checks
//     that every user's credited totals equal exactly what the clients
//     reported (a logging reverse proxy sits between the clients and the
//     HTTP tracker).
//   - TestKeys checks refusals of wrong, forged, revoked, other torrents'
//     and disabled users' keys over HTTP and UDP (BEP 41), the delay with
//     which admin commands reach the running tracker, and that keys never
//     reach the server's log.
//   - TestLibtorrentSSRF seeds a personal .torrent with python3-libtorrent
//     on its default settings: its SSRF mitigation accepts the announce
//     URL /announce?passkey=KEY (announce-key-form = "query") on 127.0.0.1
//     and refuses XBT's /KEY/announce (the default form).
//   - TestCounterDropInSession replays the counters libtorrent was seen
//     sending (its "downloaded" drops a little at completion) and checks
//     that a correction inside one client session is not credited as a
//     new session.
//
// The tests skip when a tool is missing unless GALE_REQUIRE_INTEROP=1, in
// which case they fail. GALE_SERVETEST_ARTIFACTS=DIR keeps the screenshots
// and process logs in DIR.
package servetest
