// Package filespool is the local spool.Spool: records (usage records, audit events) are
// appended to segment files on disk before Append returns, and a background drainer
// writes them to the spool's sink with retries, as long as it takes. A process that dies
// (even by SIGKILL) loses nothing: on the next start the spool replays every record past
// its last acknowledged position, and the sink's idempotent writes make replays count
// once.
//
// Layout under the spool's directory:
//
//	NNNNNNNNNNNNNNNNNNNN.seg   append-only segments of frames: uint32 length, uint32
//	                           CRC-32C of the payload, payload (one record as JSON)
//	cursor                     the drainer's acknowledged position: segment number,
//	                           offset, CRC-32C; written at most every 50 ms while
//	                           records keep coming, and when the drainer goes idle
//	                           or stops (a crash replays what it drained since)
//
// With WithParking, records the sink keeps refusing are moved, after a number of tries,
// to a spool of their own under "parked/", which retries them apart (and on the next
// start), so one record that cannot be written does not hold up every record after it.
//
// A torn frame at the end of the newest segment (a write cut by a crash) is cut off on
// open. Without WithSync, appends are write(2) calls (they survive the process, not the
// operating system); with it, each append is fsynced, as PLINTH_FSYNC asks of the store.
// Appends that arrive while a write is in flight share the next write (and fsync): a
// group commit, after which each of them returns.
//
// The drainer hands the sink the records this process appended as they were appended,
// from memory, when it reaches them in order (up to a bounded number of records); it
// reads and decodes frames from the segments only for what an earlier process left
// and when it falls that far behind. The frames on disk are written first either way, so
// what survives a crash is the same. Records must therefore round-trip through JSON (as
// a replay decodes them) and must not be changed by the caller after Append.
// A record type with an AppendJSON(b []byte) ([]byte, error) method (usage.Record) is
// framed by it instead of encoding/json's reflection.
//
// WithLinger lets the drainer gather the records of a busy spool into fewer sink writes.
package filespool

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plinth-ai/plinth/shared/spool"
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("filespool: closed")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	frameHeader = 8
	maxFrame    = 1 << 20
	batchSize   = 40
	// maxTail bounds the records kept in memory for the drainer (see the package doc).
	maxTail = 1024
	// cursorEvery is how often at most the drainer persists its position while records
	// keep coming (and how soon after they stop): a crash replays at most what was
	// drained in that time, which the sinks' idempotent writes count once.
	cursorEvery = 50 * time.Millisecond
	cursorName  = "cursor"
	segSuffix   = ".seg"
)

type options struct {
	sync        bool
	linger      time.Duration
	segmentSize int64
	minBackoff  time.Duration
	maxBackoff  time.Duration
	parkAfter   int
	log         *slog.Logger
}

// Option configures a Spool.
type Option func(*options)

// WithSync fsyncs every append and cursor move (survives an operating-system crash).
func WithSync() Option { return func(o *options) { o.sync = true } }

// WithSegmentSize sets the size after which a new segment starts (default 16 MiB).
func WithSegmentSize(n int64) Option { return func(o *options) { o.segmentSize = n } }

// WithBackoff sets the drainer's retry backoff range (default 50 ms to 5 s).
func WithBackoff(lo, hi time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = lo, hi }
}

// WithLinger lets the drainer gather records for up to d before a sink write while
// records keep coming: a write follows the previous one after at least d, unless a full
// batch is waiting or Flush or Close asks for everything. Records arriving after a
// quiet spell are written at once. The records are on disk either way, so lingering
// loses nothing; it only makes one sink write (one store commit) carry many records
// instead of one each. Default 0: every record is written as soon as the drainer gets
// to it.
func WithLinger(d time.Duration) Option { return func(o *options) { o.linger = max(d, 0) } }

// WithParking sets records aside after n failed sink writes in a row: they go to a
// spool of their own under the spool's directory ("parked"), which retries them apart,
// for as long as it takes, while the records behind them flow. A record the sink can
// never take (its tenant's key was deleted) then holds up only itself, not every record
// after it. Parked records are on disk before the main spool moves past them, so parking
// loses nothing; their order relative to the others is not kept (sinks are idempotent
// and keyed by the record). Default 0: the drainer retries a failing batch until it
// succeeds, and later records wait.
func WithParking(n int) Option { return func(o *options) { o.parkAfter = max(n, 0) } }

// WithLogger sets the logger for drain failures.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

type position struct {
	seg uint64
	off int64
}

func (p position) before(q position) bool { return p.seg < q.seg || p.seg == q.seg && p.off < q.off }

// spooled is a record appended by this process: its frame starts at at and ends at end
// (in the same segment).
type spooled[T any] struct {
	at  position
	end int64
	rec T
}

// pending is a record framed into the next write; its frame ends at end, relative to the
// start of that write.
type pending[T any] struct {
	end int64
	rec T
}

// group is the outcome of one write of pending frames, shared by the appends in it.
type group struct {
	done bool
	err  error
}

// jsonAppender is a record type that encodes itself as JSON without reflection (e.g.
// usage.Record); any other type is encoded with encoding/json.
type jsonAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// Spool is a durable spool of records of type T on local disk, each stored as its JSON.
type Spool[T any] struct {
	dir  string
	sink spool.Sink[T]
	opt  options

	mu    sync.Mutex
	w     *os.File
	write position // end of the last complete frame
	// Appends that arrive while a write is in flight are framed into pend and written
	// together by one of them (group commit): one write(2), and with WithSync one fsync,
	// for all of them. writing is set while the leader writes outside mu; written is
	// signalled when it is done.
	pend      []byte
	pendRecs  []pending[T]
	group     *group
	writing   bool
	written   *sync.Cond
	spare     []byte
	spareRecs []pending[T]
	writes    int64    // writes so far (group commits)
	acked     position // everything before it is drained
	closed    bool
	idle      *sync.Cond // signalled when acked moves
	// tail holds the records appended by this process and not yet drained, in order,
	// contiguous up to write, while tailOn; the drainer takes them from here instead of
	// reading their frames back.
	tail   []spooled[T]
	tailOn bool
	// hurry counts the Flush calls waiting: the drainer does not linger meanwhile.
	hurry int

	cursor *os.File
	// saved is the position last persisted in cursor, at savedAt (drainer only).
	saved   position
	savedAt time.Time
	wake    chan struct{}
	// kick ends the drainer's linger early: a full batch is waiting or a Flush started.
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	// parked retries the records set aside after parkAfter failed writes (nil without
	// WithParking).
	parked *Spool[T]
}

var _ spool.Spool[struct{}] = (*Spool[struct{}])(nil)

// Open opens (or creates) the spool in dir and starts draining into sink, beginning
// with whatever an earlier process left unacknowledged. One directory holds one kind of
// record.
func Open[T any](dir string, sink spool.Sink[T], opts ...Option) (*Spool[T], error) {
	if sink == nil {
		return nil, errors.New("filespool: nil sink")
	}
	o := options{segmentSize: 16 << 20, minBackoff: 50 * time.Millisecond, maxBackoff: 5 * time.Second, log: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filespool: %w", err)
	}
	s := &Spool[T]{dir: dir, sink: sink, opt: o, wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), tailOn: true}
	s.idle = sync.NewCond(&s.mu)
	s.written = sync.NewCond(&s.mu)
	s.group = &group{}
	if err := s.recover(); err != nil {
		return nil, err
	}
	if o.parkAfter > 0 {
		po := o
		po.parkAfter = 0
		p, err := Open(filepath.Join(dir, parkedDir), sink, func(x *options) { *x = po })
		if err != nil {
			return nil, err
		}
		s.parked = p
	}
	go s.drain()
	return s, nil
}

// parkedDir is the directory, under a spool's, of the spool holding its parked records.
const parkedDir = "parked"

// Parked returns how many bytes of parked records are still waiting for the sink.
func (s *Spool[T]) Parked() int64 {
	if s.parked == nil {
		return 0
	}
	return s.parked.Backlog()
}

func (s *Spool[T]) segPath(seg uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seg, segSuffix))
}

// segments lists the segment numbers on disk, oldest first.
func (s *Spool[T]) segments() ([]uint64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("filespool: %w", err)
	}
	var out []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segSuffix)
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// recover reads the cursor, cuts a torn tail off the newest segment and opens it for
// appending.
func (s *Spool[T]) recover() error {
	segs, err := s.segments()
	if err != nil {
		return err
	}
	s.cursor, err = os.OpenFile(filepath.Join(s.dir, cursorName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("filespool: %w", err)
	}
	var buf [20]byte
	if n, _ := s.cursor.ReadAt(buf[:], 0); n == len(buf) && crc32.Checksum(buf[:16], castagnoli) == binary.LittleEndian.Uint32(buf[16:]) {
		s.acked = position{seg: binary.LittleEndian.Uint64(buf[0:]), off: int64(binary.LittleEndian.Uint64(buf[8:]))}
	}
	if len(segs) == 0 {
		segs = []uint64{max(s.acked.seg, 1)}
	}
	if s.acked.seg < segs[0] {
		// The cursor is missing, torn or older than every segment: replay them all; the
		// sink makes replays harmless.
		s.acked = position{seg: segs[0]}
	}
	last := segs[len(segs)-1]
	end, err := validEnd(s.segPath(last))
	if err != nil {
		return err
	}
	s.w, err = os.OpenFile(s.segPath(last), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("filespool: %w", err)
	}
	if err := s.w.Truncate(end); err != nil {
		return fmt.Errorf("filespool: cut torn tail of %s: %w", s.segPath(last), err)
	}
	if _, err := s.w.Seek(end, io.SeekStart); err != nil {
		return fmt.Errorf("filespool: %w", err)
	}
	s.write = position{seg: last, off: end}
	if s.write.before(s.acked) {
		s.acked = s.write
	}
	s.saved = s.acked
	return nil
}

// validEnd is the offset after the last complete, intact frame of a segment.
func validEnd(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("filespool: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var off int64
	for {
		payload, err := readFrame(r)
		if err != nil {
			return off, nil
		}
		off += frameHeader + int64(len(payload))
	}
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(h[:4])
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("filespool: frame of %d bytes", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
		return nil, errors.New("filespool: frame checksum mismatch")
	}
	return payload, nil
}

// Append writes recs to the current segment in one write, shared with the appends that
// arrive while an earlier write is in flight; with WithSync it also fsyncs. Once it
// returns nil, the records survive the process.
func (s *Spool[T]) Append(_ context.Context, recs []T) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	start, nrecs := len(s.pend), len(s.pendRecs)
	for i := range recs {
		var err error
		if s.pend, err = appendFrame(s.pend, &recs[i]); err != nil {
			s.pend = s.pend[:start]
			clear(s.pendRecs[nrecs:])
			s.pendRecs = s.pendRecs[:nrecs]
			return fmt.Errorf("filespool: record %d of %d: %w", i+1, len(recs), err)
		}
		s.pendRecs = append(s.pendRecs, pending[T]{end: int64(len(s.pend)), rec: recs[i]})
	}
	g := s.group
	for !g.done {
		if !s.writing {
			s.commit()
			continue
		}
		s.written.Wait()
	}
	return g.err
}

// appendFrame appends rec's frame: length, CRC-32C, JSON.
func appendFrame[T any](b []byte, rec *T) ([]byte, error) {
	at := len(b)
	b = append(b, make([]byte, frameHeader)...)
	var err error
	if a, ok := any(rec).(jsonAppender); ok {
		b, err = a.AppendJSON(b)
	} else {
		var payload []byte
		if payload, err = json.Marshal(rec); err == nil {
			b = append(b, payload...)
		}
	}
	n := len(b) - at - frameHeader
	if err == nil && n > maxFrame {
		err = fmt.Errorf("%d bytes, over %d", n, maxFrame)
	}
	if err != nil {
		return b[:at], err
	}
	binary.LittleEndian.PutUint32(b[at:], uint32(n))
	binary.LittleEndian.PutUint32(b[at+4:], crc32.Checksum(b[at+frameHeader:], castagnoli))
	return b, nil
}

// commit writes the pending frames in one write, releasing s.mu meanwhile, and settles
// their group. Called with s.mu held and no write in flight.
func (s *Spool[T]) commit() {
	g, buf, recs := s.group, s.pend, s.pendRecs
	s.group, s.pend, s.pendRecs = &group{}, s.spare[:0], s.spareRecs[:0]
	s.writing = true
	var err error
	if s.write.off >= s.opt.segmentSize {
		err = s.rotate()
	}
	if err == nil {
		// Only the writer touches s.w (rotate and Close wait for it).
		s.mu.Unlock()
		_, err = s.w.Write(buf)
		if err != nil {
			err = fmt.Errorf("filespool: append: %w", err)
		} else if s.opt.sync {
			if err = s.w.Sync(); err != nil {
				err = fmt.Errorf("filespool: sync: %w", err)
			}
		}
		s.mu.Lock()
		if err != nil {
			// A partial write leaves a torn frame: cut it so later frames stay readable.
			_ = s.w.Truncate(s.write.off)
			_, _ = s.w.Seek(s.write.off, io.SeekStart)
		}
	}
	s.writes++
	if err == nil {
		s.keep(recs)
		s.write.off += int64(len(buf))
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if s.opt.linger > 0 && (len(s.tail) >= batchSize || !s.tailOn) {
			s.poke()
		}
	}
	g.done, g.err = true, err
	clear(recs)
	if cap(buf) <= 1<<20 {
		s.spare, s.spareRecs = buf[:0], recs[:0]
	}
	s.writing = false
	s.written.Broadcast()
}

// keep adds the records just written at s.write to the tail, or stops keeping records
// when the tail is full; it starts again once the drainer has caught up. Called with
// s.mu held.
func (s *Spool[T]) keep(recs []pending[T]) {
	if !s.tailOn {
		if len(s.tail) > 0 || s.acked != s.write {
			return
		}
		s.tailOn = true
	}
	if len(s.tail)+len(recs) > maxTail {
		clear(s.tail)
		s.tail, s.tailOn = s.tail[:0], false
		return
	}
	start := s.write.off
	for _, p := range recs {
		s.tail = append(s.tail, spooled[T]{at: position{seg: s.write.seg, off: start}, end: s.write.off + p.end, rec: p.rec})
		start = s.write.off + p.end
	}
}

// fromTail returns up to batchSize records kept in memory that start at from, and the
// position after them; none when the tail does not start there. Called with s.mu held.
func (s *Spool[T]) fromTail(from position) ([]T, position) {
	// Entries before from were drained from the segment files.
	n := 0
	for n < len(s.tail) && s.tail[n].at.before(from) {
		n++
	}
	if n > 0 {
		clear(s.tail[:n])
		s.tail = s.tail[:copy(s.tail, s.tail[n:])]
	}
	if len(s.tail) == 0 || s.tail[0].at != from {
		return nil, from
	}
	recs := make([]T, 0, min(batchSize, len(s.tail)))
	next := from
	for _, e := range s.tail {
		if len(recs) == batchSize || e.at != next {
			break
		}
		recs = append(recs, e.rec)
		next = position{seg: e.at.seg, off: e.end}
	}
	return recs, next
}

// poke ends the drainer's linger.
func (s *Spool[T]) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rotate starts the next segment. Called with s.mu held.
func (s *Spool[T]) rotate() error {
	next := s.write.seg + 1
	f, err := os.OpenFile(s.segPath(next), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("filespool: new segment: %w", err)
	}
	if s.opt.sync {
		if d, err := os.Open(s.dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	_ = s.w.Close()
	s.w, s.write = f, position{seg: next}
	return nil
}

// Backlog is how many bytes of records are not yet drained.
func (s *Spool[T]) Backlog() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acked.seg == s.write.seg {
		return s.write.off - s.acked.off
	}
	return s.write.off + (s.opt.segmentSize - s.acked.off) + int64(s.write.seg-s.acked.seg-1)*s.opt.segmentSize
}

// Flush waits until everything appended so far is drained into the sink.
func (s *Spool[T]) Flush(ctx context.Context) error {
	s.mu.Lock()
	target := s.write
	s.hurry++
	s.mu.Unlock()
	s.poke()
	defer func() {
		s.mu.Lock()
		s.hurry--
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.idle.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.acked.before(target) {
		if ctx.Err() != nil {
			return fmt.Errorf("filespool: flush: %w", ctx.Err())
		}
		s.idle.Wait()
	}
	return nil
}

// Close stops accepting records, drains what it can until ctx ends, and closes the
// files. Records still spooled then stay on disk for the next Open.
func (s *Spool[T]) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	// Appends already accepted finish their write first.
	for s.writing || len(s.pendRecs) > 0 {
		s.written.Wait()
	}
	s.mu.Unlock()
	ferr := s.Flush(ctx)
	close(s.stop)
	<-s.done
	var perr error
	if s.parked != nil {
		// Parked records may be ones the sink can never take: give them a moment, and
		// leave the rest on disk for the next start.
		pctx, cancel := context.WithTimeout(ctx, parkedCloseWait)
		perr = s.parked.Close(pctx)
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ferr != nil {
		s.opt.log.Warn("spool closed with records not yet drained; they are drained on the next start",
			"dir", s.dir, "backlog_from", fmt.Sprintf("%d:%d", s.acked.seg, s.acked.off))
	}
	return errors.Join(s.w.Close(), s.cursor.Close(), perr)
}

// parkedCloseWait bounds how long Close waits for parked records to drain.
const parkedCloseWait = 2 * time.Second

// drain reads frames past the acknowledged position, writes them to the sink (retrying
// with backoff until it succeeds or the spool stops) and moves the cursor. Log lines
// name the spool by its directory.
func (s *Spool[T]) drain() {
	defer close(s.done)
	var (
		rf      *os.File
		rfSeg   uint64
		reader  *bufio.Reader
		readPos position
	)
	defer func() {
		if rf != nil {
			rf.Close()
		}
	}()
	// Whatever was drained is persisted before Close closes the cursor.
	defer func() {
		s.mu.Lock()
		acked := s.acked
		s.mu.Unlock()
		if acked != s.saved {
			s.saveCursor(acked)
		}
	}()
	save := time.NewTimer(time.Hour)
	save.Stop()
	defer save.Stop()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	var delivered time.Time // when the last sink write started
	backoff := s.opt.minBackoff
	for {
		s.mu.Lock()
		acked, write := s.acked, s.write
		kept, after := s.fromTail(acked)
		hurry := s.hurry > 0
		s.mu.Unlock()
		if !acked.before(write) {
			// Idle: persist the position soon, unless more records come first.
			var later <-chan time.Time
			if acked != s.saved {
				save.Reset(max(0, cursorEvery-time.Since(s.savedAt)))
				later = save.C
			}
			select {
			case <-s.wake:
				continue
			case <-later:
				s.saveCursor(acked)
				continue
			case <-s.stop:
				return
			}
		}
		if len(kept) > 0 && len(kept) < batchSize && !hurry && s.opt.linger > 0 {
			// Records keep coming: gather more for one sink write (see WithLinger).
			if wait := s.opt.linger - time.Since(delivered); wait > 0 {
				linger.Reset(wait)
				select {
				case <-linger.C:
				case <-s.kick:
					linger.Stop()
				case <-s.stop:
					return
				}
				continue
			}
		}
		delivered = time.Now()
		if len(kept) > 0 {
			// Appended by this process and still in memory: no need to read it back.
			if rf != nil {
				rf.Close()
				rf = nil
			}
			if !s.deliver(kept, &backoff) {
				return
			}
			readPos = after
			s.advance(after, 0)
			continue
		}
		if rf == nil || rfSeg != acked.seg || readPos != acked {
			if rf != nil {
				rf.Close()
			}
			var err error
			if rf, err = os.Open(s.segPath(acked.seg)); err != nil {
				if errors.Is(err, os.ErrNotExist) && acked.seg < write.seg {
					s.advance(position{seg: acked.seg + 1}, acked.seg)
					rf = nil
					continue
				}
				s.opt.log.Error("spool: cannot open segment", "dir", s.dir, "error", err)
				rf = nil
				if !s.sleep(&backoff) {
					return
				}
				continue
			}
			if _, err := rf.Seek(acked.off, io.SeekStart); err != nil {
				s.opt.log.Error("spool: cannot seek segment", "dir", s.dir, "error", err)
				if !s.sleep(&backoff) {
					return
				}
				continue
			}
			rfSeg, reader, readPos = acked.seg, bufio.NewReaderSize(rf, 64<<10), acked
		}
		// Read up to batchSize frames, never past the end of the last complete append.
		limit := int64(-1)
		if acked.seg == write.seg {
			limit = write.off
		}
		var recs []T
		next := readPos
		var readErr error
		for len(recs) < batchSize && (limit < 0 || next.off < limit) {
			payload, err := readFrame(reader)
			if err != nil {
				readErr = err
				break
			}
			next.off += frameHeader + int64(len(payload))
			var rec T
			if err := json.Unmarshal(payload, &rec); err != nil {
				s.opt.log.Error("spool: undecodable record skipped", "dir", s.dir, "error", err, "payload", string(payload))
				continue
			}
			recs = append(recs, rec)
		}
		if next == readPos {
			if acked.seg < write.seg && readErr != nil && readErr != io.EOF {
				// A damaged finished segment: keep it for inspection, say so loudly, go on.
				aside := s.segPath(acked.seg) + ".damaged"
				_ = os.Rename(s.segPath(acked.seg), aside)
				s.opt.log.Error("spool: damaged segment set aside; records after the damage are NOT drained",
					"segment", aside, "offset", next.off, "error", readErr)
			}
			if acked.seg < write.seg {
				// The segment is finished: everything in it is drained.
				s.advance(position{seg: acked.seg + 1}, acked.seg)
				rf.Close()
				rf = nil
				continue
			}
			// Nothing readable before the committed end: should not happen; retry.
			rf.Close()
			rf = nil
			if !s.sleep(&backoff) {
				return
			}
			continue
		}
		if !s.deliver(recs, &backoff) {
			return
		}
		readPos = next
		s.advance(next, 0)
	}
}

// deliver writes a batch to the sink, retrying what the sink could not store until all
// of it is in; false when the spool stops first.
func (s *Spool[T]) deliver(recs []T, backoff *time.Duration) bool {
	for failed := 0; len(recs) > 0; {
		err := s.sink(context.Background(), recs)
		if err == nil {
			break
		}
		recs = spool.Unstored(recs, err)
		failed++
		if s.parked != nil && failed >= s.opt.parkAfter {
			if perr := s.parked.Append(context.Background(), recs); perr == nil {
				s.opt.log.Error("spool: records set aside after failed sink writes; they are retried apart while later records flow",
					"dir", s.dir, "records", len(recs), "attempts", failed, "error", err)
				break
			} else {
				s.opt.log.Error("spool: could not set records aside; retrying them here", "dir", s.dir, "error", perr)
			}
		}
		s.opt.log.Error("spool: sink write failed; retrying", "dir", s.dir, "records", len(recs), "error", err, "retry_in", backoff.String())
		if !s.sleep(backoff) {
			return false
		}
	}
	*backoff = s.opt.minBackoff
	return true
}

// advance moves the acknowledged position and removes the finished segment when done
// is non-zero. It persists the position when a segment is finished and at most every
// cursorEvery otherwise (the drainer persists it when it goes idle and when it stops).
func (s *Spool[T]) advance(to position, done uint64) {
	if done != 0 || time.Since(s.savedAt) >= cursorEvery {
		s.saveCursor(to)
	}
	if done != 0 {
		_ = os.Remove(s.segPath(done))
	}
	s.mu.Lock()
	s.acked = to
	s.idle.Broadcast()
	s.mu.Unlock()
}

// saveCursor persists the acknowledged position (fsynced with WithSync).
func (s *Spool[T]) saveCursor(to position) {
	var buf [20]byte
	binary.LittleEndian.PutUint64(buf[0:], to.seg)
	binary.LittleEndian.PutUint64(buf[8:], uint64(to.off))
	binary.LittleEndian.PutUint32(buf[16:], crc32.Checksum(buf[:16], castagnoli))
	if _, err := s.cursor.WriteAt(buf[:], 0); err == nil && s.opt.sync {
		_ = s.cursor.Sync()
	}
	s.saved, s.savedAt = to, time.Now()
}

// sleep waits out the backoff (doubling it) unless the spool stops first.
func (s *Spool[T]) sleep(backoff *time.Duration) bool {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	*backoff = min(*backoff*2, s.opt.maxBackoff)
	select {
	case <-t.C:
		return true
	case <-s.stop:
		return false
	}
}
