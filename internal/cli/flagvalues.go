package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// byteSize is a size flag accepting plain bytes or a unit suffix:
// K/KB/KiB (1024), M/MB/MiB, G/GB/GiB. Units are binary, as piece
// lengths always are.
type byteSize int64

func (b *byteSize) String() string {
	if *b == 0 {
		return "0"
	}
	return formatSize(int64(*b))
}

func (b *byteSize) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q", v)
	}
	var mult int64
	switch strings.ToLower(strings.TrimSpace(s[i:])) {
	case "", "b":
		mult = 1
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("invalid size unit in %q (use B, KiB, MiB or GiB)", v)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q too large", v)
	}
	return n * mult, nil
}

// formatSize prints n bytes in binary units, exactly when possible.
func formatSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f := float64(n)
	u := 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f %s", f, units[u])
	}
	return fmt.Sprintf("%.2f %s", f, units[u])
}

// parseTiers turns repeated -a values into announce tiers: each value is
// one tier and commas inside it separate URLs of the same tier (BEP 12).
func parseTiers(values []string) [][]string {
	var tiers [][]string
	for _, v := range values {
		var tier []string
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u != "" {
				tier = append(tier, u)
			}
		}
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	return tiers
}

// parseTierSpec parses "a,b|c" into tiers: "|" separates tiers and ","
// the URLs of one tier (the syntax of btreannounce's announce list).
func parseTierSpec(s string) [][]string {
	return parseTiers(strings.Split(s, "|"))
}
