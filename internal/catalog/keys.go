package catalog

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// PasskeyLen is the length of an announce key: 8 hex digits of the user ID
// and 24 of the digest.
const PasskeyLen = 32

// MaxKeyUserID is the largest user ID an announce key can carry.
const MaxKeyUserID = 1<<32 - 1

// Passkey returns the announce key of user uid for the torrent whose
// 20-byte swarm info hash is ih, exactly as XBT Tracker computes it, so
// that URLs a site already hands out keep working:
//
//	"%08x" % uid + hex(SHA-1("<secret> <keyVersion> <uid> <ih bytes>"))[:24]
//
// where the info hash is the raw 20 bytes (the v1 hash; the truncated v2
// hash for v2-only torrents, see Torrent.SwarmHash). Bumping keyVersion
// (User.KeyVersion) invalidates every key of the user at once. Keys are
// secrets: never log them.
func Passkey(secret string, keyVersion int64, uid uint32, ih [20]byte) string {
	var buf [PasskeyLen]byte
	appendPasskey(buf[:0], secret, keyVersion, uid, &ih)
	return string(buf[:])
}

// appendPasskey appends the key to dst without allocating when the
// message fits the stack buffer.
func appendPasskey(dst []byte, secret string, keyVersion int64, uid uint32, ih *[20]byte) []byte {
	var mb [256]byte
	m := append(mb[:0], secret...)
	m = append(m, ' ')
	m = strconv.AppendInt(m, keyVersion, 10)
	m = append(m, ' ')
	m = strconv.AppendUint(m, uint64(uid), 10)
	m = append(m, ' ')
	m = append(m, ih[:]...)
	sum := sha1.Sum(m)
	var u [4]byte
	u[0], u[1], u[2], u[3] = byte(uid>>24), byte(uid>>16), byte(uid>>8), byte(uid)
	dst = hex.AppendEncode(dst, u[:])
	return hex.AppendEncode(dst, sum[:12])
}

// PasskeyUser returns the user ID carried by an announce key, or false
// when key does not have the form of one (32 lower-case hex digits).
func PasskeyUser(key []byte) (uint32, bool) {
	if len(key) != PasskeyLen {
		return 0, false
	}
	var uid uint32
	for i, c := range key {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			return 0, false
		}
		if i < 8 {
			uid = uid<<4 | uint32(v)
		}
	}
	return uid, true
}

// CheckPasskey reports whether key is the announce key of uid (with
// keyVersion and secret) for ih, comparing the digest in constant time.
// It does not allocate.
func CheckPasskey(key []byte, secret string, keyVersion int64, uid uint32, ih *[20]byte) bool {
	if len(key) != PasskeyLen {
		return false
	}
	var want [PasskeyLen]byte
	appendPasskey(want[:0], secret, keyVersion, uid, ih)
	return subtle.ConstantTimeCompare(key, want[:]) == 1
}

// FeedKey returns the key of user uid's RSS feed: "%08x" % uid followed
// by 24 hex digits of HMAC-SHA-256(secret, "gale-feed <uid> <version>").
// Bumping version (User.FeedVersion) revokes it; nothing is stored.
func FeedKey(secret string, uid int64, version int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("gale-feed " + strconv.FormatInt(uid, 10) + " " + strconv.FormatInt(version, 10)))
	sum := mac.Sum(nil)
	var u [4]byte
	u[0], u[1], u[2], u[3] = byte(uid>>24), byte(uid>>16), byte(uid>>8), byte(uid)
	return hex.EncodeToString(u[:]) + hex.EncodeToString(sum[:12])
}

// CheckFeedKey reports in constant time whether key is FeedKey(secret,
// uid, version).
func CheckFeedKey(key, secret string, uid, version int64) bool {
	return subtle.ConstantTimeCompare([]byte(key), []byte(FeedKey(secret, uid, version))) == 1
}

// FeedKeyUser returns the user ID carried by a feed key.
func FeedKeyUser(key string) (int64, bool) {
	uid, ok := PasskeyUser([]byte(key))
	return int64(uid), ok
}

// NewSecret returns a new random site secret (for keys): 32 characters
// of URL-safe base64, like the random torrent_pass_private_key of XBT.
func NewSecret() string { return randomToken(24) }

// randomToken returns n random bytes in unpadded URL-safe base64.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // cannot happen (Go 1.24+)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewToken returns a new random bearer secret with the given prefix
// ("gale_" for API tokens, "" for sessions and invites) and the SHA-256
// hex digest that is stored in its place.
func NewToken(prefix string) (secret, hash string) {
	secret = prefix + randomToken(32)
	return secret, HashToken(secret)
}

// HashToken returns the stored form of a bearer secret: hex SHA-256.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
