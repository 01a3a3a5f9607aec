package catalog

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gale-bt/gale/internal/tracker"
)

// The vectors were computed with Python as XBT sites do (see
// ../shared/seeds: "%s %d %d %s" % (secret, version, uid, digest)):
//
//	/usr/bin/python3 -c 'import hashlib
//	secret=b"s3cr3t-XBT-key"; ih=bytes(range(0x10,0x24))
//	for ver,uid in [(0,1),(3,4660),(1,0xdeadbeef)]:
//	    s=b"%s %d %d %s" % (secret, ver, uid, ih)
//	    print("%08x%s" % (uid, hashlib.sha1(s).hexdigest()[:24]))
//	ih2=hashlib.sha1(b"gale").digest()
//	print("%08x%s" % (7, hashlib.sha1(b"%s %d %d %s" % (b"xbt", 2, 7, ih2)).hexdigest()[:24]))'
func TestPasskeyXBTVectors(t *testing.T) {
	var ih [20]byte
	for i := range ih {
		ih[i] = byte(0x10 + i)
	}
	ih2, _ := hex.DecodeString("b449ee4c45fcb7757e9582ced52f803f22153791") // SHA-1("gale")
	for _, tc := range []struct {
		name    string
		secret  string
		version int64
		uid     uint32
		ih      [20]byte
		want    string
	}{
		{"v0 uid1", "s3cr3t-XBT-key", 0, 1, ih, "00000001e4a4c8c6cf1ef94976ee5c77"},
		{"v3 uid4660", "s3cr3t-XBT-key", 3, 4660, ih, "0000123495d07e9cd18bc706bb502d7f"},
		{"max uid", "s3cr3t-XBT-key", 1, 0xdeadbeef, ih, "deadbeefa1a36954c670a889dfd7c028"},
		{"sha1 hash", "xbt", 2, 7, [20]byte(ih2), "00000007e2322c4ce42beb74d2ccc0d5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Passkey(tc.secret, tc.version, tc.uid, tc.ih)
			if got != tc.want {
				t.Fatalf("Passkey = %s, want %s", got, tc.want)
			}
			if !CheckPasskey([]byte(got), tc.secret, tc.version, tc.uid, &tc.ih) {
				t.Fatal("CheckPasskey refused the right key")
			}
			if uid, ok := PasskeyUser([]byte(got)); !ok || uid != tc.uid {
				t.Fatalf("PasskeyUser = %d, %v", uid, ok)
			}
			// Every other version, user, hash or secret gives another key.
			other := tc.ih
			other[0] ^= 1
			for _, bad := range []bool{
				CheckPasskey([]byte(got), tc.secret, tc.version+1, tc.uid, &tc.ih),
				CheckPasskey([]byte(got), tc.secret, tc.version, tc.uid+1, &tc.ih),
				CheckPasskey([]byte(got), tc.secret, tc.version, tc.uid, &other),
				CheckPasskey([]byte(got), tc.secret+"x", tc.version, tc.uid, &tc.ih),
				CheckPasskey([]byte(strings.ToUpper(got)), tc.secret, tc.version, tc.uid, &tc.ih),
				CheckPasskey([]byte(got[:31]), tc.secret, tc.version, tc.uid, &tc.ih),
			} {
				if bad {
					t.Fatal("CheckPasskey accepted a wrong key")
				}
			}
		})
	}
}

func TestPasskeyUserMalformed(t *testing.T) {
	for _, k := range []string{"", "0000000", strings.Repeat("0", 31), strings.Repeat("0", 33), "0000000G" + strings.Repeat("0", 24), "ABCDEF00" + strings.Repeat("0", 24)} {
		if _, ok := PasskeyUser([]byte(k)); ok {
			t.Errorf("PasskeyUser(%q) accepted", k)
		}
	}
}

func TestCheckPasskeyAllocs(t *testing.T) {
	var ih [20]byte
	key := []byte(Passkey("secret", 1, 42, ih))
	if n := testing.AllocsPerRun(100, func() { CheckPasskey(key, "secret", 1, 42, &ih) }); n != 0 {
		t.Errorf("CheckPasskey allocates %v times", n)
	}
}

func TestFeedKey(t *testing.T) {
	k := FeedKey("secret", 5, 0)
	if len(k) != 32 || !CheckFeedKey(k, "secret", 5, 0) || CheckFeedKey(k, "secret", 5, 1) || CheckFeedKey(k, "other", 5, 0) {
		t.Fatalf("FeedKey %q", k)
	}
	if uid, ok := FeedKeyUser(k); !ok || uid != 5 {
		t.Fatalf("FeedKeyUser = %d, %v", uid, ok)
	}
	if k == Passkey("secret", 0, 5, [20]byte{}) {
		t.Fatal("feed key equals an announce key")
	}
}

func TestPassword(t *testing.T) {
	p := Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h, err := HashPassword("correct horse", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoded = %q", h)
	}
	h2, _ := HashPassword("correct horse", p)
	if h == h2 {
		t.Fatal("same salt twice")
	}
	if ok, stale := VerifyPassword("correct horse", h, p); !ok || stale {
		t.Fatalf("VerifyPassword = %v, %v", ok, stale)
	}
	if ok, stale := VerifyPassword("correct horse", h, Argon2Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}); !ok || !stale {
		t.Fatalf("stale params: %v, %v", ok, stale)
	}
	for _, tc := range []struct{ pw, enc string }{
		{"wrong horse", h},
		{"correct horse", ""},
		{"correct horse", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"},
		{"correct horse", "$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"},
		{"correct horse", "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaA"}, // absurd memory: refused, not run
		{"correct horse", "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaA"},
		{"correct horse", "$argon2id$v=19$m=64,t=1,p=1$!!!$aGFzaA"},
		{"correct horse", strings.Replace(h, "$argon2id", "$$argon2id", 1)},
	} {
		if ok, _ := VerifyPassword(tc.pw, tc.enc, p); ok {
			t.Errorf("VerifyPassword(%q, %q) accepted", tc.pw, tc.enc)
		}
	}
	for _, bad := range []string{"short", strings.Repeat("x", MaxPasswordLen+1), "bad\xffutf8!!"} {
		if _, err := HashPassword(bad, p); ErrorCode(err) != EINVALID {
			t.Errorf("HashPassword(%q): %v", bad, err)
		}
	}
}

func TestRights(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Rights
		str  string
	}{
		{"", 0, "none"},
		{"none", 0, "none"},
		{"see", RightSee, "see"},
		{"download", RightSee | RightDownload, "see,download"},
		{"upload", RightSee | RightUpload, "see,upload"},
		{"moderate", RightSee | RightDownload | RightModerate, "see,download,moderate"},
		{"administer", RightsAll, "see,download,upload,moderate,administer"},
		{"all", RightsAll, "see,download,upload,moderate,administer"},
		{" See , UPLOAD ", RightSee | RightUpload, "see,upload"},
	} {
		got, err := ParseRights(tc.in)
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseRights(%q) = %v (%s), %v; want %v", tc.in, got, got, err, tc.want)
		}
		var r Rights
		if err := r.UnmarshalText([]byte(tc.str)); err != nil || r != tc.want {
			t.Errorf("round trip %q = %v, %v", tc.str, r, err)
		}
	}
	if _, err := ParseRights("see,fly"); ErrorCode(err) != EINVALID {
		t.Errorf("ParseRights(fly): %v", err)
	}
	if Rights(0xff).Normalize() != RightsAll {
		t.Error("Normalize keeps unknown bits")
	}
	tab := RightsTable{{GroupID: 1, CategoryID: 10}: RightSee, {GroupID: 2, CategoryID: 10}: RightsAll, {GroupID: 1, CategoryID: 11}: RightDownload | RightSee}
	user := &User{ID: 1, GroupID: 1}
	for _, tc := range []struct {
		name string
		a    Actor
		cat  int64
		want Rights
	}{
		{"group rights", Actor{User: user}, 10, RightSee},
		{"other category", Actor{User: user}, 12, 0},
		{"admin", Actor{User: &User{Admin: true, GroupID: 1}}, 12, RightsAll},
		{"disabled admin", Actor{User: &User{Admin: true, Disabled: true}}, 12, 0},
		{"disabled", Actor{User: &User{GroupID: 2, Disabled: true}}, 10, 0},
		{"system", Actor{System: true}, 99, RightsAll},
		{"anonymous", Actor{}, 10, 0},
	} {
		if got := tab.ActorRights(tc.a, tc.cat); got != tc.want {
			t.Errorf("%s: ActorRights = %v, want %v", tc.name, got, tc.want)
		}
	}
	ids, all := tab.Categories(Actor{User: user}, RightDownload)
	if all || len(ids) != 1 || ids[0] != 11 {
		t.Errorf("Categories = %v, %v", ids, all)
	}
}

func TestClientAllowed(t *testing.T) {
	deny := []ClientRule{{Prefix: "-XX", Allow: false}, {Prefix: "-XX1", Allow: true}}
	allow := []ClientRule{{Prefix: "-TR", Allow: true}, {Prefix: "-TR2", Allow: false}, {Prefix: "-qB", Allow: true}}
	for _, tc := range []struct {
		name  string
		rules []ClientRule
		id    string
		want  bool
	}{
		{"no rules", nil, "-AB1234-", true},
		{"denied", deny, "-XX2000-", false},
		{"longer allow wins", deny, "-XX1000-", true},
		{"unmatched with an allow rule", deny, "-TR4000-", false},
		{"unmatched with only denies", deny[:1], "-TR4000-", true},
		{"whitelisted", allow, "-TR4060-", true},
		{"longer deny wins", allow, "-TR2940-", false},
		{"not on the whitelist", allow, "-UT3500-", false},
		{"short id", allow, "-T", false},
		{"binary", []ClientRule{{Prefix: "\x00\xff", Allow: false}}, "\x00\xffabc", false},
	} {
		if got := ClientAllowed(tc.rules, []byte(tc.id)); got != tc.want {
			t.Errorf("%s: ClientAllowed(%q) = %v", tc.name, tc.id, got)
		}
	}
}

func TestErrors(t *testing.T) {
	wrapped := fmt.Errorf("context: %w", Errorf(ECONFLICT, "taken"))
	for _, tc := range []struct {
		err    error
		code   string
		msg    string
		status int
	}{
		{nil, "", "", 200},
		{Errorf(ENOTFOUND, "no such %s", "user"), ENOTFOUND, "no such user", 404},
		{wrapped, ECONFLICT, "taken", 409},
		{Errorf(EUNAUTHORIZED, "x"), EUNAUTHORIZED, "x", 401},
		{Errorf(EFORBIDDEN, "x"), EFORBIDDEN, "x", 403},
		{Errorf(EINVALID, "x"), EINVALID, "x", 400},
		{errors.New("disk on fire at /var/lib/secret"), EINTERNAL, "internal error", 500},
	} {
		if ErrorCode(tc.err) != tc.code || ErrorMessage(tc.err) != tc.msg || HTTPStatus(ErrorCode(tc.err)) != tc.status {
			t.Errorf("%v: code %q msg %q status %d", tc.err, ErrorCode(tc.err), ErrorMessage(tc.err), HTTPStatus(ErrorCode(tc.err)))
		}
	}
}

func TestSearchTerms(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Foo.Bar-2024", "foo bar 2024"},
		{`"a" OR b*`, "a or b"},
		{"'; DROP TABLE x; --", "drop table x"},
		{"Café  Ümlaut", "café ümlaut"},
		{"", ""},
		{"a b c d e f g h i j", "a b c d e f g h"},
		{strings.Repeat("é", 40), strings.Repeat("é", 32)},
	} {
		if got := strings.Join(SearchTerms(tc.in), " "); got != tc.want {
			t.Errorf("SearchTerms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := SearchText("A.B", "c <b>d</b>", []File{{Path: "dir/e_f.mkv"}}); got != "a b c b d b dir e f mkv" {
		t.Errorf("SearchText = %q", got)
	}
}

func TestUserNames(t *testing.T) {
	for name, ok := range map[string]bool{"alice": true, "A.b-c_d9": true, "9lives": true, "": false, ".x": false,
		"a b": false, "ünï": false, strings.Repeat("a", 33): false, "a\x00": false} {
		if err := CheckUserName(name); (err == nil) != ok {
			t.Errorf("CheckUserName(%q) = %v", name, err)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		up, down int64
		want     float64
	}{{0, 0, 0}, {10, 0, math.Inf(1)}, {10, 20, 0.5}} {
		s := UserStats{Uploaded: tc.up, Downloaded: tc.down}
		if s.Ratio() != tc.want {
			t.Errorf("Ratio(%d/%d) = %v", tc.up, tc.down, s.Ratio())
		}
	}
}

func obsAt(sec int, up, down, left uint64, ev tracker.Event) Observation {
	return Observation{Uploaded: up, Downloaded: down, Left: left, At: int64(sec) * int64(time.Second), Event: ev}
}

// TestAccountFolding checks that folding announces into one update, or
// merging updates, credits the same as applying them one by one.
func TestAccountFolding(t *testing.T) {
	seq := []Observation{
		obsAt(0, 0, 0, 100, tracker.EventStarted),
		obsAt(10, 50, 40, 60, 0),
		obsAt(20, 70, 100, 0, tracker.EventCompleted),
		obsAt(30, 10, 0, 0, tracker.EventStarted), // restart
		obsAt(40, 30, 0, 0, tracker.EventStopped),
		obsAt(100, 5, 0, 0, tracker.EventStarted),
	}
	k := PeerKey{UserID: 1, TorrentID: 2}
	// One by one.
	var last PeerLast
	var sum Credit
	for _, o := range seq {
		u := NewPeerUpdate(k, "", o)
		var c Credit
		last, c = Account(last, &u, AccountRules{})
		sum.RawUp += c.RawUp
		sum.RawDown += c.RawDown
		sum.Seed += c.Seed
		sum.Leech += c.Leech
		sum.Completed = sum.Completed || c.Completed
	}
	want := Credit{RawUp: 70 + 30 + 5, RawDown: 100, Seed: 20 * time.Second, Leech: 20 * time.Second, Completed: true}
	if sum.RawUp != want.RawUp || sum.RawDown != want.RawDown || sum.Seed != want.Seed || sum.Leech != want.Leech || !sum.Completed {
		t.Fatalf("one by one: %+v, want %+v", sum, want)
	}
	// Folded into one update.
	u := NewPeerUpdate(k, "", seq[0])
	for _, o := range seq[1:] {
		u.Add("", o, 0)
	}
	next, c := Account(PeerLast{}, &u, AccountRules{})
	if c.RawUp != want.RawUp || c.RawDown != want.RawDown || c.Seed != want.Seed || c.Leech != want.Leech || !c.Completed || next != last {
		t.Fatalf("folded: %+v next %+v, want %+v next %+v", c, next, want, last)
	}
	// Merged from two halves.
	a := NewPeerUpdate(k, "", seq[0])
	for _, o := range seq[1:3] {
		a.Add("", o, 0)
	}
	b := NewPeerUpdate(k, "", seq[3])
	for _, o := range seq[4:] {
		b.Add("", o, 0)
	}
	a.Merge(&b, 0)
	if _, c2 := Account(PeerLast{}, &a, AccountRules{}); c2 != c {
		t.Fatalf("merged: %+v, want %+v", c2, c)
	}
	// The same update again: nothing.
	if again, c3 := Account(next, &u, AccountRules{}); again != next || c3 != (Credit{}) {
		t.Fatalf("replayed: %+v %+v", again, c3)
	}
}

func TestAccountRules(t *testing.T) {
	k := PeerKey{}
	prev := PeerLast{Exists: true, Uploaded: 100, Downloaded: 100, Left: 0, At: 0}
	u := NewPeerUpdate(k, "", obsAt(10, 100+20000, 100+5000, 0, 0))
	u.Freeleech, u.DoubleUpload = true, true
	_, c := Account(prev, &u, AccountRules{FlagRate: 1000})
	if c.Up != 40000 || c.Down != 0 || c.RawUp != 20000 || c.RawDown != 5000 || !c.Flagged || c.Rate != 2000 || c.Seed != 10*time.Second {
		t.Fatalf("credit = %+v", c)
	}
	_, c = Account(prev, &u, AccountRules{FlagRate: 5000})
	if c.Flagged {
		t.Fatal("flagged under the rate")
	}
	// Time beyond MaxGap is capped.
	u = NewPeerUpdate(k, "", obsAt(10000, 100, 100, 0, 0))
	if _, c = Account(prev, &u, AccountRules{MaxGap: time.Minute}); c.Seed != time.Minute {
		t.Fatalf("capped seed = %v", c.Seed)
	}
}

func TestPrepareTorrentErrors(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("de"), []byte("d4:infod4:name1:xee"), bytes.Repeat([]byte{'l'}, 1000)} {
		if _, err := PrepareTorrent(data, "site"); ErrorCode(err) != EINVALID {
			t.Errorf("PrepareTorrent(%q): %v", data, err)
		}
	}
	if _, err := ParseHash("zz"); ErrorCode(err) != EINVALID {
		t.Error("ParseHash accepted zz")
	}
}

func TestCounterSessions(t *testing.T) {
	const s = int64(time.Second)
	obs := func(up, down, left uint64, at int64, ev tracker.Event) Observation {
		return Observation{Uploaded: up, Downloaded: down, Left: left, At: at * s, Event: ev}
	}
	tests := []struct {
		name     string
		seq      []Observation
		wantDown int64
	}{
		{"growing", []Observation{obs(0, 0, 10, 0, tracker.EventStarted), obs(0, 5, 5, 1, 0), obs(0, 10, 0, 2, tracker.EventCompleted)}, 10},
		// libtorrent lowers its counter after a failed piece: the credit
		// follows the last report.
		{"lowered in session", []Observation{obs(0, 0, 10, 0, tracker.EventStarted), obs(0, 1573798, 16384, 1, 0),
			obs(0, 1572864, 0, 2, tracker.EventCompleted), obs(0, 1572864, 0, 3, tracker.EventStopped)}, 1572864},
		// started resent after a tracker failure with growing counters is
		// the same session.
		{"started resent", []Observation{obs(0, 100, 10, 0, tracker.EventStarted), obs(0, 150, 5, 1, tracker.EventStarted)}, 150},
		// a new session after stopped counts from zero again.
		{"new session", []Observation{obs(0, 100, 0, 0, tracker.EventStarted), obs(0, 100, 0, 1, tracker.EventStopped),
			obs(0, 20, 0, 2, tracker.EventStarted), obs(0, 30, 0, 3, 0)}, 130},
		{"hostile huge", []Observation{obs(0, 1<<63+5, 0, 0, 0), obs(0, 1<<64-1, 0, 1, 0)}, 1<<63 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Applied one announce per flush, and all in one update: same result.
			var prev PeerLast
			var total int64
			for _, o := range tt.seq {
				u := NewPeerUpdate(PeerKey{}, "", o)
				var c Credit
				prev, c = Account(prev, &u, AccountRules{})
				total += c.RawDown
			}
			if total != tt.wantDown {
				t.Errorf("per-announce flushes credit %d, want %d", total, tt.wantDown)
			}
			u := NewPeerUpdate(PeerKey{}, "", tt.seq[0])
			for _, o := range tt.seq[1:] {
				u.Add("", o, 0)
			}
			if _, c := Account(PeerLast{}, &u, AccountRules{}); c.RawDown != tt.wantDown {
				t.Errorf("one folded update credits %d, want %d", c.RawDown, tt.wantDown)
			}
		})
	}
}
