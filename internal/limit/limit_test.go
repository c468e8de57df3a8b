package limit

import (
	"net/netip"
	"testing"
	"time"
)

// clock is a fake time source whose sleeps advance it.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) sleep(d time.Duration)   { c.t = c.t.Add(d) }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestShaper(rate, burst int) (*Shaper, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	s := NewShaper(rate, burst)
	s.now, s.sleep = c.now, c.sleep
	// rate.NewLimiter starts full, but its clock is ours from here on.
	s.lim.SetBurstAt(c.now(), s.lim.Burst())
	return s, c
}

func TestShaper_BurstThenSustainedRate(t *testing.T) {
	s, c := newTestShaper(1000, 4000)
	start := c.now()
	buf := make([]byte, 10_000)
	read := 0
	for read < 14_000 {
		p := s.Window(buf)
		read += len(p)
		s.Took(len(p))
	}
	// 4,000 bytes at once, then 10,000 more at 1,000 per second.
	if got, want := c.now().Sub(start), 10*time.Second; got < want-time.Second/2 || got > want+time.Second {
		t.Errorf("reading %d bytes took %s of shaped time, want about %s", read, got, want)
	}
}

func TestShaper_WindowNeverBelowMinimum(t *testing.T) {
	s, c := newTestShaper(1000, 1000)
	buf := make([]byte, 5000)
	if p := s.Window(buf); len(p) != 1000 {
		t.Fatalf("a full allowance of 1000 gave a window of %d", len(p))
	}
	s.Took(1000)
	if p := s.Window(buf); len(p) != minWindow {
		t.Fatalf("a spent allowance gave a window of %d, want %d", len(p), minWindow)
	}
	if d := s.Took(minWindow); d <= 0 || d > time.Second {
		t.Errorf("overdrawing by %d bytes at 1000 B/s waited %s", minWindow, d)
	}
	c.advance(time.Hour)
	if p := s.Window(buf); len(p) != 1000 {
		t.Errorf("after an hour the window is %d, want the whole burst 1000", len(p))
	}
	if p := s.Window(buf[:10]); len(p) != 10 {
		t.Errorf("a short buffer was cut to %d", len(p))
	}
}

func TestShaper_Disabled(t *testing.T) {
	if NewShaper(0, 1000) != nil || NewShaper(-1, 1000) != nil {
		t.Error("a rate of zero or less must mean no shaper")
	}
}

func newTestFailures(burst int, window time.Duration) (*Failures, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	f := NewFailures(burst, window)
	f.now = c.now
	return f, c
}

func TestFailures_BurstThenRefill(t *testing.T) {
	f, c := newTestFailures(3, 3*time.Minute)
	addr := netip.MustParseAddr("192.0.2.7")
	for i := range 3 {
		if _, wait, ok := f.Begin(addr); !ok {
			t.Fatalf("failure %d of a burst of 3 refused (wait %s)", i+1, wait)
		}
	}
	_, wait, ok := f.Begin(addr)
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("4th attempt: ok=%v wait=%s, want refused with a wait of at most a minute", ok, wait)
	}
	// Another address is not affected.
	if _, _, ok := f.Begin(netip.MustParseAddr("192.0.2.8")); !ok {
		t.Error("a different IPv4 address was refused")
	}
	c.advance(wait)
	if _, _, ok := f.Begin(addr); !ok {
		t.Errorf("refused again after waiting the %s it was told", wait)
	}
}

func TestFailures_ForgivenAttemptsDoNotCount(t *testing.T) {
	f, _ := newTestFailures(2, time.Hour)
	addr := netip.MustParseAddr("2001:db8::1")
	for i := range 10 {
		a, _, ok := f.Begin(addr)
		if !ok {
			t.Fatalf("successful attempt %d refused", i+1)
		}
		a.Forgive()
	}
}

func TestFailures_IPv6CountedPer64(t *testing.T) {
	f, _ := newTestFailures(1, time.Hour)
	if _, _, ok := f.Begin(netip.MustParseAddr("2001:db8:1:2::1")); !ok {
		t.Fatal("first failure refused")
	}
	if _, _, ok := f.Begin(netip.MustParseAddr("2001:db8:1:2:ffff::9")); ok {
		t.Error("another address in the same /64 was not counted with the first")
	}
	if _, _, ok := f.Begin(netip.MustParseAddr("2001:db8:1:3::1")); !ok {
		t.Error("an address in another /64 was refused")
	}
	if _, _, ok := f.Begin(netip.MustParseAddr("::ffff:192.0.2.1")); !ok {
		t.Fatal("first failure of a mapped IPv4 address refused")
	}
	if _, _, ok := f.Begin(netip.MustParseAddr("192.0.2.1")); ok {
		t.Error("an IPv4 address and its IPv4-mapped IPv6 form were counted apart")
	}
}

func TestFailures_TrackedAddressesBounded(t *testing.T) {
	f, c := newTestFailures(1, time.Minute)
	f.maxLen = 100
	base := netip.MustParseAddr("10.0.0.0")
	a := base
	for range 1000 {
		a = a.Next()
		f.Begin(a)
		c.advance(time.Millisecond)
	}
	if n := f.Len(); n > 100 {
		t.Errorf("%d addresses tracked, want at most 100", n)
	}
}

func TestFailures_NilAdmitsEverything(t *testing.T) {
	var f *Failures
	if NewFailures(0, time.Minute) != nil || NewFailures(3, 0) != nil {
		t.Error("a zero burst or window must mean no limit")
	}
	a, _, ok := f.Begin(netip.MustParseAddr("192.0.2.1"))
	if !ok {
		t.Error("a nil Failures refused an attempt")
	}
	a.Forgive()
}

func TestFailures_AttemptsInFlightCountUntilForgiven(t *testing.T) {
	f, _ := newTestFailures(3, time.Hour)
	addr := netip.MustParseAddr("198.51.100.4")
	var inFlight []Attempt
	for range 3 {
		a, _, ok := f.Begin(addr)
		if !ok {
			t.Fatal("an attempt within the burst was refused")
		}
		inFlight = append(inFlight, a)
	}
	if _, _, ok := f.Begin(addr); ok {
		t.Fatal("a 4th attempt was admitted while 3 were still undecided: parallel guesses would slip under the limit")
	}
	inFlight[0].Forgive()
	if _, _, ok := f.Begin(addr); !ok {
		t.Error("an attempt was refused after one in flight succeeded")
	}
}

// BenchmarkShaper_ReadUnderRate is the shaper's cost per read for a client
// within its allowance (the common case): one Window and one Took.
func BenchmarkShaper_ReadUnderRate(b *testing.B) {
	s := NewShaper(1<<50, 1<<50) // never exhausted, whatever b.N
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		p := s.Window(buf)
		s.Took(len(p))
	}
}
