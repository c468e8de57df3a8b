package integration

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
)

// serverOwner is the testing.TB handed to servertest.Start by tests that
// shut the server down themselves: it keeps the cleanup servertest
// registers (which calls Shutdown) instead of registering it, so that the
// test decides whether and when it runs, and sees it panic instead of
// crashing the test binary. Everything else goes to the test's own TB.
type serverOwner struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	ran      bool
}

// Cleanup keeps f for runServertestCleanup.
func (o *serverOwner) Cleanup(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cleanups = append(o.cleanups, f)
}

// runServertestCleanup runs the kept cleanups once, newest first, each
// with its panic recovered; it returns the panics.
func (o *serverOwner) runServertestCleanup() []any {
	o.mu.Lock()
	fns := o.cleanups
	o.cleanups = nil
	o.ran = true
	o.mu.Unlock()
	var panics []any
	for i := len(fns) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if p := recover(); p != nil {
					panics = append(panics, p)
				}
			}()
			fns[i]()
		}()
	}
	return panics
}

// startOwnedServer is startServer for a test that calls Shutdown itself.
// Unless the test has run servertest's cleanup by then (see
// runServertestCleanup) or marked the server as shut down with
// skipServertestCleanup, the cleanup runs when the test ends, so that a
// failed test leaks nothing.
func startOwnedServer(t *testing.T, opts ...servertest.Option) (*servertest.Server, *serverOwner) {
	t.Helper()
	o := &serverOwner{TB: t}
	s := servertest.Start(o, opts...)
	s.AddUser(t, "alice", alicePass)
	s.AddUser(t, "bob", bobPass)
	t.Cleanup(func() {
		o.mu.Lock()
		ran := o.ran
		o.mu.Unlock()
		if ran {
			return
		}
		for _, p := range o.runServertestCleanup() {
			t.Errorf("servertest's cleanup (Shutdown) panicked: %v", p)
		}
	})
	return s, o
}

// skipServertestCleanup records that the test shut the server down itself
// and checked it, so servertest's cleanup, a second Shutdown, is not run:
// TestShutdown_SecondCallTolerated is about that call. (The cleanup also
// cancels the server's base context, which matters no more once Shutdown
// has returned.)
func (o *serverOwner) skipServertestCleanup() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cleanups = nil
	o.ran = true
}

// gatherMetrics reads the samples of reg as /metrics would expose them;
// it works after the HTTP listener has shut down.
func gatherMetrics(t testing.TB, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	samples, err := parseMetrics(rec.Body.String())
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	return samples
}

// shutdownAsync calls s.Shutdown with a wireTimeout deadline in the
// background and delivers its result.
func shutdownAsync(s *servertest.Server) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	return done
}

// expectShutdownError checks that w receives <system-shutdown/> (RFC 6120
// §4.9.3.20) with a <text/>, the closing tag and the end of the
// connection, then answers with its own closing tag (§4.4) and hangs up.
func expectShutdownError(w *wire) {
	w.t.Helper()
	w.expectStreamError("system-shutdown")
	_ = w.write([]byte("</stream:stream>")) // the server may have hung up already
	w.conn.Close()
}

// waitShutdown waits for the result of shutdownAsync and checks it.
func waitShutdown(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(2 * wireTimeout):
		t.Fatal("Shutdown did not return")
	}
}

// expectRefused checks that the server no longer accepts connections.
func expectRefused(t *testing.T, addr net.Addr) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr.String(), wireTimeout)
	if err == nil {
		conn.Close()
		t.Errorf("a connection to %s was accepted after Shutdown", addr)
	}
}

// TestShutdown_BoundSessionsGetSystemShutdown_RFC6120_4_9_3_20 logs two
// clients in, shuts the server down and checks what each sees: a
// <system-shutdown/> stream error with a <text/>, the closing tag and the
// end of the connection (RFC 6120 §4.9.3.20, §4.4). Shutdown returns
// without error once the clients have closed, the listener is gone, and
// the closes are counted under system-shutdown. The sessions are either
// running or parked (no reading goroutine).
func TestShutdown_BoundSessionsGetSystemShutdown_RFC6120_4_9_3_20(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts []servertest.Option
		park bool
	}{
		{"running sessions", nil, false},
		{"parked sessions", []servertest.Option{parkQuickly}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, owner := startOwnedServer(t, tc.opts...)
			alice := dialWire(t, s)
			alice.login("alice", alicePass, "one")
			bob := dialWire(t, s)
			bob.login("bob", bobPass, "two")
			if tc.park {
				waitParked(t, s, 2)
			}
			done := shutdownAsync(s)
			for _, c := range []struct {
				name string
				w    *wire
			}{{"alice", alice}, {"bob", bob}} {
				t.Run(c.name, func(t *testing.T) {
					c.w.t = t
					expectShutdownError(c.w)
				})
			}
			waitShutdown(t, done)
			owner.skipServertestCleanup()
			expectRefused(t, s.C2SAddr())
			if got := gatherMetrics(t, s.Metrics())[closedKey("system-shutdown")]; got != 2 {
				t.Errorf("%s = %v after shutting down 2 sessions, want 2", closedKey("system-shutdown"), got)
			}
		})
	}
}

// TestShutdown_NegotiatingStreamsGetSystemShutdown_RFC6120_4_9_3_20 shuts
// the server down while clients are still negotiating: before STARTTLS,
// between STARTTLS and SASL, and between SASL and resource binding. RFC
// 6120 §4.9.3.20 gives one condition for a server that is being shut
// down, whatever the state of the stream: each must receive
// <system-shutdown/>, not a condition describing something else.
func TestShutdown_NegotiatingStreamsGetSystemShutdown_RFC6120_4_9_3_20(t *testing.T) {
	t.Parallel()
	s, owner := startOwnedServer(t)
	cases := []struct {
		name  string
		reach func(w *wire)
	}{
		{"before STARTTLS", func(w *wire) { w.openDefault() }},
		{"after STARTTLS, before SASL", func(w *wire) { w.tlsStream() }},
		{"after SASL, before resource binding", func(w *wire) {
			w.tlsStream()
			if n := w.authPlain("alice", alicePass); !n.is(nsSASL, "success") {
				w.t.Fatalf("SASL PLAIN: %s", n)
			}
			w.openDefault()
		}},
	}
	wires := make([]*wire, len(cases))
	for i, tc := range cases {
		wires[i] = dialWire(t, s)
		tc.reach(wires[i])
	}
	done := shutdownAsync(s)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wires[i].t = t
			expectShutdownError(wires[i])
		})
	}
	waitShutdown(t, done)
	owner.skipServertestCleanup()
	expectRefused(t, s.C2SAddr())
}

// TestShutdown_SecondCallTolerated shuts a server with a logged-in client
// down, then runs servertest's cleanup, which calls Shutdown a second
// time, as every test that shuts its server down itself causes. The second
// call must neither panic nor fail, with session parking on (the default)
// or off.
func TestShutdown_SecondCallTolerated(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts []servertest.Option
	}{
		{"parking on (default)", nil},
		{"parking off", []servertest.Option{func(c *server.Config) { c.C2S.ParkAfter = 0 }}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, owner := startOwnedServer(t, tc.opts...)
			w := dialWire(t, s)
			w.login("alice", alicePass, "twice")
			done := shutdownAsync(s)
			expectShutdownError(w)
			waitShutdown(t, done)
			for _, p := range owner.runServertestCleanup() {
				t.Errorf("the second Shutdown (servertest's cleanup) panicked: %v", p)
			}
		})
	}
}
