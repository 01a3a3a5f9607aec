package catalog

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password limits: long enough for passphrases, short enough that hashing
// a hostile input costs nothing extra.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

// Argon2Params are the argon2id cost parameters (RFC 9106).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2 follows the OWASP recommendation for argon2id (19 MiB, 2
// passes, 1 lane), which hashes in tens of milliseconds.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from an encoded hash, so a corrupt row
// cannot make verification take gigabytes.
const (
	maxArgonMemory = 1 << 20 // 1 GiB
	maxArgonTime   = 64
	maxArgonKey    = 128
)

// HashPassword returns the argon2id hash of pw in the PHC string format
// used by the argon2 reference implementation:
//
//	$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// with salt and hash in unpadded standard base64. The zero Argon2Params
// means DefaultArgon2.
func HashPassword(pw string, p Argon2Params) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	if p == (Argon2Params{}) {
		p = DefaultArgon2
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword validates a new password's length and encoding.
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return Errorf(EINVALID, "password is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordLen:
		return Errorf(EINVALID, "password must have at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return Errorf(EINVALID, "password must have at most %d bytes", MaxPasswordLen)
	}
	return nil
}

// VerifyPassword reports whether pw matches encoded (from HashPassword),
// comparing in constant time. stale is true when the hash was made with
// parameters other than p (the caller may re-hash). A malformed encoded
// hash never matches.
func VerifyPassword(pw, encoded string, p Argon2Params) (ok, stale bool) {
	if len(pw) > MaxPasswordLen {
		return false, false
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false
	}
	var q Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &q.Memory, &q.Time, &q.Threads); err != nil {
		return false, false
	}
	if q.Memory == 0 || q.Memory > maxArgonMemory || q.Time == 0 || q.Time > maxArgonTime || q.Threads == 0 {
		return false, false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) == 0 {
		return false, false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > maxArgonKey {
		return false, false
	}
	q.SaltLen, q.KeyLen = uint32(len(salt)), uint32(len(want))
	got := argon2.IDKey([]byte(pw), salt, q.Time, q.Memory, q.Threads, q.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false
	}
	if p == (Argon2Params{}) {
		p = DefaultArgon2
	}
	return true, q != p
}
