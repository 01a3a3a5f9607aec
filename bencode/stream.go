package bencode

import (
	"errors"
	"io"
	"strconv"
)

// DefaultMaxValueSize bounds one value read by a Decoder when
// SetMaxValueSize was not called.
const DefaultMaxValueSize = 64 << 20

// A Decoder reads a stream of concatenated bencoded values. It buffers
// only the value being decoded, and refuses a value whose encoding would
// exceed the configured maximum size before reading it, so a hostile
// length prefix cannot make it allocate.
type Decoder struct {
	r       io.Reader
	buf     []byte
	scanp   int   // start of unread data in buf
	base    int64 // stream offset of buf[0]
	err     error // sticky read error
	opts    DecodeOptions
	maxSize int
	report  Report
}

// NewDecoder returns a Decoder reading from r with strict options.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, maxSize: DefaultMaxValueSize}
}

// SetOptions sets the decoding options for later calls to Decode.
func (dec *Decoder) SetOptions(o DecodeOptions) { dec.opts = o }

// SetMaxValueSize bounds the encoded size of one value.
func (dec *Decoder) SetMaxValueSize(n int) {
	if n > 0 {
		dec.maxSize = n
	}
}

// Report returns what tolerant decoding accepted so far.
func (dec *Decoder) Report() Report { return dec.report }

// InputOffset returns the stream offset just after the last decoded value.
func (dec *Decoder) InputOffset() int64 { return dec.base + int64(dec.scanp) }

// Decode reads the next value from the stream into v. At the end of the
// stream it returns io.EOF; a value cut short returns a *SyntaxError
// wrapping io.ErrUnexpectedEOF semantics in its message.
func (dec *Decoder) Decode(v any) error {
	n, err := dec.readValue()
	if err != nil {
		return err
	}
	d := decodeState{
		data:     dec.buf[dec.scanp : dec.scanp+n],
		base:     dec.base + int64(dec.scanp),
		tolerant: dec.opts.Tolerant,
		maxDepth: dec.opts.maxDepth(),
		report:   &dec.report,
	}
	dec.scanp += n
	return d.unmarshal(v)
}

// readValue makes sure buf[scanp:] holds one whole value and returns its
// length.
func (dec *Decoder) readValue() (int, error) {
	for {
		data := dec.buf[dec.scanp:]
		if len(data) > 0 {
			d := decodeState{data: data, base: dec.base + int64(dec.scanp), tolerant: true, maxDepth: dec.opts.maxDepth()}
			err := d.skip()
			if err == nil {
				return d.pos, nil
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !se.truncated {
				return 0, err
			}
			if need := se.need - (dec.base + int64(dec.scanp)); need > int64(dec.maxSize) {
				return 0, &SyntaxError{Offset: se.Offset, Msg: "value exceeds size limit of " + strconv.Itoa(dec.maxSize) + " bytes"}
			}
			if len(data) >= dec.maxSize {
				return 0, &SyntaxError{Offset: dec.base + int64(dec.scanp), Msg: "value exceeds size limit of " + strconv.Itoa(dec.maxSize) + " bytes"}
			}
		}
		if dec.err != nil {
			if dec.err == io.EOF {
				if len(data) == 0 {
					return 0, io.EOF
				}
				return 0, &SyntaxError{Offset: dec.base + int64(len(dec.buf)), Msg: msgEOF}
			}
			return 0, dec.err
		}
		dec.refill()
	}
}

// refill reads more data, at least doubling what is buffered so that
// rescanning a growing value stays linear overall.
func (dec *Decoder) refill() {
	if dec.scanp > 0 {
		dec.base += int64(dec.scanp)
		n := copy(dec.buf, dec.buf[dec.scanp:])
		dec.buf = dec.buf[:n]
		dec.scanp = 0
	}
	want := max(len(dec.buf), 4096)
	if len(dec.buf)+want > dec.maxSize+1 {
		want = dec.maxSize + 1 - len(dec.buf)
	}
	if cap(dec.buf)-len(dec.buf) < want {
		nb := make([]byte, len(dec.buf), len(dec.buf)+want)
		copy(nb, dec.buf)
		dec.buf = nb
	}
	n, err := dec.r.Read(dec.buf[len(dec.buf):cap(dec.buf)])
	dec.buf = dec.buf[:len(dec.buf)+n]
	if err != nil {
		dec.err = err
	}
}
