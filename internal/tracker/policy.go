package tracker

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Policy decides who may take part in which swarm. It is consulted once per
// announce before the swarm store is touched, and once per scraped info
// hash. Implementations must be safe for concurrent use, fast, and should
// not allocate: they sit on the hot path.
//
// The private tracker implements Policy from its catalog: it reads
// req.Passkey (from the HTTP path /<key>/announce or BEP 41 URL data) and
// req.InfoHash, may refuse with a client-visible *Error (unregistered
// torrent, access revoked, client not allowed, ...), and names the user the
// announce is accounted to.
type Policy interface {
	// Announce returns the grant for req, or an error refusing it. A
	// *Error is shown to the client; any other error as a generic message.
	Announce(req *AnnounceRequest) (Grant, error)
	// Scrape reports whether ih may be scraped with passkey (nil in open
	// mode). A refused info hash is left out of the scrape response.
	Scrape(passkey []byte, ih InfoHash) error
}

// Grant is what a Policy allows for one announce.
type Grant struct {
	// User is the accounting identity handed to the Accounting hook (0 in
	// open mode).
	User uint64
	// Hint is opaque to the engine and handed unchanged to the Accounting
	// hook with the announce's Fact (a policy may use it to find its own
	// record of the peer again without a second lookup).
	Hint uint64
	// Warning, if set, is sent to the client as a BEP 3 "warning message".
	Warning string
}

// Open is the Policy of an open tracker: every torrent is tracked.
type Open struct{}

// Announce allows every announce.
func (Open) Announce(*AnnounceRequest) (Grant, error) { return Grant{}, nil }

// Scrape allows every scrape.
func (Open) Scrape([]byte, InfoHash) error { return nil }

// HashSet is an immutable set of info hashes.
type HashSet map[InfoHash]struct{}

// ReadHashSet reads info hashes in hex, one per line. Blank lines and
// lines starting with '#' are ignored, as is anything after the first
// space or tab on a line (so "HASH name" lists work). Lines longer than
// 4 KiB and malformed hashes are errors naming the line.
func ReadHashSet(r io.Reader) (HashSet, error) {
	set := HashSet{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 4096)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if i := bytes.IndexAny(b, " \t"); i >= 0 {
			b = b[:i]
		}
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		h, err := ParseInfoHash(string(b))
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		set[h] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %v", line+1, err)
	}
	return set, nil
}

// ListPolicy is the Policy of `gale tracker` with --whitelist and/or
// --blacklist: a torrent is tracked if it is on the whitelist (when one is
// set) and not on the blacklist. The lists are swapped atomically, so
// Reload may run while announces are served. The zero value allows
// everything.
type ListPolicy struct {
	WhitelistFile string
	BlacklistFile string

	white atomic.Pointer[HashSet]
	black atomic.Pointer[HashSet]

	mu    sync.Mutex // serializes Reload
	stamp [2]fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// Announce refuses torrents not on the whitelist or on the blacklist.
func (p *ListPolicy) Announce(req *AnnounceRequest) (Grant, error) {
	return Grant{}, p.check(req.InfoHash)
}

// Scrape applies the same rule as Announce.
func (p *ListPolicy) Scrape(_ []byte, ih InfoHash) error { return p.check(ih) }

func (p *ListPolicy) check(ih InfoHash) error {
	if w := p.white.Load(); w != nil {
		if _, ok := (*w)[ih]; !ok {
			return ErrNotRegistered
		}
	}
	if b := p.black.Load(); b != nil {
		if _, ok := (*b)[ih]; ok {
			return ErrBlacklisted
		}
	}
	return nil
}

// SetLists replaces the lists; a nil whitelist allows every torrent not
// blacklisted.
func (p *ListPolicy) SetLists(white, black HashSet) {
	if white == nil {
		p.white.Store(nil)
	} else {
		p.white.Store(&white)
	}
	if black == nil {
		p.black.Store(nil)
	} else {
		p.black.Store(&black)
	}
}

// Counts returns the sizes of the lists (-1 when a list is not used).
func (p *ListPolicy) Counts() (white, black int) {
	white, black = -1, -1
	if w := p.white.Load(); w != nil {
		white = len(*w)
	}
	if b := p.black.Load(); b != nil {
		black = len(*b)
	}
	return white, black
}

// Reload reads the configured files again. With force false, a file whose
// modification time and size are unchanged since the last successful read
// is skipped. On error the previous list stays in force. It reports
// whether any list was replaced.
func (p *ListPolicy) Reload(force bool) (changed bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, name := range [2]string{p.WhitelistFile, p.BlacklistFile} {
		if name == "" {
			continue
		}
		st, err := os.Stat(name)
		if err != nil {
			return changed, err
		}
		stamp := fileStamp{st.ModTime(), st.Size()}
		if !force && stamp == p.stamp[i] {
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return changed, err
		}
		set, err := ReadHashSet(f)
		f.Close()
		if err != nil {
			return changed, fmt.Errorf("%s: %v", name, err)
		}
		p.stamp[i] = stamp
		if i == 0 {
			p.white.Store(&set)
		} else {
			p.black.Store(&set)
		}
		changed = true
	}
	return changed, nil
}
