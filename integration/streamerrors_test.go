package integration

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/herald-im/herald/internal/servertest"
)

// phase is the point of the stream at which a raw test sends its payload.
type phase int

const (
	// atHeader: the payload replaces the client's initial stream header.
	atHeader phase = iota
	// beforeTLS: the payload follows a valid header, in the clear.
	beforeTLS
	// afterBind: the payload follows STARTTLS, SASL and resource binding.
	afterBind
)

func (p phase) String() string {
	switch p {
	case atHeader:
		return "header"
	case beforeTLS:
		return "before TLS"
	default:
		return "after bind"
	}
}

// streamErrorCase is one payload and the stream error it must cause.
type streamErrorCase struct {
	name    string
	phase   phase
	payload string
	cond    string // the defined condition (RFC 6120 §4.9.3)
}

// header returns a stream header with the given attributes (and nothing
// else) on <stream:stream>.
func header(attrs string) string {
	return "<?xml version='1.0'?><stream:stream " + attrs + ">"
}

// okAttrs are the attributes of a valid client stream header, without 'to'.
const okAttrs = "version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"

// toBob is the start of a message addressed to bob on domain.
func toBob(domain string) string {
	return "<message type='chat' to='bob@" + domain + "'>"
}

// streamErrorCases lists the cases for a server on domain. Every payload
// that is a stanza is addressed to bob, who must never receive it.
func streamErrorCases(domain string) []streamErrorCase {
	to := "to='" + domain + "' "
	msg := toBob(domain)
	nested := msg + strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000) + "</message>"
	var attrs strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&attrs, " a%d='v'", i)
	}
	manyAttrs := "<message to='bob@" + domain + "'" + attrs.String() + "><body>attrs</body></message>"
	huge := msg + "<body>" + strings.Repeat("A", 1<<20) + "</body></message>"

	return []streamErrorCase{
		// RFC 6120 §4.9.1.2: errors in the header itself.
		{"wrong stream namespace (§4.9.3.10 invalid-namespace)", atHeader,
			header(to + "version='1.0' xmlns='jabber:client' xmlns:stream='http://wrong.example/streams'"), "invalid-namespace"},
		{"jabber:server content namespace on the client port (§4.9.3.10 invalid-namespace)", atHeader,
			header(to + "version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'"), "invalid-namespace"},
		{"stream namespace under another prefix (§4.9.3.2 bad-namespace-prefix)", atHeader,
			"<?xml version='1.0'?><foobar:stream " + to + "version='1.0' xmlns='jabber:client' xmlns:foobar='http://etherx.jabber.org/streams'>", "bad-namespace-prefix"},
		{"unserved domain (§4.9.3.6 host-unknown)", atHeader,
			header("to='nope.example' " + okAttrs), "host-unknown"},
		{"missing 'to' (§4.7.2, §4.9.3.6 host-unknown)", atHeader,
			header(okAttrs), "host-unknown"},
		{"version 2.0 (§4.7.5, §4.9.3.25 unsupported-version)", atHeader,
			header(to + "version='2.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"), "unsupported-version"},
		{"comment before the header (§11.1 restricted-xml)", atHeader,
			"<?xml version='1.0'?><!-- hello -->" + header(to+okAttrs), "restricted-xml"},
		{"processing instruction before the header (§11.1 restricted-xml)", atHeader,
			"<?xml version='1.0'?><?xml-stylesheet href='x.xsl'?>" + header(to+okAttrs), "restricted-xml"},
		{"DOCTYPE with an internal entity before the header (§11.1 restricted-xml)", atHeader,
			"<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY xxe 'expanded'>]>" + header(to+okAttrs), "restricted-xml"},

		// Before TLS, in the clear.
		{"mismatched end tag (§4.9.3.13 not-well-formed)", beforeTLS,
			msg + "<body>hi</message>", "not-well-formed"},
		{"comment (§11.1 restricted-xml)", beforeTLS,
			"<!-- a comment -->", "restricted-xml"},
		{"processing instruction (§11.1 restricted-xml)", beforeTLS,
			"<?php echo 1; ?>", "restricted-xml"},
		{"undefined entity reference &xxe; (§11.1 restricted-xml)", beforeTLS,
			msg + "<body>&xxe;</body></message>", "restricted-xml"},
		{"DOCTYPE inside the stream (§11.1 restricted-xml)", beforeTLS,
			"<!DOCTYPE x [<!ENTITY xxe 'expanded'>]>", "restricted-xml"},
		{"a stanza before authentication (§4.9.3.12 not-authorized)", beforeTLS,
			msg + "<body>let me in</body></message>", "not-authorized"},
		{"10,000 nested elements (§4.9.3.14 policy-violation)", beforeTLS,
			nested, "policy-violation"},
		{"1,000 attributes (§4.9.3.14 policy-violation)", beforeTLS,
			manyAttrs, "policy-violation"},
		{"a 1 MiB element (§13.12 item 4, §4.9.3.14 policy-violation)", beforeTLS,
			huge, "policy-violation"},

		// After TLS, SASL and resource binding.
		{"mismatched end tag (§4.9.3.13 not-well-formed)", afterBind,
			msg + "<body>hi</message>", "not-well-formed"},
		{"invalid UTF-8 in a stanza (§4.9.3.22 unsupported-encoding, §11.6)", afterBind,
			msg + "<body>bad \xff\xfe bytes</body></message>", "unsupported-encoding"},
		{"truncated UTF-8 sequence in a stanza (§4.9.3.22 unsupported-encoding, §11.6)", afterBind,
			msg + "<body>cut \xe2\x82 short</body></message>", "unsupported-encoding"},
		{"control character U+0001 in a stanza (§4.9.3.13 not-well-formed, XML §2.2)", afterBind,
			msg + "<body>bell\x01</body></message>", "not-well-formed"},
		{"comment inside a stanza (§11.1 restricted-xml)", afterBind,
			msg + "<!-- c --><body>x</body></message>", "restricted-xml"},
		{"processing instruction inside a stanza (§11.1 restricted-xml)", afterBind,
			msg + "<?pi data?><body>x</body></message>", "restricted-xml"},
		{"undefined entity reference &xxe; (§11.1 restricted-xml)", afterBind,
			msg + "<body>&xxe;</body></message>", "restricted-xml"},
		{"DOCTYPE with an internal entity inside the stream (§11.1 restricted-xml)", afterBind,
			"<!DOCTYPE message [<!ENTITY xxe 'expanded'>]>" + msg + "<body>&xxe;</body></message>", "restricted-xml"},
		{"content namespace under a prefix (§4.8.5, §4.9.3.2 bad-namespace-prefix)", afterBind,
			"<cl:message xmlns:cl='jabber:client' to='bob@" + domain + "'><cl:body>x</cl:body></cl:message>", "bad-namespace-prefix"},
		{"10,000 nested elements (§4.9.3.14 policy-violation)", afterBind,
			nested, "policy-violation"},
		{"1,000 attributes (§4.9.3.14 policy-violation)", afterBind,
			manyAttrs, "policy-violation"},
		{"a 1 MiB stanza (§13.12 item 4, §4.9.3.14 policy-violation)", afterBind,
			huge, "policy-violation"},
		{"unknown first-level element (§4.9.3.24 unsupported-stanza-type)", afterBind,
			"<foo/>", "unsupported-stanza-type"},
		{"first-level element in another namespace (§4.9.3.24 unsupported-stanza-type)", afterBind,
			"<query xmlns='jabber:iq:roster'/>", "unsupported-stanza-type"},
		{"spoofed 'from' (§4.9.3.9 invalid-from, §8.1.2.1)", afterBind,
			"<message type='chat' from='mallory@" + domain + "/x' to='bob@" + domain + "'><body>spoofed</body></message>", "invalid-from"},
		{"'from' of another user's session (§4.9.3.9 invalid-from)", afterBind,
			"<message type='chat' from='bob@" + domain + "/victim' to='bob@" + domain + "'><body>spoofed</body></message>", "invalid-from"},
	}
}

// TestStreamErrors_RFC6120_4_9 sends each bad payload at its negotiation
// phase and checks what the client sees (RFC 6120 §4.9.1): a stream error
// with the exact defined condition and an explanatory <text/>, then the
// server's closing tag and the end of the connection. Afterwards a fresh
// client still logs in and reaches bob, who never received the bad
// stanza.
func TestStreamErrors_RFC6120_4_9(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bob := login(t, s, "bob", bobPass, loginOptions{resource: "victim"})
	bob.available(0)
	for i, tc := range streamErrorCases(s.Domain) {
		t.Run(tc.phase.String()+"/"+tc.name, func(t *testing.T) {
			w := dialWire(t, s)
			switch tc.phase {
			case atHeader:
				w.send(tc.payload)
				if _, err := w.readHeader(); err != nil {
					t.Fatalf("RFC 6120 §4.9.1.2: the server must send its stream header before the error: %v", err)
				}
			case beforeTLS:
				w.openDefault()
			case afterBind:
				w.login("alice", alicePass, "attacker")
			}
			var sent <-chan error
			if tc.phase != atHeader {
				sent = w.sendAsync([]byte(tc.payload))
			}
			w.expectStreamError(tc.cond)
			if sent != nil {
				select {
				case <-sent: // an error is fine: the server may stop reading
				case <-time.After(wireTimeout):
					t.Errorf("writing the payload did not finish: the server neither read nor closed")
				}
			}
			assertStillServes(t, s, bob, fmt.Sprintf("marker %d", i))
		})
	}
}

// TestStreamError_UnreadInputDoesNotResetConnection_RFC6120_4_4 sends a
// malformed element followed, in the same write, by more data that the
// server will never parse. The client must still read the stream error,
// the closing tag and a clean end of the connection: a server that closes
// its socket with unread input makes the kernel send a TCP reset, which
// can destroy the error before the client reads it. RFC 6120 §4.4 has the
// closing side wait for the other's closing tag instead.
func TestStreamError_UnreadInputDoesNotResetConnection_RFC6120_4_4(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, ph := range []phase{beforeTLS, afterBind} {
		t.Run(ph.String(), func(t *testing.T) {
			w := dialWire(t, s)
			if ph == beforeTLS {
				w.openDefault()
			} else {
				w.login("alice", alicePass, "resetter")
			}
			sent := w.sendAsync([]byte("<message><body>oops</message>" + strings.Repeat("<message><body>never parsed</body></message>", 2000)))
			w.expectStreamError("not-well-formed")
			select {
			case <-sent:
			case <-time.After(wireTimeout):
				t.Error("writing did not finish: the server neither read nor closed")
			}
		})
	}
}

// assertStillServes logs a fresh client in, has it send marker to bob and
// checks that bob received the marker and nothing else since the last
// check: whatever the failed stream sent never reached him.
func assertStillServes(t *testing.T, s *servertest.Server, bob *client, marker string) {
	t.Helper()
	c := login(t, s, "alice", alicePass, loginOptions{resource: "checker"})
	c.send("<message type='chat' to='" + bob.jid + "'><body>" + marker + "</body></message>")
	bob.waitFor(marker, message(marker))
	for _, n := range bob.pending() {
		t.Errorf("bob received %s from a stream that was closed with an error", n)
	}
	bob.clear()
}

// TestStreamError_RestrictedXML_BillionLaughs_RFC6120_11_1 sends a DOCTYPE
// whose entities would expand to gigabytes before the stream header, then
// references the entity. The server must refuse it with restricted-xml
// without allocating anything like the expansion (speed is for the
// benchmarks; an expansion would not finish within the test's timeouts).
//
// The test is not parallel so that the allocation count is the server's.
func TestStreamError_RestrictedXML_BillionLaughs_RFC6120_11_1(t *testing.T) {
	s := startServer(t)
	var doctype strings.Builder
	doctype.WriteString("<!DOCTYPE lolz [<!ENTITY lol 'lol'>")
	prev := "lol"
	for i := 1; i <= 10; i++ {
		name := fmt.Sprintf("lol%d", i)
		fmt.Fprintf(&doctype, "<!ENTITY %s '%s'>", name, strings.Repeat("&"+prev+";", 10))
		prev = name
	}
	doctype.WriteString("]>")

	for _, tc := range []struct {
		name string
		ph   phase
		data string
	}{
		{"in the prolog", atHeader, "<?xml version='1.0'?>" + doctype.String() + header("to='"+s.Domain+"' "+okAttrs)},
		{"inside the stream", beforeTLS, doctype.String() + "<message><body>&lol10;</body></message>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			w := dialWire(t, s)
			if tc.ph == beforeTLS {
				w.openDefault()
			}
			sent := w.sendAsync([]byte(tc.data))
			if tc.ph == atHeader {
				if _, err := w.readHeader(); err != nil {
					t.Fatal(err)
				}
			}
			w.expectStreamError("restricted-xml")
			<-sent
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 { // whole process, parallel tests included; expansion would be ~10 GB
				t.Errorf("the process allocated %d MiB while refusing the DOCTYPE: the entities may have been expanded", alloc>>20)
			}
		})
	}
	login(t, s, "alice", alicePass, loginOptions{resource: "after-lol"})
}
