package tracker

import "bytes"

// MaxPasskeyLen bounds the key accepted in a tracker path.
const MaxPasskeyLen = 128

// ParsePath splits a tracker URL path (HTTP, or BEP 41 URL data of a UDP
// announce) into the user key and the action: "/announce" and "/scrape"
// carry no key; "/<key>/announce" and "/<key>/scrape" carry one (the
// private tracker's form). A query string is ignored. ok is false for
// any other path. The key aliases p.
func ParsePath(p []byte) (key []byte, a Action, ok bool) {
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if len(p) == 0 || p[0] != '/' {
		return nil, 0, false
	}
	p = p[1:]
	if i := bytes.IndexByte(p, '/'); i >= 0 {
		key, p = p[:i], p[i+1:]
		if len(key) == 0 || len(key) > MaxPasskeyLen {
			return nil, 0, false
		}
	}
	switch string(p) {
	case "announce":
		return key, ActionAnnounce, true
	case "scrape":
		return key, ActionScrape, true
	}
	return nil, 0, false
}
