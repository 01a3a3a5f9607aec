package catalog

import (
	"context"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

// The service interfaces. Every method runs in one transaction, reads the
// Actor from ctx (see Actor) and enforces rights itself; errors are *Error
// values with the codes in errors.go, or internal errors. Lists take an
// Offset and a Limit (0 means 50; at most 500) and return the total count
// when they say so.

// Catalog is every service, as one store implements them.
type Catalog interface {
	UserService
	SessionService
	InviteService
	TokenService
	GroupService
	TorrentService
	SettingsService
	ClientRuleService
	StatsService
	TrackerStore
	Close() error
}

// Page bounds list results.
type Page struct{ Offset, Limit int }

// Bounds returns the effective offset and limit (limit 50 when 0, at
// most 500).
func (p Page) Bounds() (offset, limit int) {
	offset, limit = max(p.Offset, 0), p.Limit
	if limit <= 0 {
		limit = 50
	}
	return offset, min(limit, 500)
}

// NewUser is the input of CreateUser.
type NewUser struct {
	Name     string
	Password string // empty: no password, the user cannot sign in until one is set
	Admin    bool
	GroupID  int64 // 0: the default group
}

// UserUpdate changes a user; nil fields are left alone.
type UserUpdate struct {
	Password       *string
	Admin          *bool
	Disabled       *bool
	DisabledReason *string
	GroupID        *int64
}

// UserFilter selects users.
type UserFilter struct {
	Query   string // name prefix, case-insensitive
	GroupID int64
	// After keeps only the names that sort after it (case-insensitively,
	// in the order Users lists): pass the last name of a page to get the
	// next one, with Offset 0, to page through every user without missing
	// or repeating one when users are added meanwhile.
	After string
	// Disabled keeps only disabled users.
	Disabled bool
	Page
}

// MaxStatsBatch bounds the IDs of one UsersStats call.
const MaxStatsBatch = 500

// UserService manages accounts.
type UserService interface {
	// CreateUser adds a user (administrators).
	CreateUser(ctx context.Context, u NewUser) (*User, error)
	// User and UserByName return a user (any signed-in actor).
	User(ctx context.Context, id int64) (*User, error)
	UserByName(ctx context.Context, name string) (*User, error)
	// Users lists users by name and the total matching (administrators).
	Users(ctx context.Context, f UserFilter) ([]*User, int, error)
	// UpdateUser changes a user. Administrators may change anything but
	// their own Admin and Disabled flags; users may change only their own
	// password (the frontend checks the current one with Authenticate
	// first). Disabling a user ends their sessions.
	UpdateUser(ctx context.Context, id int64, up UserUpdate) (*User, error)
	// ResetKey bumps the user's key version: every announce key handed
	// out before stops working at once (the user or administrators).
	ResetKey(ctx context.Context, id int64) (*User, error)
	// ResetFeedKey revokes the user's feed key the same way.
	ResetFeedKey(ctx context.Context, id int64) (*User, error)
	// FeedKey returns the user's current RSS feed key (the user or
	// administrators).
	FeedKey(ctx context.Context, id int64) (string, error)
	// FeedUser returns the enabled user whose feed key is key; anyone may
	// call it (EUNAUTHORIZED for a bad key).
	FeedUser(ctx context.Context, key string) (*User, error)
	// Authenticate checks a name and password; anyone may call it. Bad
	// names, bad passwords and disabled users are all EUNAUTHORIZED with
	// one message, except that a disabled user is told so after a
	// correct password.
	Authenticate(ctx context.Context, name, password string) (*User, error)
	// UserStats returns a user's totals (any signed-in actor).
	UserStats(ctx context.Context, id int64) (*UserStats, error)
	// UsersStats returns the totals of up to MaxStatsBatch users at once,
	// by user ID, as UserStats does (any signed-in actor); unknown IDs are
	// left out.
	UsersStats(ctx context.Context, ids []int64) (map[int64]*UserStats, error)
	// UserTorrents lists a user's accounting rows, the most recently
	// announced first; active restricts them to torrents with an active
	// peer. Only the user, administrators and moderators (the moderate
	// right in any category) may list them (EFORBIDDEN otherwise), and
	// rows of torrents the actor may not see are left out.
	UserTorrents(ctx context.Context, id int64, active bool, p Page) ([]*UserTorrent, error)
}

// SessionService keeps web sessions; tokens are stored as SHA-256.
type SessionService interface {
	// CreateSession returns a new session token for the user; the actor
	// must be the system or that user (after Authenticate).
	CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, error)
	// SessionUser returns the enabled user of an unexpired session
	// (EUNAUTHORIZED otherwise); anyone may call it.
	SessionUser(ctx context.Context, token string) (*User, error)
	// DeleteSession ends a session (signing out); anyone holding it.
	DeleteSession(ctx context.Context, token string) error
}

// NewInvite is the input of CreateInvite.
type NewInvite struct {
	GroupID int64 // 0: the default group
	Admin   bool
	Note    string
	TTL     time.Duration // 0: 7 days
}

// SignUp is the input of SignUp.
type SignUp struct {
	Name, Password string
	InviteCode     string
}

// InviteService handles invitations and sign-up.
type InviteService interface {
	// CreateInvite returns a new invite code (shown once) and the invite
	// (administrators; the system for the first administrator's link).
	CreateInvite(ctx context.Context, in NewInvite) (string, *Invite, error)
	// Invites lists unused, unexpired invites (administrators).
	Invites(ctx context.Context) ([]*Invite, error)
	// DeleteInvite revokes an invite (administrators).
	DeleteInvite(ctx context.Context, id int64) error
	// SignUp creates an account from an invite code, or without one
	// when Settings.Signup is open; anyone may call it.
	SignUp(ctx context.Context, s SignUp) (*User, error)
	// NeedsBootstrap reports whether the site has no administrator yet.
	NeedsBootstrap(ctx context.Context) (bool, error)
}

// NewTokenSpec is the input of CreateToken.
type NewTokenSpec struct {
	UserID int64 // 0: the actor
	Name   string
	Scopes []string
	TTL    time.Duration // 0: no expiry
}

// TokenService manages API tokens (bearer secrets "gale_...", stored as
// SHA-256, scoped, revocable).
type TokenService interface {
	// CreateToken returns the secret (shown once) and the token (the user
	// or administrators).
	CreateToken(ctx context.Context, spec NewTokenSpec) (string, *Token, error)
	// Tokens lists a user's tokens (the user or administrators).
	Tokens(ctx context.Context, userID int64) ([]*Token, error)
	// RevokeToken revokes a token (its user or administrators).
	RevokeToken(ctx context.Context, id int64) error
	// TokenActor returns the actor an API call with secret acts as: the
	// token's enabled user narrowed to its scopes. EUNAUTHORIZED for
	// unknown, revoked or expired tokens. Anyone may call it.
	TokenActor(ctx context.Context, secret string) (Actor, *Token, error)
}

// CategoryUpdate changes a category; nil fields are left alone.
type CategoryUpdate struct {
	Name     *string
	Position *int
}

// GroupService manages groups, categories and rights.
type GroupService interface {
	// Groups lists groups with member counts (administrators).
	Groups(ctx context.Context) ([]*Group, error)
	CreateGroup(ctx context.Context, name string) (*Group, error)
	RenameGroup(ctx context.Context, id int64, name string) (*Group, error)
	// DeleteGroup deletes an empty group other than the default (ECONFLICT
	// otherwise).
	DeleteGroup(ctx context.Context, id int64) error
	// Categories lists the categories the actor may see, by position.
	Categories(ctx context.Context) ([]*Category, error)
	CreateCategory(ctx context.Context, name string, position int) (*Category, error)
	// UpdateCategory: administrators, or the category's administer right.
	UpdateCategory(ctx context.Context, id int64, up CategoryUpdate) (*Category, error)
	// DeleteCategory deletes a category without torrents.
	DeleteCategory(ctx context.Context, id int64) error
	// Rights returns the whole rights table (administrators).
	Rights(ctx context.Context) ([]GroupRights, error)
	// MyRights returns the actor's rights per category ID.
	MyRights(ctx context.Context) (map[int64]Rights, error)
	// SetRights sets a group's rights in a category (normalized; 0
	// removes them). Administrators, or the category's administer right.
	SetRights(ctx context.Context, groupID, categoryID int64, r Rights) error
}

// NewTorrent is the input of AddTorrent.
type NewTorrent struct {
	// Metainfo is the uploaded .torrent; it is prepared with
	// PrepareTorrent using the site name as source.
	Metainfo    []byte
	CategoryID  int64
	OwnerID     int64 // 0: the actor; others only for administrators
	Description string
	Freeleech   bool // moderators only
}

// TorrentUpdate changes a torrent; nil fields are left alone.
type TorrentUpdate struct {
	Description *string // the owner or moderators
	CategoryID  *int64  // moderators of both categories
	Freeleech   *bool   // moderators
}

// Torrent sort orders.
const (
	SortCreated   = "created" // newest first (default)
	SortName      = "name"
	SortSize      = "size" // largest first
	SortSnatches  = "snatches"
	SortRelevance = "relevance" // with a query: best match first
)

// TorrentFilter selects torrents.
type TorrentFilter struct {
	Query      string // full-text search over name, description and file paths
	CategoryID int64
	OwnerID    int64
	// Deleted lists only deleted torrents (moderators: in the categories
	// they moderate); otherwise deleted torrents are left out.
	Deleted bool
	Sort    string
	Page
}

// TorrentService manages torrents.
type TorrentService interface {
	// AddTorrent registers an upload (upload right in the category);
	// ECONFLICT when either info hash is registered already.
	AddTorrent(ctx context.Context, nt NewTorrent) (*Torrent, error)
	// Torrent returns a torrent with its files (see right; deleted ones
	// only for moderators).
	Torrent(ctx context.Context, id int64) (*Torrent, error)
	// TorrentByHash finds a torrent by 40 or 64 hex digits: v1 hash, v2
	// hash or truncated v2 hash.
	TorrentByHash(ctx context.Context, hash string) (*Torrent, error)
	// Torrents lists the torrents the actor may see (without files) and
	// the total matching.
	Torrents(ctx context.Context, f TorrentFilter) ([]*Torrent, int, error)
	UpdateTorrent(ctx context.Context, id int64, up TorrentUpdate) (*Torrent, error)
	// DeleteTorrent marks a torrent deleted with a reason (moderators or
	// the owner). The tracker keeps serving its current peers until the
	// last leecher finishes and tells others the reason for 24 hours.
	DeleteTorrent(ctx context.Context, id int64, reason string) error
	// PersonalTorrent returns the .torrent of torrent id for user userID
	// with announce URLs built by announce from the user's key. The actor
	// must be that user or an administrator (the system included), and the
	// user must be enabled and hold the download right.
	PersonalTorrent(ctx context.Context, id, userID int64, announce func(passkey string) []string) ([]byte, *Torrent, error)
	// AnnounceKey returns user userID's key for torrent id, with the same
	// checks as PersonalTorrent.
	AnnounceKey(ctx context.Context, id, userID int64) (string, error)
	// TorrentPeers lists the peers the accounting saw within the peer TTL
	// (moderators).
	TorrentPeers(ctx context.Context, id int64) ([]*Peer, error)
}

// SettingsUpdate changes settings; nil fields are left alone.
type SettingsUpdate struct {
	SiteName     *string
	Freeleech    *bool
	DoubleUpload *bool
	Signup       *SignupMode
	FlagRate     *int64
	// Secret replaces the key secret (to import XBT's
	// torrent_pass_private_key); every key changes.
	Secret *string
}

// SettingsService reads and changes site settings.
type SettingsService interface {
	// Settings returns the settings; anyone may read them, but Secret is
	// only filled in for the system.
	Settings(ctx context.Context) (*Settings, error)
	// UpdateSettings changes them (administrators).
	UpdateSettings(ctx context.Context, up SettingsUpdate) (*Settings, error)
}

// ClientRuleService manages peer ID prefix rules (administrators).
type ClientRuleService interface {
	ClientRules(ctx context.Context) ([]*ClientRule, error)
	AddClientRule(ctx context.Context, r ClientRule) (*ClientRule, error)
	DeleteClientRule(ctx context.Context, id int64) error
}

// FlagFilter selects flagged deltas.
type FlagFilter struct {
	Open   bool // unresolved only
	UserID int64
	Page
}

// StatsService reads totals and flagged deltas.
type StatsService interface {
	// SiteStats returns the site's totals (any signed-in actor).
	SiteStats(ctx context.Context) (*SiteStats, error)
	// Flags lists flagged deltas, newest first (moderators see those of
	// categories they moderate).
	Flags(ctx context.Context, f FlagFilter) ([]*Flag, error)
	// ResolveFlag marks a flag handled with a note.
	ResolveFlag(ctx context.Context, id int64, note string) error
}

// The tracker's view of the catalog (used by the private tracker policy
// and accounting sink; the system actor is implied).

// TrackerUser is what the tracker needs of a user.
type TrackerUser struct {
	ID         int64
	KeyVersion int64
	GroupID    int64
	Admin      bool
	Disabled   bool
}

// TrackerTorrent is what the tracker needs of a torrent.
type TrackerTorrent struct {
	ID           int64
	Swarm        tracker.InfoHash // Torrent.SwarmHash
	Alias        tracker.InfoHash // Torrent.AliasHash when HasAlias
	HasAlias     bool
	CategoryID   int64
	Freeleech    bool
	Deleted      bool
	DeletedAt    time.Time
	DeleteReason string
}

// TrackerState is everything the tracker needs, read in one transaction.
type TrackerState struct {
	// Seq is the change sequence the state includes (see Changes).
	Seq      int64
	Settings Settings
	Users    []TrackerUser
	Torrents []TrackerTorrent
	Rights   []GroupRights
	Rules    []ClientRule
}

// Change entities.
const (
	ChangeUser     = "user"     // ID is the user
	ChangeTorrent  = "torrent"  // ID is the torrent
	ChangeRights   = "rights"   // the rights table
	ChangeRules    = "rules"    // client rules
	ChangeSettings = "settings" // settings
)

// Change records that an entity changed; Seq numbers are contiguous and
// become visible in order.
type Change struct {
	Seq    int64
	Entity string
	ID     int64
}

// TrackerStore is the tracker's access to the catalog.
type TrackerStore interface {
	// TrackerState reads everything at once.
	TrackerState(ctx context.Context) (*TrackerState, error)
	// ChangeSeq returns the newest change sequence number (cheap; polled
	// several times a second).
	ChangeSeq(ctx context.Context) (int64, error)
	// Changes returns up to limit changes after seq, in order. Old
	// changes are pruned: if the first returned Seq is not seq+1, the
	// caller must reload the whole state.
	Changes(ctx context.Context, after int64, limit int) ([]Change, error)
	// TrackerUsers and TrackerTorrents read the given IDs (missing ones
	// are left out).
	TrackerUsers(ctx context.Context, ids []int64) ([]TrackerUser, error)
	TrackerTorrents(ctx context.Context, ids []int64) ([]TrackerTorrent, error)
	// PeerLasts reads the stored last counters of the given peers.
	PeerLasts(ctx context.Context, keys []PeerKey) (map[PeerKey]PeerLast, error)
	// ActivePeers returns the peers of a torrent that announced since
	// since and did not stop.
	ActivePeers(ctx context.Context, torrentID int64, since time.Time) ([]*Peer, error)
	// ApplyAccounting applies a batch in one transaction: for each update
	// it reads the stored PeerLast (or takes it from known, when present),
	// calls Account, and writes the new PeerLast with the credit to the
	// user's row for the torrent, the user's and torrent's totals and, when
	// flagged, a Flag. It returns the new PeerLast of every update, for the
	// caller's cache. Either all of it is written or nothing.
	ApplyAccounting(ctx context.Context, ups []PeerUpdate, known map[PeerKey]PeerLast, r AccountRules) (map[PeerKey]PeerLast, error)
	// PrunePeers deletes peer rows last seen before t.
	PrunePeers(ctx context.Context, before time.Time) (int64, error)
}
