package web

import (
	"net/netip"
	"time"
)

// TrackerStats is what the site shows of the tracker engine's live swarms.
// The server wires it to the tracker (gale serve); tests use a fake. Its
// methods are called while pages render, once per listed torrent, and
// must be cheap and safe for concurrent use. They are not subject to the
// tracker's policy: the site has checked that the user may see the
// torrent.
type TrackerStats interface {
	// Swarm returns the live counts of the swarm whose 20-byte hash is
	// ih (catalog.Torrent.SwarmHash: v1, or truncated v2 for v2-only
	// torrents; hybrid torrents are one swarm under it). Unknown swarms
	// are zero.
	Swarm(ih [20]byte) SwarmStats
	// Peers returns up to limit peers of the swarm (0: all), for
	// moderators.
	Peers(ih [20]byte, limit int) []SwarmPeer
	// Totals returns the engine's totals.
	Totals() TrackerTotals
}

// SwarmStats are one swarm's live counts (as in a BEP 48 scrape).
type SwarmStats struct {
	Seeders   int `json:"seeders"`
	Leechers  int `json:"leechers"`
	Completed int `json:"completed"`
}

// SwarmPeer is one peer of a swarm as the tracker sees it.
type SwarmPeer struct {
	PeerID   [20]byte
	Addr     netip.AddrPort
	Seeder   bool
	LastSeen time.Time
}

// TrackerTotals are the engine's totals over all swarms.
type TrackerTotals struct {
	Swarms    int `json:"swarms"`
	Seeders   int `json:"seeders"`
	Leechers  int `json:"leechers"`
	Completed int `json:"completed"`
}

// noStats is the TrackerStats of a server without a tracker.
type noStats struct{}

func (noStats) Swarm([20]byte) SwarmStats       { return SwarmStats{} }
func (noStats) Peers([20]byte, int) []SwarmPeer { return nil }
func (noStats) Totals() TrackerTotals           { return TrackerTotals{} }
