package cli

import (
	"reflect"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"262144", 262144, false},
		{"256KiB", 256 << 10, false},
		{"256k", 256 << 10, false},
		{"4MiB", 4 << 20, false},
		{"4 MB", 4 << 20, false},
		{"1GiB", 1 << 30, false},
		{"", 0, true},
		{"KiB", 0, true},
		{"12XB", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999999G", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestParseTiers(t *testing.T) {
	got := parseTiers([]string{"http://a/announce,http://b/announce", " udp://c:1 ", ","})
	want := [][]string{{"http://a/announce", "http://b/announce"}, {"udp://c:1"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseTiers = %v", got)
	}
	got = parseTierSpec("a,b|c||d")
	want = [][]string{{"a", "b"}, {"c"}, {"d"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseTierSpec = %v", got)
	}
}

func TestFormatSize(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.50 KiB", 4 << 20: "4 MiB"} {
		if got := formatSize(in); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", in, got, want)
		}
	}
}
