package integration

import (
	"errors"
	"testing"
	"time"

	xmppstream "mellium.im/xmpp/stream"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
)

// parkQuickly makes silent sessions park after 50 ms.
func parkQuickly(c *server.Config) { c.C2S.ParkAfter = server.Duration(50 * time.Millisecond) }

// waitParked waits until n sessions are parked, as /metrics reports.
func waitParked(t *testing.T, s *servertest.Server, n float64) {
	t.Helper()
	deadline := time.Now().Add(wireTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		got := scrapeMetrics(t, s)["herald_c2s_parked_sessions"]
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("herald_c2s_parked_sessions = %v, want %v", got, n)
		}
	}
}

// TestParkedSessions_StillChat: sessions that went silent and parked (no
// reading goroutine) still receive stanzas, wake up when their client
// speaks, answer pings, and the conversation is indistinguishable from one
// with unparked sessions.
func TestParkedSessions_StillChat(t *testing.T) {
	t.Parallel()
	s := startServer(t, parkQuickly)
	alice := login(t, s, "alice", alicePass, loginOptions{resource: "a"})
	bob := login(t, s, "bob", bobPass, loginOptions{resource: "b"})
	alice.available(1)
	bob.available(1)
	waitParked(t, s, 2)

	// Delivery to a parked session needs no reader; the parked sender
	// wakes up to send.
	for i := 0; i < 3; i++ {
		bob.send("<message type='chat' to='alice@localhost/a'><body>ping " + string(rune('0'+i)) + "</body></message>")
		alice.waitFor("bob's message", message("ping "+string(rune('0'+i))))
		waitParked(t, s, 2)
		alice.send("<message type='chat' to='bob@localhost/b'><body>pong " + string(rune('0'+i)) + "</body></message>")
		bob.waitFor("alice's answer", message("pong "+string(rune('0'+i))))
		waitParked(t, s, 2)
	}
	if pong := alice.iq("p1", "<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"); pong.attr("type") != "result" {
		t.Fatalf("ping from a parked session: %s", pong)
	}
}

// TestParkedSessions_ConflictAndShutdown: a parked session replaced by a
// new one still gets its <conflict/> stream error and is closed, and the
// server shuts down cleanly with parked sessions (servertest checks that
// Shutdown returns without error).
func TestParkedSessions_ConflictAndShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t, parkQuickly)
	first := login(t, s, "alice", alicePass, loginOptions{resource: "same"})
	_ = login(t, s, "bob", bobPass, loginOptions{resource: "idle"})
	waitParked(t, s, 2)
	second := login(t, s, "alice", alicePass, loginOptions{resource: "same"})
	select {
	case <-first.done:
	case <-time.After(wireTimeout):
		t.Fatal("the parked session was not closed after another bound its JID")
	}
	var se xmppstream.Error
	if !errors.As(first.err, &se) || se.Err != "conflict" {
		t.Fatalf("the parked session ended with %v, want a <conflict/> stream error", first.err)
	}
	waitParked(t, s, 2) // bob and the new alice
	_ = second
}
