package integration

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
	"github.com/herald-im/herald/server"
)

// smallQueues allows stanzas of 10,000 bytes, the least RFC 6120 §13.12
// item 4 permits, and 20,000 bytes of unsent output per session, the least
// that fits two such stanzas (Validate wants at least one).
func smallQueues(c *server.Config) {
	c.C2S.MaxStanzaBytes = 10000
	c.C2S.OutboundQueueBytes = 20000
}

// dialSlowReader is dialWire for a client whose socket receive buffer is
// only rcvbuf bytes, set before connecting so that the TCP window it
// advertises stays small: the server's output backs up quickly when the
// client stops reading.
func dialSlowReader(t testing.TB, s *servertest.Server, rcvbuf int) *wire {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	d := net.Dialer{Control: receiveBufferControl(rcvbuf)}
	conn, err := d.DialContext(ctx, "tcp", s.C2SAddr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", s.C2SAddr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		if err := tc.SetReadBuffer(rcvbuf); err != nil {
			t.Fatalf("set the receive buffer to %d bytes: %v", rcvbuf, err)
		}
	}
	return &wire{t: t, srv: s, conn: conn, dec: xml.NewDecoder(conn)}
}

// flood sends bob's large messages to one recipient, in batches, and
// learns how many the server accepted for it.
type flood struct {
	t    *testing.T
	s    *servertest.Server
	bob  *client
	body string
	sent int // messages bob has sent so far, over all recipients
}

// sentKey counts messages the server accepted into some session's queue.
const sentKey = `herald_c2s_stanzas_sent_total{kind="message"}`

// newFlood logs bob in to flood with messages of about 8,000 bytes, close
// to the 10,000-byte stanza limit of smallQueues.
func newFlood(t *testing.T, s *servertest.Server) *flood {
	return &flood{t: t, s: s, bob: login(t, s, "bob", bobPass, loginOptions{resource: "flood"}), body: strings.Repeat("x", 8000)}
}

// batch has bob send n messages to to, back to back, then waits until
// the server has routed them all.
func (f *flood) batch(to string, n int) {
	f.t.Helper()
	for range n {
		f.bob.send(fmt.Sprintf("<message type='chat' to='%s'><body>%d %s</body></message>", to, f.sent, f.body))
		f.sent++
	}
	f.sync(fmt.Sprintf("sync-%d", f.sent))
}

// sync has bob ping the server and waits for the answer: the server
// routes bob's stanzas in order, so then every message bob sent before it
// has been queued for its recipient or refused.
func (f *flood) sync(id string) {
	f.t.Helper()
	if r := f.bob.iq(id, "<iq type='get' id='"+id+"' to='"+f.s.Domain+"'><ping xmlns='"+nsPing+"'/></iq>"); r.attr("type") != "result" {
		f.t.Fatalf("bob's ping %s: %s", id, r)
	}
}

// TestSlowReader_QueueOverflowClosesWithPolicyViolation_ServerStaysUp_RFC6120_4_9_3_14
// has a client ("victim", carol) stop reading its socket, whose receive
// buffer is 4 KiB, while bob floods it with messages close to the stanza
// size limit. Once more output waits for the victim than
// c2s.outbound_queue_bytes allows, the server must give up on it
// (ARCHITECTURE.md: the bounded outbound queue): it stops accepting
// stanzas for it, and the victim, when it reads again, finds at most what
// had been accepted followed by a <policy-violation/> stream error (RFC
// 6120 §4.9.3.14), the closing tag and the end of the connection. /metrics
// counts the close; bob's later messages to it bounce or are dropped; and
// the server keeps serving: alice logs in and chats with bob. The flood is
// bounded to 16 MiB and every wait to wireTimeout.
func TestSlowReader_QueueOverflowClosesWithPolicyViolation_ServerStaysUp_RFC6120_4_9_3_14(t *testing.T) {
	t.Parallel()
	s := startServer(t, smallQueues)
	s.AddUser(t, "carol", carolPass)
	f := newFlood(t, s)
	bob := f.bob

	victim := dialSlowReader(t, s, 4096)
	victimJID := victim.login("carol", carolPass, "victim")
	before := scrapeMetrics(t, s)
	const maxBytes = 16 << 20
	queued := 0.0
	for {
		if f.sent*len(f.body) > maxBytes {
			t.Fatalf("bob sent %d messages (%d bytes) to a client that reads nothing, and the server still queues them all", f.sent, f.sent*len(f.body))
		}
		f.batch(victimJID, 4)
		queued = scrapeMetrics(t, s)[sentKey] - before[sentKey]
		if queued < float64(f.sent) {
			break // the server refused some: the victim is being closed
		}
	}
	t.Logf("bob sent %d messages; the server accepted %v for the victim", f.sent, queued)

	// The victim reads again: the queued messages, then the error.
	received := 0
	for {
		n, err := victim.next()
		if err != nil {
			t.Fatalf("the victim, after %d messages: %v", received, err)
		}
		if n.is(nsClient, "message") {
			if n.attr("from") != bob.jid {
				t.Fatalf("the victim received %.200s, want only bob's messages", n)
			}
			received++
			continue
		}
		if !n.is(nsStreams, "error") || n.child(nsStreamErr, "policy-violation") == nil {
			t.Fatalf("after %d messages the victim received %.300s, want a <policy-violation/> stream error", received, n)
		}
		if txt := n.child(nsStreamErr, "text"); txt == nil || strings.TrimSpace(txt.Text) == "" {
			t.Errorf("the <policy-violation/> stream error has no <text/>: %s", n)
		}
		break
	}
	victim.expectClosed()
	if float64(received) > queued {
		t.Errorf("the victim received %d messages, more than the %v the server accepted for it", received, queued)
	}
	victim.send("</stream:stream>")
	victim.conn.Close()
	waitMetric(t, s, closedKey("policy-violation"), before[closedKey("policy-violation")]+1)

	// The victim's resource is gone: a message to it bounces with
	// service-unavailable (RFC 6121 §8.5.3.2.1) or is dropped (or kept
	// offline); it is never delivered.
	bob.send("<message type='chat' to='" + victimJID + "'><body>are you there?</body></message>")
	f.sync("after")
	if bounce := bob.take(func(n *node) bool { return n.is(nsClient, "message") && n.attr("from") == victimJID }); bounce != nil {
		if cond, _ := stanzaErrorCondition(bounce); bounce.attr("type") != "error" || cond != "service-unavailable" {
			t.Errorf("bob's message to the closed victim came back as %s, want an error with <service-unavailable/>", bounce)
		}
	}

	// The server still serves everyone else.
	alice := login(t, s, "alice", alicePass, loginOptions{resource: "after"})
	bob.send("<message type='chat' to='" + alice.jid + "'><body>still there?</body></message>")
	alice.waitFor("bob's message after the flood", message("still there?"))
	alice.send("<message type='chat' to='" + bob.jid + "'><body>yes</body></message>")
	bob.waitFor("alice's answer after the flood", message("yes"))
}

// TestOutboundQueue_ReadingClientNotClosedByBurst is the counterpart of
// the slow-reader test, with the same limits: a client that reads all the
// time, with ordinary socket buffers, receives bursts of bob's messages
// (8 of about 8,000 bytes each, back to back, 4 bursts). Each burst is a
// few tens of KiB, which the kernel's socket buffers alone can take at
// once; the client is not slow, so it must receive every message and
// never be closed (ARCHITECTURE.md: the queue limit is for clients that
// do not read, "nats-server's slow-consumer rule"). All 32 messages
// together stay below the queue's hard bound (16 × 20,000 bytes), so even
// if the reading goroutine is not scheduled for a while on a loaded
// machine, only a write blocked for the whole stall grace could close it.
func TestOutboundQueue_ReadingClientNotClosedByBurst(t *testing.T) {
	t.Parallel()
	s := startServer(t, smallQueues)
	f := newFlood(t, s)
	reader := dialWire(t, s)
	readerJID := reader.login("alice", alicePass, "reader")
	const bursts, perBurst = 4, 8
	const total = bursts * perBurst
	got := make(chan error, 1)
	go func() {
		for n := 0; n < total; n++ {
			m, err := reader.next()
			if err != nil {
				got <- fmt.Errorf("after %d of %d messages: %w", n, total, err)
				return
			}
			if !m.is(nsClient, "message") {
				got <- fmt.Errorf("after %d of %d messages: got %.300s", n, total, m)
				return
			}
		}
		got <- nil
	}()
	before := scrapeMetrics(t, s)
	for range bursts {
		f.batch(readerJID, perBurst)
	}
	after := scrapeMetrics(t, s)
	if queued := after[sentKey] - before[sentKey]; queued != total {
		t.Errorf("the server accepted %v of %d messages for a client that reads all the time: it gave up on a healthy client", queued, total)
	}
	if closed := after[closedKey("policy-violation")] - before[closedKey("policy-violation")]; closed != 0 {
		t.Errorf("%s went up by %v", closedKey("policy-violation"), closed)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the reading client: %v", err)
		}
	case <-time.After(wireTimeout):
		t.Fatalf("the reading client did not get its %d messages within %s", total, wireTimeout)
	}
}
