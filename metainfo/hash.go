package metainfo

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// chunkTarget is the amount of the address space a worker reads and
// hashes at a time: large reads, yet small enough to stay in cache
// between the copy and the hashing.
const chunkTarget = 1 << 20

// maxBuffers bounds the memory of all workers' chunk buffers together.
const maxBuffers = 1 << 30

// spanFile is a file placed in the piece address space.
type spanFile struct {
	path string // on disk
	size int64
	off  int64 // start in the piece address space
}

// hashJob describes the piece address space to hash: files in order,
// gaps between them (BEP 47 padding) read as zeros.
type hashJob struct {
	files []spanFile
	pl    int64
	end   int64 // end of the piece address space
	v1    bool  // SHA-1 over every piece, padding included
	v2    bool  // SHA-256 merkle subtree per piece of each file
	// total is the number of file bytes, for progress.
	total    int64
	threads  int
	progress func(done, total int64)
	// missing, when set, makes a missing or short file read as zeros and
	// be reported through it instead of failing (Verify). It is called
	// from the workers, under a lock.
	missing func(file int)
	// skipHoles skips hashing chunks that hold no file data at all
	// (Verify: such pieces are bad anyway).
	skipHoles bool

	mu       sync.Mutex
	firstErr error
}

// hashOutput holds the hashes by piece index of the address space.
type hashOutput struct {
	pieces []byte // v1: 20 bytes per piece
	layer  []byte // v2: 32 bytes per piece; a file's pieces are contiguous
}

func (j *hashJob) numPieces() int64 { return (j.end + j.pl - 1) / j.pl }

// run hashes the address space. It is cut into chunks of whole pieces
// (about chunkTarget bytes); j.threads workers (GOMAXPROCS by default)
// claim chunks in address order, each reading its chunk with large
// positioned reads into its own reusable buffer (files read in sequence,
// gaps as zeros) and hashing the pieces at once while the data is in
// cache. With no separate reader there is nothing to wait for: every
// core reads and hashes. Results land by piece index; the steady state
// allocates nothing per piece. The calling goroutine reports progress.
// A cancelled ctx stops every worker before its next piece.
func (j *hashJob) run(ctx context.Context) (*hashOutput, error) {
	out := &hashOutput{}
	np := j.numPieces()
	if j.v1 {
		out.pieces = make([]byte, np*20)
	}
	if j.v2 {
		out.layer = make([]byte, np*32)
	}
	threads := j.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	// At least two pieces per chunk, so pieces hash in pairs, unless
	// pieces are huge.
	per := max(1, chunkTarget/j.pl)
	if j.pl <= 16<<20 {
		per = max(2, per)
	}
	size := per * j.pl
	nchunks := (j.end + size - 1) / size
	// No more workers than chunks, and at most maxBuffers bytes of
	// buffers (huge pieces on many cores).
	threads = int(min(int64(threads), max(nchunks, 1), max(maxBuffers/size, 1)))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	progress := make(chan int64, 4*threads)
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newPieceWorker(j, out, int(size))
			defer w.close()
			for ctx.Err() == nil {
				ci := next.Add(1) - 1
				if ci >= nchunks {
					return
				}
				start := ci * size
				n := min(size, j.end-start)
				data, err := w.fill(start, n)
				if err != nil {
					j.fail(err)
					cancel()
					return
				}
				if data > 0 || !j.skipHoles {
					w.hashChunk(ctx, start, w.buf[:n])
				}
				if j.progress != nil {
					progress <- data
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(progress)
	}()
	var done int64
	for n := range progress {
		done += n
		j.progress(done, j.total)
	}
	if j.firstErr != nil {
		return nil, j.firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if j.progress != nil {
		j.progress(j.total, j.total)
	}
	return out, nil
}

func (j *hashJob) fail(err error) {
	j.mu.Lock()
	if j.firstErr == nil {
		j.firstErr = err
	}
	j.mu.Unlock()
}

// fill reads [start, start+n) of the address space into w.buf, zeros in
// the gaps, and returns how many file bytes it read.
func (w *pieceWorker) fill(start, n int64) (int64, error) {
	files := w.j.files
	buf := w.buf[:n]
	end := start + n
	// First file ending after start.
	lo, hi := 0, len(files)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if files[m].off+files[m].size <= start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	var data int64
	pos := start
	for i := lo; i < len(files) && pos < end; i++ {
		sf := &files[i]
		if sf.size == 0 {
			continue
		}
		if sf.off >= end {
			break
		}
		if sf.off > pos {
			clear(buf[pos-start : sf.off-start])
			pos = sf.off
		}
		m := min(end, sf.off+sf.size) - pos
		if err := w.readAt(i, buf[pos-start:pos-start+m], pos-sf.off); err != nil {
			return 0, err
		}
		data += m
		pos += m
	}
	clear(buf[pos-start:])
	return data, nil
}

// readAt reads dst from file i at offset off. The worker keeps the last
// file it used open. In Verify mode a missing or short file reads as
// zeros and is reported.
func (w *pieceWorker) readAt(i int, dst []byte, off int64) error {
	sf := &w.j.files[i]
	if w.fi != i || w.f == nil {
		w.close()
		w.fi = i
		f, err := os.Open(sf.path)
		if err != nil {
			return w.broken(i, dst, 0, err)
		}
		w.f = f
	}
	n, err := w.f.ReadAt(dst, off)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%s: file is shorter than %d bytes (changed while hashing?)", sf.path, sf.size)
		}
		return w.broken(i, dst, n, err)
	}
	return nil
}

func (w *pieceWorker) broken(i int, dst []byte, n int, err error) error {
	if w.j.missing == nil {
		return err
	}
	w.j.mu.Lock()
	w.j.missing(i)
	w.j.mu.Unlock()
	clear(dst[n:])
	return nil
}

func (w *pieceWorker) close() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}

// pieceWorker hashes pieces; its scratch space makes it allocation free.
type pieceWorker struct {
	j       *hashJob
	out     *hashOutput
	buf     []byte   // one chunk
	f       *os.File // open handle of files[fi]
	fi      int
	scratch []byte // leaf hashes of one piece
	v2files []int  // indices of non-empty files, by offset
	lpp     int64  // leaves per piece
}

func newPieceWorker(j *hashJob, out *hashOutput, size int) *pieceWorker {
	w := &pieceWorker{j: j, out: out, buf: make([]byte, size), fi: -1}
	if j.v2 {
		w.lpp = j.pl / BlockSize
		w.scratch = make([]byte, w.lpp*32)
		for i := range j.files {
			if j.files[i].size > 0 {
				w.v2files = append(w.v2files, i)
			}
		}
	}
	return w
}

// fileAt returns the non-empty file containing address a, or nil.
func (w *pieceWorker) fileAt(a int64) *spanFile {
	lo, hi := 0, len(w.v2files)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if w.j.files[w.v2files[m]].off <= a {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return nil
	}
	f := &w.j.files[w.v2files[lo-1]]
	if a >= f.off+f.size {
		return nil
	}
	return f
}

// hashChunk hashes the pieces of buf, which holds the address space
// from start (a piece boundary). Full pieces are SHA-1 hashed two at a
// time (sha1Pair), and leaf blocks SHA-256 hashed two at a time.
func (w *pieceWorker) hashChunk(ctx context.Context, start int64, buf []byte) {
	pl := int(w.j.pl)
	first := start / int64(pl)
	if w.j.v1 {
		var h, h2 [20]byte
		for off := 0; off < len(buf); {
			if ctx.Err() != nil {
				return
			}
			p := first + int64(off/pl)
			if off+2*pl <= len(buf) {
				sha1Pair(buf[off:off+pl], buf[off+pl:off+2*pl], &h, &h2)
				copy(w.out.pieces[p*20:], h[:])
				copy(w.out.pieces[(p+1)*20:], h2[:])
				off += 2 * pl
				continue
			}
			h = sha1.Sum(buf[off:min(off+pl, len(buf))])
			copy(w.out.pieces[p*20:], h[:])
			off += pl
		}
	}
	if w.j.v2 {
		for off := 0; off < len(buf); off += pl {
			if ctx.Err() != nil {
				return
			}
			ps := start + int64(off)
			f := w.fileAt(ps)
			if f == nil {
				continue
			}
			fe := min(ps+int64(pl), f.off+f.size, start+int64(len(buf)))
			r := pieceRoot(w.scratch, buf[off:off+int(fe-ps)], w.lpp, f.size > int64(pl))
			copy(w.out.layer[(first+int64(off/pl))*32:], r[:])
		}
	}
}
