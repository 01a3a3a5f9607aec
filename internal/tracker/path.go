package tracker

import "bytes"

// MaxPasskeyLen bounds the key accepted in a tracker path or query.
const MaxPasskeyLen = 128

// PasskeyParam is the query parameter that carries a user key:
// "/announce?passkey=KEY".
const PasskeyParam = "passkey"

// ParsePath splits a tracker request target (an HTTP request's path with
// its query string, or the BEP 41 URL data of a UDP announce, which is the
// same) into the user key and the action. The accepted forms are
//
//	/announce                  /scrape                   no key
//	/announce?passkey=KEY      /scrape?passkey=KEY       key in the query
//	/KEY/announce              /KEY/scrape               XBT Tracker's form
//	/announce/KEY              /scrape/KEY
//
// each with any query string. The passkey parameter may stand anywhere
// among the BEP 3 parameters. It is what libtorrent 2.x accepts for a
// tracker on a loopback address (its SSRF mitigation refuses such a
// tracker unless the path starts with "/announce", and a pre-baked query
// only if it holds BEP 3 parameters), and BEP 48 derives the scrape URL
// from it by replacing "announce" with "scrape".
//
// A key is 1 to MaxPasskeyLen bytes of ASCII letters, digits, '-', '.',
// '_' and '~' (RFC 3986's unreserved characters, so no percent-decoding
// is involved). A key may be given more than once (in the path and in
// the query, or in several passkey parameters) only if every copy is the
// same. ok is false for any other path, and for an empty, malformed or
// conflicting key: such a request is not a tracker request. The key
// aliases p. ParsePath does not allocate.
func ParsePath(p []byte) (key []byte, a Action, ok bool) {
	var q []byte
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p, q = p[:i], p[i+1:]
	}
	if len(p) == 0 || p[0] != '/' {
		return nil, 0, false
	}
	p = p[1:]
	if i := bytes.IndexByte(p, '/'); i >= 0 {
		first, rest := p[:i], p[i+1:]
		if a, ok = pathAction(rest); ok {
			key = first
		} else if a, ok = pathAction(first); ok {
			key = rest
		} else {
			return nil, 0, false
		}
		if !validKey(key) {
			return nil, 0, false
		}
	} else if a, ok = pathAction(p); !ok {
		return nil, 0, false
	}
	for len(q) > 0 {
		var pair []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			pair, q = q, nil
		}
		if len(pair) < len(PasskeyParam) || string(pair[:len(PasskeyParam)]) != PasskeyParam {
			continue
		}
		v := pair[len(PasskeyParam):]
		switch {
		case len(v) == 0: // "passkey" without a value
		case v[0] != '=':
			continue // another parameter, such as "passkeys=..."
		default:
			v = v[1:]
		}
		if !validKey(v) || (key != nil && !bytes.Equal(key, v)) {
			return nil, 0, false
		}
		key = v
	}
	return key, a, true
}

// pathAction maps the last path segment to its action.
func pathAction(seg []byte) (Action, bool) {
	switch string(seg) {
	case "announce":
		return ActionAnnounce, true
	case "scrape":
		return ActionScrape, true
	}
	return 0, false
}

// validKey reports whether k is a well-formed key (see ParsePath).
func validKey(k []byte) bool {
	if len(k) == 0 || len(k) > MaxPasskeyLen {
		return false
	}
	for _, c := range k {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return true
}
