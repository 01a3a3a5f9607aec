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

// chunkTarget is the size the reader aims for per buffer: large
// sequential reads, several pieces per job.
const chunkTarget = 4 << 20

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
	// be reported through it instead of failing (Verify).
	missing func(file int)
}

// hashOutput holds the hashes by piece index of the address space.
type hashOutput struct {
	pieces []byte // v1: 20 bytes per piece
	layer  []byte // v2: 32 bytes per piece; a file's pieces are contiguous
}

// chunk is one buffer of the address space handed to a worker.
type chunk struct {
	buf   []byte
	start int64 // address of buf[0]
	n     int   // valid bytes
	data  int64 // file bytes in it, for progress
}

func (j *hashJob) numPieces() int64 { return (j.end + j.pl - 1) / j.pl }

// run hashes the address space with one reader goroutine (the caller)
// doing large sequential reads into a pool of reusable buffers, each a
// whole number of pieces, and j.threads workers hashing whole pieces in
// parallel. Results land by piece index, so order of completion does not
// matter; the steady state allocates nothing per piece. A cancelled ctx
// stops the reader before its next read and the workers before their
// next piece.
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
	per := max(1, chunkTarget/j.pl)
	size := int(per * j.pl)
	nbuf := threads + 2
	if size > 64<<20 {
		nbuf = threads + 1
	}
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- nil // allocated on first use
	}
	jobs := make(chan *chunk, nbuf)
	var done atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newPieceWorker(j, out)
			for c := range jobs {
				if ctx.Err() == nil {
					w.hashChunk(ctx, c)
				}
				done.Add(c.data)
				free <- c.buf
			}
		}()
	}
	err := j.read(ctx, free, jobs, &done)
	close(jobs)
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	if j.progress != nil {
		j.progress(j.total, j.total)
	}
	return out, nil
}

// read is the reader loop: it fills buffers in address order.
func (j *hashJob) read(ctx context.Context, free chan []byte, jobs chan<- *chunk, done *atomic.Int64) error {
	per := max(1, chunkTarget/j.pl)
	size := per * j.pl
	r := &spanReader{job: j}
	defer r.close()
	for start := int64(0); start < j.end; start += size {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		if buf == nil {
			buf = make([]byte, size)
		}
		if j.progress != nil {
			j.progress(done.Load(), j.total)
		}
		n := min(size, j.end-start)
		c := &chunk{buf: buf, start: start, n: int(n)}
		if err := r.fill(c); err != nil {
			return err
		}
		jobs <- c
	}
	return nil
}

// spanReader reads the address space sequentially, one open file at a
// time.
type spanReader struct {
	job *hashJob
	fi  int      // current file index
	f   *os.File // open handle of files[fi], or nil
	pos int64    // read position within files[fi]
	bad bool     // files[fi] is missing or short (Verify mode)
}

func (r *spanReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// fill reads [c.start, c.start+c.n) into c.buf, zeros in the gaps.
func (r *spanReader) fill(c *chunk) error {
	files := r.job.files
	pos, end := c.start, c.start+int64(c.n)
	for pos < end {
		for r.fi < len(files) && files[r.fi].off+files[r.fi].size <= pos {
			r.close()
			r.fi++
			r.pos, r.bad = 0, false
		}
		if r.fi == len(files) || files[r.fi].off >= end {
			clear(c.buf[pos-c.start : c.n])
			return nil
		}
		sf := &files[r.fi]
		if sf.off > pos {
			clear(c.buf[pos-c.start : sf.off-c.start])
			pos = sf.off
			continue
		}
		n := min(end, sf.off+sf.size) - pos
		dst := c.buf[pos-c.start : pos-c.start+n]
		if err := r.readFile(sf, pos-sf.off, dst); err != nil {
			return err
		}
		c.data += n
		pos += n
	}
	return nil
}

// readFile reads dst from sf at offset off (always the next sequential
// position). In Verify mode a missing or short file reads as zeros and
// is reported once.
func (r *spanReader) readFile(sf *spanFile, off int64, dst []byte) error {
	if r.bad {
		clear(dst)
		return nil
	}
	if r.f == nil {
		f, err := os.Open(sf.path)
		if err != nil {
			return r.broken(err, dst)
		}
		r.f = f
		if off != 0 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				return r.broken(err, dst)
			}
		}
		r.pos = off
	}
	n, err := io.ReadFull(r.f, dst)
	r.pos += int64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("%s: file is shorter than %d bytes (changed while hashing?)", sf.path, sf.size)
		}
		clear(dst[n:])
		return r.broken(err, dst[n:])
	}
	return nil
}

func (r *spanReader) broken(err error, dst []byte) error {
	if r.job.missing == nil {
		return err
	}
	r.job.missing(r.fi)
	r.bad = true
	r.close()
	clear(dst)
	return nil
}

// pieceWorker hashes pieces; its scratch space makes it allocation free.
type pieceWorker struct {
	j       *hashJob
	out     *hashOutput
	scratch []byte // leaf hashes of one piece
	v2files []int  // indices of non-empty files, by offset
	lpp     int64  // leaves per piece
}

func newPieceWorker(j *hashJob, out *hashOutput) *pieceWorker {
	w := &pieceWorker{j: j, out: out}
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

func (w *pieceWorker) hashChunk(ctx context.Context, c *chunk) {
	pl := w.j.pl
	end := c.start + int64(c.n)
	for ps := c.start; ps < end; ps += pl {
		if ctx.Err() != nil {
			return
		}
		p := ps / pl
		pe := min(ps+pl, end)
		data := c.buf[ps-c.start : pe-c.start]
		if w.j.v1 {
			h := sha1.Sum(data)
			copy(w.out.pieces[p*20:], h[:])
		}
		if w.j.v2 {
			if f := w.fileAt(ps); f != nil {
				fe := min(pe, f.off+f.size)
				r := pieceRoot(w.scratch, data[:fe-ps], w.lpp, f.size > pl)
				copy(w.out.layer[p*32:], r[:])
			}
		}
	}
}
