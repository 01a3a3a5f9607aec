// Package trackertest holds end-to-end tests in which real BitTorrent
// clients from Debian (python3-libtorrent seeding, transmission-cli and
// aria2c downloading) find each other through a tracker process: `gale
// tracker` built from this module, or opentracker to validate the tests
// themselves (GALE_TRACKERTEST_TRACKER=opentracker, IPv4 only).
//
// The tests skip when a tool is missing unless GALE_REQUIRE_INTEROP=1,
// in which case they fail. Every client is bound to loopback, with DHT,
// local peer discovery, UPnP, NAT-PMP and peer exchange off; the torrents
// are private. The one exception is aria2c over UDP, which sends UDP
// tracker requests only through its DHT socket: DHT is enabled there with
// no entry point and a private torrent, so it never contacts a node.
package trackertest
