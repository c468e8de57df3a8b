package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
)

// plainAttempt makes one SASL PLAIN attempt on a fresh connection from
// source and returns the server's answer.
func plainAttempt(t *testing.T, s *servertest.Server, source, user, password string) *node {
	t.Helper()
	w := dialWireFrom(t, s, source)
	w.tlsStream()
	return w.authPlain(user, password)
}

// TestAuthFailures_LimitedPerAddress_RFC6120_6_5_12 has one address make
// more failed logins, over several connections, than c2s.auth_failures
// allows. Successful logins do not count; past the allowance even the
// right password gets <temporary-auth-failure/> (RFC 6120 §6.5.12) with a
// <text/> saying when to try again, so guessing on gains nothing; another
// address is not affected.
func TestAuthFailures_LimitedPerAddress_RFC6120_6_5_12(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *server.Config) {
		c.C2S.AuthFailures = 3
		c.C2S.AuthFailureWindow = server.Duration(time.Hour)
	})
	const attacker, other = "127.0.0.1", "127.0.0.2"

	for i := range 5 {
		if n := plainAttempt(t, s, attacker, "alice", alicePass); !n.is(nsSASL, "success") {
			t.Fatalf("successful login %d of 5 from %s: got %s", i+1, attacker, n)
		}
	}
	for i := range 3 {
		n := plainAttempt(t, s, attacker, "alice", fmt.Sprintf("guess-%d", i))
		if !n.is(nsSASL, "failure") || n.child(nsSASL, "not-authorized") == nil {
			t.Fatalf("wrong password %d of the 3 allowed: got %s, want <not-authorized/> (successful logins must not count)", i+1, n)
		}
	}
	n := plainAttempt(t, s, attacker, "alice", alicePass)
	if !n.is(nsSASL, "failure") || n.child(nsSASL, "temporary-auth-failure") == nil {
		t.Fatalf("the right password after 3 failures from %s: got %s, want <temporary-auth-failure/>", attacker, n)
	}
	if txt := n.child(nsSASL, "text"); txt == nil || !strings.Contains(txt.Text, "try again in") {
		t.Errorf("the <temporary-auth-failure/> does not say when to try again: %s", n)
	}
	if n := plainAttempt(t, s, other, "alice", alicePass); !n.is(nsSASL, "success") {
		t.Errorf("a login from %s, which never failed, got %s", other, n)
	}
	m := scrapeMetrics(t, s)
	if got := m[`herald_c2s_auth_attempts_total{mechanism="PLAIN",outcome="temporary-auth-failure"}`]; got != 1 {
		t.Errorf("temporary-auth-failure outcomes counted: %v, want 1", got)
	}
	if got := m[`herald_c2s_auth_attempts_total{mechanism="PLAIN",outcome="not-authorized"}`]; got != 3 {
		t.Errorf("not-authorized outcomes counted: %v, want 3", got)
	}
}

// TestInboundRate_FastSenderSlowedNotDropped has bob send 96,000 bytes of
// messages at once on a server that takes 16,384 bytes at once and 32,768
// a second after that. The server must slow bob down rather than cut him
// off or drop anything: alice receives every message, in order, bob's
// stream stays open, and the answer to bob's ping after the messages comes
// no sooner than the rate allows ((96,000 - 16,384) / 32,768 ≈ 2.4 s).
func TestInboundRate_FastSenderSlowedNotDropped(t *testing.T) {
	t.Parallel()
	const rate, burst, count, size = 32768, 16384, 24, 4000
	s := startServer(t, func(c *server.Config) {
		c.C2S.MaxStanzaBytes = 10000
		c.C2S.OutboundQueueBytes = 1 << 20
		c.C2S.InboundRate = rate
		c.C2S.InboundBurst = burst
	})
	alice := login(t, s, "alice", alicePass, loginOptions{resource: "reader"})
	bob := login(t, s, "bob", bobPass, loginOptions{resource: "sender"})
	pad := strings.Repeat("y", size-150)

	start := time.Now()
	for i := range count {
		bob.send(fmt.Sprintf("<message type='chat' to='%s'><body>%d %s</body></message>", alice.jid, i, pad))
	}
	id := imID("after-flood")
	if r := bob.iq(id, "<iq type='get' id='"+id+"' to='"+s.Domain+"'><ping xmlns='"+nsPing+"'/></iq>"); r.attr("type") != "result" {
		t.Fatalf("bob's ping after the messages: %s", r)
	}
	elapsed := time.Since(start)
	if floor := time.Duration(float64(count*size-burst) / rate * float64(time.Second) * 0.8); elapsed < floor {
		t.Errorf("the server took bob's %d bytes in %s; at %d bytes/s after a burst of %d that takes at least %s", count*size, elapsed, rate, burst, floor)
	}
	for i := range count {
		want := fmt.Sprintf("%d %s", i, pad)
		alice.waitFor(fmt.Sprintf("bob's message %d", i), message(want))
	}
	m := scrapeMetrics(t, s)
	if waited := m["herald_c2s_inbound_throttled_seconds_total"]; waited < 1 {
		t.Errorf("herald_c2s_inbound_throttled_seconds_total = %v, want the seconds bob was held back (over 1)", waited)
	}
	if closed := m[closedKey("policy-violation")]; closed != 0 {
		t.Errorf("a session was closed with policy-violation: the fast sender must be slowed, not cut off")
	}
	// bob's stream still works.
	bob.send("<message type='chat' to='" + alice.jid + "'><body>still here</body></message>")
	alice.waitFor("bob's message after the burst", message("still here"))
}
