// Package limit holds the rate limits Herald puts on what peers send: a
// shaper that holds one connection's input to a byte rate, and a count of
// failed attempts (such as authentications) per network address. Both are
// token buckets; the shaper's is golang.org/x/time/rate's.
package limit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// minWindow is the smallest read a Shaper allows once the allowance is
// spent: the wait that follows such a read is minWindow/rate, short enough
// for a shutdown or a closing stream not to notice it.
const minWindow = 512

// Shaper holds a byte stream to a sustained rate with a burst allowance.
// Reads are cut to what the allowance has left (never below minWindow
// bytes); a read that overdraws it is followed by a wait until it is paid
// back. The sender is slowed, not cut off: while the reader waits, TCP
// flow control pushes back on it, and nothing it sent is lost.
//
// A Shaper is used by one reading goroutine at a time.
type Shaper struct {
	lim   *rate.Limiter
	sleep func(time.Duration)
	now   func() time.Time
}

// NewShaper returns a shaper allowing bytesPerSecond sustained and burst
// bytes at once, or nil (no shaping) when bytesPerSecond is not positive.
func NewShaper(bytesPerSecond, burst int) *Shaper {
	if bytesPerSecond <= 0 {
		return nil
	}
	return &Shaper{
		lim:   rate.NewLimiter(rate.Limit(bytesPerSecond), max(burst, minWindow)),
		sleep: time.Sleep,
		now:   time.Now,
	}
}

// Window returns p cut to the bytes the allowance holds now, but at least
// minWindow of them (or all of p when shorter).
func (s *Shaper) Window(p []byte) []byte {
	allow := max(int(s.lim.TokensAt(s.now())), minWindow)
	if len(p) > allow {
		return p[:allow]
	}
	return p
}

// Took records that n bytes were read and waits until the allowance has
// paid for them; it returns how long it waited.
func (s *Shaper) Took(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	now := s.now()
	// Window keeps n within the burst, so the reservation cannot fail;
	// a caller that read more anyway is charged what the burst allows.
	r := s.lim.ReserveN(now, min(n, s.lim.Burst()))
	d := r.DelayFrom(now)
	if d > 0 {
		s.sleep(d)
	}
	return d
}

// Failures counts failed attempts per network address: an IPv4 address,
// or the /64 an IPv6 address belongs to (one host usually holds a whole
// /64). Each address may fail burst times at once, and once more every
// window/burst after that. An attempt is counted as a failure from the
// moment it begins, so that many attempts made at once cannot all slip
// under the limit, and given back when it succeeds. It is safe for
// concurrent use.
type Failures struct {
	perSecond float64
	burst     float64
	maxLen    int
	now       func() time.Time

	mu    sync.Mutex
	addrs map[netip.Prefix]*bucket
}

// bucket is one address's allowance: tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// DefaultMaxAddresses is how many addresses a Failures tracks at most;
// past it, addresses whose allowance is whole are forgotten first.
const DefaultMaxAddresses = 1 << 16

// NewFailures returns a counter allowing burst failures per address,
// refilled over window; nil (no limit) when burst or window is not
// positive.
func NewFailures(burst int, window time.Duration) *Failures {
	if burst <= 0 || window <= 0 {
		return nil
	}
	return &Failures{
		perSecond: float64(burst) / window.Seconds(),
		burst:     float64(burst),
		maxLen:    DefaultMaxAddresses,
		now:       time.Now,
		addrs:     make(map[netip.Prefix]*bucket),
	}
}

// Key returns the address failures of addr are counted under.
func Key(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // an invalid address: counted together
	}
	return p
}

// Attempt is one attempt admitted by Begin. It stays counted as a failure
// unless Forgive is called.
type Attempt struct {
	f   *Failures
	key netip.Prefix
}

// Forgive gives back what the attempt took: it succeeded, or it ended
// without being a failure (the client aborted it). Forgiving the zero
// Attempt does nothing.
func (a Attempt) Forgive() {
	if a.f == nil {
		return
	}
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.addrs[a.key]; ok {
		f.refillLocked(b, f.now())
		b.tokens = min(b.tokens+1, f.burst)
	}
}

// Begin admits an attempt from addr, counting it as a failure until the
// caller forgives it. When addr has no failures left it returns ok false
// and how long until it has one again. A nil Failures admits everything.
func (f *Failures) Begin(addr netip.Addr) (a Attempt, retryAfter time.Duration, ok bool) {
	if f == nil {
		return Attempt{}, 0, true
	}
	key := Key(addr)
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	b, found := f.addrs[key]
	if !found {
		if len(f.addrs) >= f.maxLen {
			f.pruneLocked(now)
		}
		b = &bucket{tokens: f.burst, last: now}
		f.addrs[key] = b
	}
	f.refillLocked(b, now)
	if b.tokens < 1 {
		return Attempt{}, time.Duration((1 - b.tokens) / f.perSecond * float64(time.Second)), false
	}
	b.tokens--
	return Attempt{f: f, key: key}, 0, true
}

// Len returns how many addresses are tracked.
func (f *Failures) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.addrs)
}

func (f *Failures) refillLocked(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.tokens+elapsed.Seconds()*f.perSecond, f.burst)
		b.last = now
	}
}

// pruneLocked forgets addresses whose allowance is whole again (they are
// no different from new ones); if every tracked address is still short,
// it forgets one at random, so that a flood of new addresses cannot grow
// the map without bound.
func (f *Failures) pruneLocked(now time.Time) {
	for k, b := range f.addrs {
		f.refillLocked(b, now)
		if b.tokens >= f.burst {
			delete(f.addrs, k)
		}
	}
	if len(f.addrs) < f.maxLen {
		return
	}
	for k := range f.addrs {
		delete(f.addrs, k)
		break
	}
}
