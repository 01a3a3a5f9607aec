// Package metainfo reads, writes, creates and verifies BitTorrent
// metainfo (.torrent) files in the v1 (BEP 3), v2 (BEP 52) and hybrid
// formats, and handles magnet links (BEP 9, BEP 53).
//
// # Parsing
//
// Parse, Load and Read decode a .torrent file into a Torrent: trackers
// and tiers (announce, BEP 12 announce-list), web seeds (BEP 19
// url-list, a string or a list), HTTP seeds (BEP 17), DHT nodes (BEP 5),
// comment, creator and date outside the info dictionary; name, piece
// length, pieces, private flag (BEP 27), source, the v1 file list with
// BEP 47 padding files, the v2 file tree and meta version inside it; and
// the v2 piece layers. The info dictionary is kept byte for byte
// (Torrent.InfoBytes) and the info hashes are SHA-1 (v1) and SHA-256 (v2)
// over exactly those bytes, never over a re-encoding.
//
// Decoding is tolerant of what real clients accept (unsorted keys,
// leading zeros, trailing bytes: see Torrent.Report; optional fields of
// the wrong type: see Torrent.Warnings), but the info dictionary is
// validated: piece length, pieces against the total size, lengths, the
// file tree, the piece layers against their pieces roots, hybrid
// consistency, and every path (SafePath). Input is hostile: errors are
// *Error values naming the field and byte offset, memory and time are
// linear in the input, and ParseOptions bounds size, files and pieces
// (a million-file torrent is refused before anything is allocated per
// file).
//
// # Safe paths
//
// SafePath is the one place that turns the path components of a torrent
// into a local relative path. Every consumer that touches the file system
// (storage, verification) must go through it.
//
// # Building
//
// Build creates v1, v2 and hybrid torrents from a file or a directory
// (BuildConfig). For the same files, piece length and private flag the
// info dictionary is byte-identical to mktorrent's (v1) and libtorrent's
// create_torrent (v2 with v2_only, and hybrid, including its BEP 47
// padding files). Files are ordered by path bytes; hidden files and
// DefaultJunk are skipped unless asked for; the automatic piece length
// follows AutoPieceLength (rule PieceLengthRule). Output is deterministic:
// no map order reaches it, and with a zero CreationDate and no CreatedBy
// the same input gives the same bytes.
//
// Hashing reads every file once for all formats. Each of Threads workers
// (GOMAXPROCS by default) claims chunks of whole pieces in address order,
// reads a chunk with large positioned reads into its own buffer and
// hashes it while it is still in cache, so every core reads and hashes
// and nothing waits on a single reader. On CPUs with the x86 SHA
// extensions two pieces (v1) or two 16 KiB leaf blocks (v2) are hashed
// in one interleaved pass (see gen_shax2.go), which nearly doubles the
// per-core rate of crypto/sha1 and crypto/sha256. The steady state
// allocates nothing per piece.
//
// # Verifying
//
// Verify checks data on disk against the v1 piece hashes and the v2
// piece layers, in parallel, and reports bad pieces and the files they
// touch; missing or short files are bad data, not errors.
//
// # Magnets and editing
//
// Torrent.Magnet and ParseMagnet convert between torrents and magnet
// links (btih and btmh hashes, name, size, trackers, web seeds, select
// only). Torrent.Marshal writes a torrent with the info dictionary
// verbatim, so edits outside info keep the info hashes; Torrent.EditInfo
// changes name, private flag or source and re-encodes info, giving new
// hashes.
package metainfo
