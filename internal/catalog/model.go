package catalog

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gale-bt/gale/internal/tracker"
)

// User is an account. Its password hash never leaves the store.
type User struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Admin    bool   `json:"admin"`
	Disabled bool   `json:"disabled"`
	// DisabledReason is shown to the user when signing in fails.
	DisabledReason string `json:"disabled_reason,omitempty"`
	GroupID        int64  `json:"group_id"`
	GroupName      string `json:"group"`
	// KeyVersion enters every announce key (see Passkey); ResetKey bumps
	// it. FeedVersion does the same for the feed key.
	KeyVersion  int64     `json:"-"`
	FeedVersion int64     `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Name limits.
const (
	MaxNameLen        = 32  // user, group names
	MaxCategoryLen    = 64  // category names
	MaxReasonLen      = 500 // deletion reasons, notes
	MaxDescriptionLen = 64 << 10
)

// CheckUserName validates a user name: 1 to 32 letters, digits, '_', '-'
// and '.', starting with a letter or digit. Names are unique regardless of
// case.
func CheckUserName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return Errorf(EINVALID, "a user name has 1 to %d characters", MaxNameLen)
	}
	for i, c := range name {
		ok := c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c) || (i > 0 && strings.ContainsRune("_-.", c)))
		if !ok {
			return Errorf(EINVALID, "a user name may hold only letters, digits, '_', '-' and '.', and start with a letter or digit")
		}
	}
	return nil
}

// CheckLabel validates a group or category name: printable, trimmed,
// 1 to max characters.
func CheckLabel(what, s string, max int) error {
	if s == "" || strings.TrimSpace(s) != s || utf8.RuneCountInString(s) > max || !utf8.ValidString(s) {
		return Errorf(EINVALID, "a %s name has 1 to %d characters and no leading or trailing space", what, max)
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return Errorf(EINVALID, "a %s name may not hold control characters", what)
		}
	}
	return nil
}

// CheckText validates free text (descriptions, reasons): valid UTF-8, at
// most max bytes, no NUL.
func CheckText(what, s string, max int) error {
	if len(s) > max {
		return Errorf(EINVALID, "%s is longer than %d bytes", what, max)
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return Errorf(EINVALID, "%s is not valid text", what)
	}
	return nil
}

// Group is a set of users sharing rights.
type Group struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Users     int       `json:"users"`
	CreatedAt time.Time `json:"created_at"`
}

// Category groups torrents; rights are granted per category.
type Category struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Position  int       `json:"position"`
	Torrents  int       `json:"torrents"`
	CreatedAt time.Time `json:"created_at"`
}

// GroupRights is one cell of the rights table.
type GroupRights struct {
	GroupID    int64  `json:"group_id"`
	CategoryID int64  `json:"category_id"`
	Rights     Rights `json:"rights"`
}

// Torrent is a registered torrent. V1 and/or V2 identify it; a hybrid
// torrent has both and is one swarm under both hashes.
type Torrent struct {
	ID int64 `json:"id"`
	// V1 is the SHA-1 info hash (zero for v2-only torrents); V2 the
	// SHA-256 info hash (zero for v1-only torrents).
	V1           tracker.InfoHash `json:"-"`
	V2           [32]byte         `json:"-"`
	HasV1, HasV2 bool             `json:"-"`
	Name         string           `json:"name"`
	Size         int64            `json:"size"`
	FileCount    int              `json:"file_count"`
	// Files lists the files without padding files; loaded only by
	// methods that say so.
	Files        []File    `json:"files,omitempty"`
	CategoryID   int64     `json:"category_id"`
	CategoryName string    `json:"category"`
	OwnerID      int64     `json:"owner_id"`
	OwnerName    string    `json:"owner"`
	Description  string    `json:"description"`
	Freeleech    bool      `json:"freeleech"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Deleted      bool      `json:"deleted,omitempty"`
	DeletedAt    time.Time `json:"deleted_at,omitzero"`
	DeleteReason string    `json:"delete_reason,omitempty"`
	// Snatches counts users who completed it (once per user).
	Snatches int64 `json:"snatches"`
}

// SwarmHash is the 20-byte hash the tracker uses for the torrent's swarm
// and that announce keys are computed over: the v1 hash when there is one,
// else the truncated v2 hash (BEP 52).
func (t *Torrent) SwarmHash() tracker.InfoHash {
	if t.HasV1 {
		return t.V1
	}
	var h tracker.InfoHash
	copy(h[:], t.V2[:20])
	return h
}

// AliasHash is the truncated v2 hash of a hybrid torrent, announced to as
// well and tracked as the same swarm (tracker.Tracker.Alias); ok is false
// for other torrents.
func (t *Torrent) AliasHash() (h tracker.InfoHash, ok bool) {
	if !t.HasV1 || !t.HasV2 {
		return h, false
	}
	copy(h[:], t.V2[:20])
	return h, true
}

// InfoHashes returns the hex hashes ("v1", "v2") for display and JSON.
func (t *Torrent) InfoHashes() (v1, v2 string) {
	if t.HasV1 {
		v1 = t.V1.String()
	}
	if t.HasV2 {
		v2 = hexString(t.V2[:])
	}
	return v1, v2
}

// File is one file of a torrent.
type File struct {
	Path   string `json:"path"` // components joined with "/"
	Length int64  `json:"length"`
}

// SignupMode says who may create an account.
type SignupMode string

// Sign-up modes.
const (
	SignupOpen   SignupMode = "open"   // anyone
	SignupInvite SignupMode = "invite" // with an invite code
	SignupClosed SignupMode = "closed" // administrators create accounts
)

// Settings are the site-wide settings.
type Settings struct {
	SiteName string `json:"site_name"`
	// Freeleech: no download is counted anywhere; DoubleUpload: uploads
	// count twice.
	Freeleech    bool       `json:"freeleech"`
	DoubleUpload bool       `json:"double_upload"`
	Signup       SignupMode `json:"signup"`
	// FlagRate is the rate in bytes per second above which an accounting
	// delta is flagged for moderators; 0 disables flagging.
	FlagRate int64 `json:"flag_rate"`
	// Secret enters every announce and feed key (XBT's
	// torrent_pass_private_key); changing it invalidates all keys.
	Secret string `json:"-"`
}

// Invite is an invitation to sign up; its code is stored hashed.
type Invite struct {
	ID        int64     `json:"id"`
	CreatedBy int64     `json:"created_by"` // 0: the system
	GroupID   int64     `json:"group_id"`
	Admin     bool      `json:"admin"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedBy    int64     `json:"used_by,omitempty"`
	UsedAt    time.Time `json:"used_at,omitzero"`
}

// API token scopes.
const (
	ScopeTorrentsRead  = "torrents:read"  // search, view, fetch personal .torrent files
	ScopeTorrentsWrite = "torrents:write" // register, edit and delete torrents
	ScopeUsersRead     = "users:read"     // users and their stats
	ScopeUsersWrite    = "users:write"    // create, disable users, reset keys
	ScopeStats         = "stats:read"     // site statistics
)

// TokenScopes lists every scope.
var TokenScopes = []string{ScopeTorrentsRead, ScopeTorrentsWrite, ScopeUsersRead, ScopeUsersWrite, ScopeStats}

// Token is an API token; the secret is shown once and stored as SHA-256.
type Token struct {
	ID         int64     `json:"id"`
	UserID     int64     `json:"user_id"`
	Name       string    `json:"name"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	Revoked    bool      `json:"revoked"`
}

// ClientRule allows or denies clients by peer ID prefix (see
// ClientAllowed).
type ClientRule struct {
	ID        int64     `json:"id"`
	Prefix    string    `json:"prefix"` // raw bytes, 1 to 20
	Allow     bool      `json:"allow"`
	Note      string    `json:"note"`
	CreatedAt time.Time `json:"created_at"`
}

// ClientAllowed applies the client rules to a peer ID: the rule with the
// longest matching prefix decides; when none matches, the client is
// allowed unless some rule allows (then the rules are a whitelist).
func ClientAllowed(rules []ClientRule, peerID []byte) bool {
	best, allow, anyAllow := -1, true, false
	for i := range rules {
		r := &rules[i]
		if r.Allow {
			anyAllow = true
		}
		if len(r.Prefix) > best && len(r.Prefix) <= len(peerID) && string(peerID[:len(r.Prefix)]) == r.Prefix {
			best, allow = len(r.Prefix), r.Allow
		}
	}
	if best < 0 {
		return !anyAllow
	}
	return allow
}

// UserStats are a user's credited totals.
type UserStats struct {
	UserID int64 `json:"user_id"`
	// Uploaded and Downloaded are credited (after freeleech and double
	// upload); the Raw ones are what the clients reported.
	Uploaded      int64         `json:"uploaded"`
	Downloaded    int64         `json:"downloaded"`
	RawUploaded   int64         `json:"raw_uploaded"`
	RawDownloaded int64         `json:"raw_downloaded"`
	SeedTime      time.Duration `json:"seed_time"`
	LeechTime     time.Duration `json:"leech_time"`
	Snatches      int64         `json:"snatches"`
	// Seeding and Leeching count torrents with an active peer.
	Seeding  int `json:"seeding"`
	Leeching int `json:"leeching"`
}

// Ratio returns Uploaded/Downloaded, +Inf when nothing was downloaded
// but something uploaded, 0 when both are zero.
func (s *UserStats) Ratio() float64 {
	if s.Downloaded == 0 {
		if s.Uploaded == 0 {
			return 0
		}
		return inf
	}
	return float64(s.Uploaded) / float64(s.Downloaded)
}

// UserTorrent is the accounting row of one user on one torrent.
type UserTorrent struct {
	UserID       int64         `json:"user_id"`
	UserName     string        `json:"user"`
	TorrentID    int64         `json:"torrent_id"`
	TorrentName  string        `json:"torrent"`
	Uploaded     int64         `json:"uploaded"`
	Downloaded   int64         `json:"downloaded"`
	Left         int64         `json:"left"`
	SeedTime     time.Duration `json:"seed_time"`
	LeechTime    time.Duration `json:"leech_time"`
	Snatched     bool          `json:"snatched"`
	CompletedAt  time.Time     `json:"completed_at,omitzero"`
	LastAnnounce time.Time     `json:"last_announce"`
	// Active is true when a peer of the user announced within the peer
	// TTL and has not stopped; Seeding when such a peer has nothing left.
	Active  bool `json:"active"`
	Seeding bool `json:"seeding"`
}

// Peer is the last announce of one client of a user on a torrent, as the
// accounting stored it.
type Peer struct {
	UserID       int64     `json:"user_id"`
	UserName     string    `json:"user"`
	TorrentID    int64     `json:"torrent_id"`
	PeerID       [20]byte  `json:"-"`
	Client       string    `json:"client"` // printable peer ID prefix
	Addr         string    `json:"addr"`
	Uploaded     int64     `json:"uploaded"`
	Downloaded   int64     `json:"downloaded"`
	Left         int64     `json:"left"`
	LastAnnounce time.Time `json:"last_announce"`
	Stopped      bool      `json:"stopped"`
}

// Flag is an accounting delta faster than Settings.FlagRate.
type Flag struct {
	ID          int64     `json:"id"`
	UserID      int64     `json:"user_id"`
	UserName    string    `json:"user"`
	TorrentID   int64     `json:"torrent_id"`
	TorrentName string    `json:"torrent"`
	Client      string    `json:"client"`
	Uploaded    int64     `json:"uploaded"`   // raw delta
	Downloaded  int64     `json:"downloaded"` // raw delta
	Seconds     float64   `json:"seconds"`    // over this time
	Rate        int64     `json:"rate"`       // bytes/s, the larger direction
	CreatedAt   time.Time `json:"created_at"`
	Resolved    bool      `json:"resolved"`
	ResolvedBy  int64     `json:"resolved_by,omitempty"`
	Note        string    `json:"note,omitempty"`
}

// SiteStats are the site's totals.
type SiteStats struct {
	Users         int64 `json:"users"`
	Torrents      int64 `json:"torrents"`
	Uploaded      int64 `json:"uploaded"`
	Downloaded    int64 `json:"downloaded"`
	RawUploaded   int64 `json:"raw_uploaded"`
	RawDownloaded int64 `json:"raw_downloaded"`
	Snatches      int64 `json:"snatches"`
	ActivePeers   int64 `json:"active_peers"`
	OpenFlags     int64 `json:"open_flags"`
}

// PrintableClient returns the printable ASCII prefix of a peer ID (the
// client tag such as "-TR4060-"), at most 8 bytes.
func PrintableClient(id []byte) string {
	n := 0
	for n < len(id) && n < 8 && id[n] >= 0x20 && id[n] < 0x7f {
		n++
	}
	return string(id[:n])
}
