package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// runIdle implements "heraldload idle": it holds -sessions bound and silent
// sessions (no presence) and reports how much the server's resident memory
// grew per session.
//
// RSS is read before any connection and after each half of the sessions is
// up and a settle period has passed, taking the minimum of readings over
// that period. The per-session figure over all sessions includes one-time
// growth (TLS and SQLite caches, the Go heap's first growth); the second
// half's marginal figure excludes most of it.
func runIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("idle", stderr)
	var c common
	c.register(fs)
	sessions := fs.Int("sessions", 5000, "number of concurrent idle sessions `S`, spread over -users accounts")
	concurrency := fs.Int("concurrency", 16, "logins in flight at once")
	rate := fs.Int("rate", 500, "at most this many logins started per second (0: no limit)")
	settle := fs.Duration("settle", 5*time.Second, "quiet period before each RSS reading (the minimum over it is used)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *sessions < 2 || *concurrency < 1 || *rate < 0 || *settle < 0 {
		return usagef("-sessions must be at least 2, -concurrency at least 1, -rate and -settle not negative")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	limit, err := raiseFileLimit(uint64(*sessions) + 256)
	if err != nil {
		return err
	}
	if limit < uint64(*sessions)+64 {
		return fmt.Errorf("the open-file limit is %d, too low for %d sessions", limit, *sessions)
	}
	d, err := c.dialer()
	if err != nil {
		return err
	}
	accs, err := c.accounts(min(c.users, *sessions))
	if err != nil {
		return err
	}
	p := c.proc()
	const sample = 250 * time.Millisecond

	before, err := minRSS(ctx, p, time.Second, sample)
	if err != nil {
		return err
	}
	var mBefore goMetrics
	if c.metrics != "" {
		if mBefore, err = scrapeMetrics(ctx, c.metrics); err != nil {
			return err
		}
	}

	pool := &idlePool{d: d, accs: accs}
	defer pool.closeAll(*concurrency)
	half := *sessions / 2
	start := time.Now()
	if err := pool.connect(ctx, half, *concurrency, *rate, stderr); err != nil {
		return err
	}
	mid, err := minRSS(ctx, p, *settle, sample)
	if err != nil {
		return err
	}
	if err := pool.connect(ctx, *sessions, *concurrency, *rate, stderr); err != nil {
		return err
	}
	upIn := time.Since(start)
	after, err := minRSS(ctx, p, *settle, sample)
	if err != nil {
		return err
	}
	if err := pool.lostErr(); err != nil {
		return err
	}
	var mAfter goMetrics
	if c.metrics != "" {
		if mAfter, err = scrapeMetrics(ctx, c.metrics); err != nil {
			return err
		}
	}

	s := int64(*sessions)
	fmt.Fprintf(stdout, "idle: %d sessions bound (STARTTLS + %s + bind, no presence) over %d accounts in %s; server pid %d\n",
		s, mechSCRAM, len(accs), upIn.Round(time.Millisecond), c.pid)
	fmt.Fprintf(stdout, "  server VmRSS before:                %s (%d B)\n", mib(before), before)
	fmt.Fprintf(stdout, "  server VmRSS with %6d sessions:   %s (%d B)\n", half, mib(mid), mid)
	fmt.Fprintf(stdout, "  server VmRSS with %6d sessions:   %s (%d B)\n", s, mib(after), after)
	fmt.Fprintf(stdout, "  total increase:                     %s (%d B)\n", mib(after-before), after-before)
	fmt.Fprintf(stdout, "  bytes per idle session:             %d   ((after-before)/%d)\n", (after-before)/s, s)
	fmt.Fprintf(stdout, "  marginal bytes per session:         %d   (second half: (after-mid)/%d)\n", (after-mid)/(s-int64(half)), s-int64(half))
	if hwm, err := (proc{pid: os.Getpid()}).statusBytes("VmHWM"); err == nil {
		fmt.Fprintf(stdout, "  (heraldload's own peak RSS:         %s for %d client sessions)\n", mib(hwm), s)
	}
	if c.metrics != "" {
		per := func(a, b float64) float64 { return (b - a) / float64(s) }
		fmt.Fprintf(stdout, "  Go heap in use per session:         %.0f B (go_memstats_heap_inuse_bytes)\n", per(mBefore.heapInuse, mAfter.heapInuse))
		fmt.Fprintf(stdout, "  Go stacks per session:              %.0f B (go_memstats_stack_inuse_bytes)\n", per(mBefore.stackInuse, mAfter.stackInuse))
		fmt.Fprintf(stdout, "  goroutines per session:             %.2f (go_goroutines)\n", per(mBefore.goroutines, mAfter.goroutines))
	}
	return nil
}

// idlePool holds the idle sessions. Each has a goroutine that reads its
// stream and answers the server's pings (XEP-0199), so the session stays
// up however long the run lasts.
type idlePool struct {
	d    *dialer
	accs []*account

	mu       sync.Mutex
	sessions []*idleSession

	// pinged, if not nil, receives a value (without blocking) each time a
	// session has answered a server ping.
	pinged chan<- string

	closing atomic.Bool
	lost    atomic.Int64
	firstMu sync.Mutex
	first   error // why the first session was lost
}

type idleSession struct {
	s    *session
	done chan struct{}
}

// connect logs in sessions until the pool holds total, with at most
// concurrency logins in flight and at most rate started per second.
// Session i uses account i mod len(accs) and resource "idle<i>".
func (p *idlePool) connect(ctx context.Context, total, concurrency, rate int, progress io.Writer) error {
	p.mu.Lock()
	from := len(p.sessions)
	p.mu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				s, err := p.d.login(ctx, p.accs[i%len(p.accs)], fmt.Sprintf("idle%d", i))
				if err != nil {
					cancel(fmt.Errorf("session %d: %w", i, err))
					continue
				}
				is := &idleSession{s: s, done: make(chan struct{})}
				go p.read(is)
				p.mu.Lock()
				p.sessions = append(p.sessions, is)
				n := len(p.sessions)
				p.mu.Unlock()
				if n%1000 == 0 {
					fmt.Fprintf(progress, "heraldload idle: %d sessions up\n", n)
				}
			}
		}()
	}
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
feed:
	for i := from; i < total; i++ {
		if tick != nil {
			select {
			case <-tick:
			case <-ctx.Done():
				break feed
			}
		}
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return p.lostErr()
}

// read consumes one session's stream until it ends.
func (p *idlePool) read(is *idleSession) {
	defer close(is.done)
	for {
		st, err := is.s.readStanza()
		if err != nil {
			if !p.closing.Load() {
				p.lose(fmt.Errorf("session %s lost: %w", is.s.jid, err))
			}
			return
		}
		if st.XMLName.Local == "iq" && st.Type == "get" && st.Ping != nil {
			if err := is.s.answerPing(st); err != nil && !p.closing.Load() {
				p.lose(fmt.Errorf("session %s: answering a ping: %w", is.s.jid, err))
				return
			}
			if p.pinged != nil {
				select {
				case p.pinged <- is.s.jid:
				default:
				}
			}
		}
	}
}

func (p *idlePool) lose(err error) {
	p.lost.Add(1)
	p.firstMu.Lock()
	if p.first == nil {
		p.first = err
	}
	p.firstMu.Unlock()
}

// lostErr reports sessions the server closed during the run.
func (p *idlePool) lostErr() error {
	n := p.lost.Load()
	if n == 0 {
		return nil
	}
	p.firstMu.Lock()
	defer p.firstMu.Unlock()
	return fmt.Errorf("%d sessions were lost during the run; the first: %w", n, p.first)
}

// closeAll ends every session (RFC 6120 §4.4), concurrency at a time, each
// waiting at most a few seconds for the server's closing tag.
func (p *idlePool) closeAll(concurrency int) {
	p.closing.Store(true)
	p.mu.Lock()
	all := p.sessions
	p.sessions = nil
	p.mu.Unlock()
	jobs := make(chan *idleSession)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for is := range jobs {
				is.s.close(3*time.Second, is.done)
			}
		}()
	}
	for _, is := range all {
		jobs <- is
	}
	close(jobs)
	wg.Wait()
}
