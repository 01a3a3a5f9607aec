// Package bencodecmp benchmarks gale's bencode package beside
// github.com/anacrolix/torrent/bencode, a widely used Go implementation.
// It is a separate module so that gale itself does not depend on it.
//
//	cd bench/bencodecmp && go test -bench . -benchmem
package bencodecmp
