package catalog

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAnnounceKey feeds keys from the network (HTTP path, BEP 41 URL
// data) to the parser and checker: no panic, only the true key passes.
func FuzzAnnounceKey(f *testing.F) {
	var ih [20]byte
	f.Add([]byte(Passkey("secret", 1, 42, ih)))
	f.Add([]byte("0000002a" + strings.Repeat("f", 24)))
	f.Add([]byte(""))
	f.Add([]byte("../../etc/passwd"))
	f.Fuzz(func(t *testing.T, key []byte) {
		uid, ok := PasskeyUser(key)
		if !ok {
			if CheckPasskey(key, "secret", 1, uid, &ih) {
				t.Fatal("a malformed key passed")
			}
			return
		}
		if len(key) != PasskeyLen {
			t.Fatalf("PasskeyUser accepted %d bytes", len(key))
		}
		if CheckPasskey(key, "secret", 1, uid, &ih) != (string(key) == Passkey("secret", 1, uid, ih)) {
			t.Fatal("CheckPasskey disagrees with Passkey")
		}
	})
}

// FuzzSearchTerms checks that search terms hold only letters and digits,
// within the limits, whatever users type.
func FuzzSearchTerms(f *testing.F) {
	for _, s := range []string{"ubuntu 24.04", `"a" OR b*`, "'; DROP TABLE x; --", "Café", "\xff\xfe", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms := SearchTerms(q)
		if len(terms) > MaxSearchTerms {
			t.Fatalf("%d terms", len(terms))
		}
		for _, term := range terms {
			if term == "" || len(term) > MaxSearchTermLen || !utf8.ValidString(term) {
				t.Fatalf("bad term %q", term)
			}
			for _, r := range term {
				if notWordRune(r) {
					t.Fatalf("term %q holds %q", term, r)
				}
			}
		}
	})
}
