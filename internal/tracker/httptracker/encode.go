package httptracker

import (
	"net/netip"
	"strconv"

	"github.com/gale-bt/gale/internal/peer"
	"github.com/gale-bt/gale/internal/tracker"
)

// Tracker responses are bencoded dictionaries (BEP 3) written by hand:
// keys in sorted order, no reflection, no allocation.

func appendString(b []byte, s []byte) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendKey(b []byte, key string) []byte {
	b = strconv.AppendInt(b, int64(len(key)), 10)
	b = append(b, ':')
	return append(b, key...)
}

func appendInt(b []byte, key string, v int64) []byte {
	b = appendKey(b, key)
	b = append(b, 'i')
	b = strconv.AppendInt(b, v, 10)
	return append(b, 'e')
}

func appendStringKey(b []byte, key, v string) []byte {
	b = appendKey(b, key)
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// appendFailure writes {"failure reason": msg} (BEP 3).
func appendFailure(b []byte, msg string) []byte {
	b = append(b, 'd')
	b = appendStringKey(b, "failure reason", msg)
	return append(b, 'e')
}

// appendAnnounce writes an announce response. Keys, sorted: complete,
// downloaded, external ip (BEP 24), incomplete, interval, min interval,
// peers (BEP 23 compact string, or BEP 3 list of dictionaries), peers6
// (BEP 7, compact IPv6 requesters only), tracker id, warning message.
func appendAnnounce(b []byte, r *tracker.AnnounceResponse, compact, withIDs bool, client netip.Addr, trackerID string) []byte {
	b = append(b, 'd')
	b = appendInt(b, "complete", int64(r.Seeders))
	b = appendInt(b, "downloaded", int64(r.Completed))
	if client.IsValid() {
		b = appendKey(b, "external ip")
		if client.Is4() {
			a := client.As4()
			b = appendString(b, a[:])
		} else {
			a := client.As16()
			b = appendString(b, a[:])
		}
	}
	b = appendInt(b, "incomplete", int64(r.Leechers))
	b = appendInt(b, "interval", int64(r.Interval))
	b = appendInt(b, "min interval", int64(r.MinInterval))
	b = appendKey(b, "peers")
	switch {
	case !compact:
		b = appendPeerList(b, r, withIDs)
	case r.IPv6:
		b = append(b, "0:"...)
		b = appendKey(b, "peers6")
		b = appendString(b, r.Peers)
	default:
		b = appendString(b, r.Peers)
	}
	if trackerID != "" {
		b = appendStringKey(b, "tracker id", trackerID)
	}
	if r.Warning != "" {
		b = appendStringKey(b, "warning message", r.Warning)
	}
	return append(b, 'e')
}

// appendPeerList writes the BEP 3 dictionary model: a list of {ip, peer
// id, port}; r.Peers holds ID-prefixed entries.
func appendPeerList(b []byte, r *tracker.AnnounceResponse, withIDs bool) []byte {
	n := r.EntryLen(true)
	b = append(b, 'l')
	for p := r.Peers; len(p) >= n; p = p[n:] {
		ap, _ := peer.ParseCompact(p[20:n])
		b = append(b, 'd')
		b = appendKey(b, "ip")
		var tmp [64]byte
		b = appendString(b, ap.Addr().AppendTo(tmp[:0]))
		if withIDs {
			b = appendKey(b, "peer id")
			b = appendString(b, p[:20])
		}
		b = appendInt(b, "port", int64(ap.Port()))
		b = append(b, 'e')
	}
	return append(b, 'e')
}

// appendScrapeEntry writes one "files" entry (BEP 48).
func appendScrapeEntry(b []byte, ih *tracker.InfoHash, st tracker.ScrapeStats) []byte {
	b = appendString(b, ih[:])
	b = append(b, 'd')
	b = appendInt(b, "complete", int64(st.Seeders))
	b = appendInt(b, "downloaded", int64(st.Completed))
	b = appendInt(b, "incomplete", int64(st.Leechers))
	return append(b, 'e')
}
