package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
)

// fastIdle pings a client after 100 ms of silence and gives it 100 ms to
// answer.
func fastIdle(c *server.Config) {
	c.C2S.IdleTimeout = server.Duration(100 * time.Millisecond)
	c.C2S.PingTimeout = server.Duration(100 * time.Millisecond)
}

// waitMetric waits until the /metrics sample key reaches want, or fails
// the test after wireTimeout.
func waitMetric(t testing.TB, s *servertest.Server, key string, want float64) {
	t.Helper()
	deadline := time.Now().Add(wireTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		got := scrapeMetrics(t, s)[key]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", key, got, want)
		}
	}
}

// closedKey is the /metrics sample counting connections closed for reason.
func closedKey(reason string) string {
	return `herald_c2s_connections_closed_total{reason="` + reason + `"}`
}

// expectServerPing reads the next element, which must be the server's
// idle ping to the session jid (XEP-0199 §4.2), and returns it.
func expectServerPing(t testing.TB, w *wire, domain, jid string) *node {
	t.Helper()
	p := w.expect(nsClient, "iq")
	if p.attr("type") != "get" || p.attr("id") == "" || p.child(nsPing, "ping") == nil ||
		p.attr("from") != domain || p.attr("to") != jid {
		t.Fatalf("got %s, want <iq type='get' from='%s' to='%s'><ping xmlns='%s'/></iq>", p, domain, jid, nsPing)
	}
	return p
}

// TestIdle_SilentClientPingedThenConnectionTimeout_RFC6120_4_6_3 logs a
// raw-wire client in and has it never answer. After the idle timeout the
// server checks the peer with an XMPP ping (RFC 6120 §4.6.3, §4.6.4;
// XEP-0199 §4.2); when that goes unanswered it ends the stream with
// <connection-timeout/> (§4.9.3.4), its closing tag and the end of the
// connection, and /metrics counts the close under that reason.
func TestIdle_SilentClientPingedThenConnectionTimeout_RFC6120_4_6_3(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastIdle)
	w := dialWire(t, s)
	j := w.login("alice", alicePass, "silent")
	expectServerPing(t, w, s.Domain, j)
	w.expectStreamError("connection-timeout")
	w.conn.Close()
	waitMetric(t, s, closedKey("connection-timeout"), 1)
}

// TestIdle_ClientAnsweringPingsStaysConnected_XEP0199 has a raw-wire
// client that says nothing but answers every server ping (XEP-0199 §4.2)
// through several rounds: it must stay connected, still be served, and
// close normally.
func TestIdle_ClientAnsweringPingsStaysConnected_XEP0199(t *testing.T) {
	t.Parallel()
	s := startServer(t, fastIdle)
	w := dialWire(t, s)
	j := w.login("alice", alicePass, "awake")
	const rounds = 4
	ids := make(map[string]bool)
	for range rounds {
		p := expectServerPing(t, w, s.Domain, j)
		if ids[p.attr("id")] {
			t.Errorf("the server reused the ping id %q", p.attr("id"))
		}
		ids[p.attr("id")] = true
		w.send("<iq type='result' id='" + p.attr("id") + "' to='" + s.Domain + "'/>")
	}
	// Still served: our own ping is answered (the server may ping us
	// again meanwhile, and gets its answer too).
	w.send("<iq type='get' id='client-ping' to='" + s.Domain + "'><ping xmlns='" + nsPing + "'/></iq>")
	for {
		n := w.expect(nsClient, "iq")
		if n.attr("id") == "client-ping" {
			if n.attr("type") != "result" {
				t.Fatalf("our ping after %d rounds: %s", rounds, n)
			}
			break
		}
		if n.attr("type") != "get" || n.child(nsPing, "ping") == nil {
			t.Fatalf("waiting for the answer to our ping, got %s", n)
		}
		w.send("<iq type='result' id='" + n.attr("id") + "' to='" + s.Domain + "'/>")
	}
	if got := scrapeMetrics(t, s)[closedKey("connection-timeout")]; got != 0 {
		t.Errorf("%s = %v: a client that answered its pings was timed out", closedKey("connection-timeout"), got)
	}
	w.send("</stream:stream>")
	// The server may have sent one more ping before it saw our closing
	// tag; anything else is wrong.
	for {
		n, err := w.next()
		if errors.Is(err, errStreamClosed) {
			break
		}
		if err != nil {
			t.Fatalf("waiting for the server's closing tag: %v", err)
		}
		if !n.is(nsClient, "iq") || n.child(nsPing, "ping") == nil {
			t.Fatalf("after our closing tag the server sent %s", n)
		}
	}
	w.conn.Close()
	waitMetric(t, s, closedKey("client-closed"), 1)
}
