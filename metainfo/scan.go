package metainfo

import (
	"fmt"
	"math"
)

// cursor walks bencoded bytes in a single pass. It is used only on input
// that bencode already validated (tolerant mode), so it can stay small,
// but it still checks every bound and never panics. Positions are
// offsets into data; base turns them into offsets of the whole input for
// error messages. Dictionaries and lists are walked with enter and next,
// without closures, so that hot loops do not allocate.
type cursor struct {
	data  []byte
	base  int64 // offset of data[0] in the whole input
	pos   int
	depth int
}

// maxScanDepth bounds recursion in skip; bencode's own limit is lower.
const maxScanDepth = 1000

// kind names the value at pos for error messages.
func (c *cursor) kind() string {
	if c.pos >= len(c.data) {
		return "end of input"
	}
	switch b := c.data[c.pos]; {
	case b == 'i':
		return "integer"
	case b == 'l':
		return "list"
	case b == 'd':
		return "dictionary"
	case b >= '0' && b <= '9':
		return "string"
	}
	return "invalid byte"
}

func (c *cursor) is(b byte) bool { return c.pos < len(c.data) && c.data[c.pos] == b }

func (c *cursor) isString() bool {
	return c.pos < len(c.data) && c.data[c.pos] >= '0' && c.data[c.pos] <= '9'
}

// typeErr is returned when the value at pos has the wrong kind; the
// caller decides whether to skip it or fail.
type typeErr struct {
	off  int64
	want string
	got  string
}

func (e *typeErr) Error() string { return "want " + e.want + ", found " + e.got }

func (c *cursor) mismatch(want string) error {
	return &typeErr{off: c.base + int64(c.pos), want: want, got: c.kind()}
}

func (c *cursor) syntax(msg string) error {
	return &Error{Offset: c.base + int64(c.pos), Msg: msg}
}

// integer reads an integer value; leading zeros and "-0" were already
// accepted by tolerant validation.
func (c *cursor) integer() (int64, error) {
	if !c.is('i') {
		return 0, c.mismatch("integer")
	}
	p := c.pos + 1
	neg := false
	if p < len(c.data) && c.data[p] == '-' {
		neg = true
		p++
	}
	var mag uint64
	start := p
	for p < len(c.data) && c.data[p] >= '0' && c.data[p] <= '9' {
		if mag > (math.MaxUint64-9)/10 {
			return 0, c.syntax("integer overflows 64 bits")
		}
		mag = mag*10 + uint64(c.data[p]-'0')
		p++
	}
	if p == start || p >= len(c.data) || c.data[p] != 'e' {
		return 0, c.syntax("malformed integer")
	}
	if (!neg && mag > math.MaxInt64) || (neg && mag > 1<<63) {
		return 0, c.syntax("integer overflows 64 bits")
	}
	c.pos = p + 1
	if neg {
		return int64(-mag), nil
	}
	return int64(mag), nil
}

// bytes reads a string value as a sub-slice of the input.
func (c *cursor) bytes() ([]byte, error) {
	if !c.isString() {
		return nil, c.mismatch("string")
	}
	p := c.pos
	n := 0
	for p < len(c.data) && c.data[p] >= '0' && c.data[p] <= '9' {
		if n > (math.MaxInt32-9)/10 {
			return nil, c.syntax("string length too large")
		}
		n = n*10 + int(c.data[p]-'0')
		p++
	}
	if p >= len(c.data) || c.data[p] != ':' {
		return nil, c.syntax("malformed string length")
	}
	p++
	if n > len(c.data)-p {
		return nil, c.syntax(fmt.Sprintf("string length %d exceeds remaining input", n))
	}
	c.pos = p + n
	return c.data[p : p+n : p+n], nil
}

// string reads a string value into a new string.
func (c *cursor) string() (string, error) {
	b, err := c.bytes()
	return string(b), err
}

// enter steps into the list ('l') or dictionary ('d') at pos.
func (c *cursor) enter(kind byte) error {
	if !c.is(kind) {
		if kind == 'd' {
			return c.mismatch("dictionary")
		}
		return c.mismatch("list")
	}
	c.pos++
	return nil
}

// next reports whether the list or dictionary being walked has another
// element, consuming its end marker when not.
func (c *cursor) next() (bool, error) {
	if c.pos >= len(c.data) {
		return false, c.syntax("unexpected end of input")
	}
	if c.data[c.pos] == 'e' {
		c.pos++
		return false, nil
	}
	return true, nil
}

// key reads a dictionary key and returns it with its offset.
func (c *cursor) key() ([]byte, int, error) {
	ko := c.pos
	k, err := c.bytes()
	return k, ko, err
}

// dict calls fn for each key of the dictionary at pos; fn must consume
// exactly one value (or call skip). For cold paths; hot loops use enter,
// next and key.
func (c *cursor) dict(fn func(key []byte, keyOff int) error) error {
	if err := c.enter('d'); err != nil {
		return err
	}
	for {
		more, err := c.next()
		if err != nil || !more {
			return err
		}
		key, ko, err := c.key()
		if err != nil {
			return err
		}
		if err := fn(key, ko); err != nil {
			return err
		}
	}
}

// list calls fn for each element of the list at pos; fn must consume
// exactly one value.
func (c *cursor) list(fn func(i int) error) error {
	if err := c.enter('l'); err != nil {
		return err
	}
	for i := 0; ; i++ {
		more, err := c.next()
		if err != nil || !more {
			return err
		}
		if err := fn(i); err != nil {
			return err
		}
	}
}

// skip steps over one value of any kind.
func (c *cursor) skip() error {
	if c.pos >= len(c.data) {
		return c.syntax("unexpected end of input")
	}
	switch b := c.data[c.pos]; {
	case b == 'i':
		_, err := c.integer()
		return err
	case b >= '0' && b <= '9':
		_, err := c.bytes()
		return err
	case b == 'l' || b == 'd':
		if c.depth++; c.depth > maxScanDepth {
			return c.syntax("nesting too deep")
		}
		c.pos++
		for {
			more, err := c.next()
			if err != nil {
				return err
			}
			if !more {
				c.depth--
				return nil
			}
			if b == 'd' {
				if _, err := c.bytes(); err != nil {
					return err
				}
			}
			if err := c.skip(); err != nil {
				return err
			}
		}
	}
	return c.syntax(fmt.Sprintf("invalid byte %q at start of value", c.data[c.pos]))
}

// raw steps over one value and returns its start and end offsets.
func (c *cursor) raw() (start, end int, err error) {
	start = c.pos
	if err := c.skip(); err != nil {
		return 0, 0, err
	}
	return start, c.pos, nil
}
