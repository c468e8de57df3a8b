package integration

import (
	"encoding/base64"
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// mechanisms lists the SASL mechanisms in a <stream:features/>.
func mechanisms(features *node) []string {
	var out []string
	for _, m := range features.child(nsSASL, "mechanisms").Children {
		if m.is(nsSASL, "mechanism") {
			out = append(out, m.Text)
		}
	}
	return out
}

// TestSTARTTLS_RequiredAndOnlyFeatureBeforeTLS_RFC6120_5_3_1 checks the
// features in the clear: STARTTLS, marked required, and no SASL
// mechanism; after TLS, the mechanisms, with -PLUS variants and the
// channel-binding types (XEP-0440) offered.
func TestSTARTTLS_RequiredAndOnlyFeatureBeforeTLS_RFC6120_5_3_1(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	w := dialWire(t, s)
	clear := w.openDefault()
	if st := clear.child(nsTLS, "starttls"); st == nil || st.child(nsTLS, "required") == nil {
		t.Errorf("features before TLS = %s, want <starttls><required/></starttls>", clear)
	}
	if clear.child(nsSASL, "mechanisms") != nil {
		t.Errorf("SASL mechanisms are offered in the clear: %s", clear)
	}
	if from := attrOf(w.header, "from"); from != s.Domain {
		t.Errorf("response header from = %q, want %q (RFC 6120 §4.7.1)", from, s.Domain)
	}
	if id := attrOf(w.header, "id"); len(id) < 16 {
		t.Errorf("response header id = %q: RFC 6120 §4.7.3 wants an unpredictable stream ID", id)
	}
	if v := attrOf(w.header, "version"); v != "1.0" {
		t.Errorf("response header version = %q, want 1.0", v)
	}
	w.starttls()
	secure := w.openDefault()
	mechs := mechanisms(secure)
	for _, want := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		if !slices.Contains(mechs, want) {
			t.Errorf("mechanisms after TLS %q lack %s", mechs, want)
		}
	}
	if slices.Contains(mechs, "ANONYMOUS") {
		t.Errorf("ANONYMOUS is offered though not configured: %q", mechs)
	}
	var cbTypes []string
	if cb := secure.child("urn:xmpp:sasl-cb:0", "sasl-channel-binding"); cb != nil {
		for _, c := range cb.Children {
			cbTypes = append(cbTypes, c.attr("type"))
		}
	}
	if !slices.Contains(cbTypes, "tls-exporter") {
		t.Errorf("channel-binding types %q lack tls-exporter (XEP-0440, RFC 9266)", cbTypes)
	}
}

// attrOf returns the unqualified attribute name of a start tag.
func attrOf(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// TestStreamHeader_ResponseToEchoesFrom_RFC6120_4_7_2 checks the
// response header's 'to': the bare JID the client gave as 'from', and no
// 'to' when the client gave no 'from'. For a full JID as 'from' (which
// §4.7.1 does not ask clients to send) either the bare JID or the value
// unchanged is accepted: Herald echoes it unchanged on purpose, because
// clients such as mellium.im/xmpp reject any other value.
func TestStreamHeader_ResponseToEchoesFrom_RFC6120_4_7_2(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bare := "alice@" + s.Domain
	cases := []struct {
		name, from string
		want       []string
	}{
		{"bare JID", bare, []string{bare}},
		{"full JID", bare + "/laptop", []string{bare, bare + "/laptop"}},
		{"no from", "", []string{""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			attrs := "to='" + s.Domain + "' " + okAttrs
			if tc.from != "" {
				attrs = "from='" + tc.from + "' " + attrs
			}
			w := dialWire(t, s)
			w.open(header(attrs))
			if to := attrOf(w.header, "to"); !slices.Contains(tc.want, to) {
				t.Errorf("response header to = %q for from = %q, want one of %q", to, tc.from, tc.want)
			}
		})
	}
}

// TestSASL_PlainBeforeSTARTTLS_EncryptionRequired_RFC6120_6_5_4 sends SASL
// PLAIN in the clear: the server must refuse with <encryption-required/>
// without looking at the credentials, and the same connection can still
// negotiate TLS and log in.
func TestSASL_PlainBeforeSTARTTLS_EncryptionRequired_RFC6120_6_5_4(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	w := dialWire(t, s)
	w.openDefault()
	fail := w.authPlain("alice", alicePass)
	if !fail.is(nsSASL, "failure") || fail.child(nsSASL, "encryption-required") == nil {
		t.Fatalf("PLAIN before TLS: got %s, want <failure><encryption-required/></failure>", fail)
	}
	w.starttls()
	w.openDefault()
	if ok := w.authPlain("alice", alicePass); !ok.is(nsSASL, "success") {
		t.Fatalf("PLAIN after TLS: %s", ok)
	}
	w.openDefault()
	if got := w.bind("after-refusal"); got != "alice@"+s.Domain+"/after-refusal" {
		t.Errorf("bound %q", got)
	}
}

// TestSASL_TooManyFailures_PolicyViolation_RFC6120_6_4_5 fails SASL over
// and over on one stream: after the configured number of retries the
// server answers the last failure and closes the stream with
// policy-violation.
func TestSASL_TooManyFailures_PolicyViolation_RFC6120_6_4_5(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	retries := s.Config.C2S.SASLRetries
	if retries < 2 || retries > 5 {
		t.Errorf("configured SASL retries = %d: RFC 6120 §6.4.5 wants 2 to 5", retries)
	}
	w := dialWire(t, s)
	w.tlsStream()
	failures := 0
	for {
		w.send(plainAuth("alice", "wrong"))
		n, err := w.next()
		if err != nil {
			t.Fatalf("after %d failures: %v", failures, err)
		}
		if n.is(nsStreams, "error") {
			t.Fatalf("stream error %s before the last <failure/>: each attempt must be answered", n)
		}
		if !n.is(nsSASL, "failure") || n.child(nsSASL, "not-authorized") == nil {
			t.Fatalf("attempt %d: got %s, want <failure><not-authorized/></failure>", failures+1, n)
		}
		failures++
		if failures == retries+1 {
			break
		}
	}
	w.expectStreamError("policy-violation")
	login(t, s, "alice", alicePass, loginOptions{resource: "after-lockout"})
}

// TestStreamError_NotAuthorized_StanzaBeforeSASL_RFC6120_4_9_3_12 sends a
// stanza after TLS but before authentication.
func TestStreamError_NotAuthorized_StanzaBeforeSASL_RFC6120_4_9_3_12(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cases := []struct{ name, stanza string }{
		{"message", "<message to='bob@" + s.Domain + "'><body>hi</body></message>"},
		{"iq", "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"},
		{"presence", "<presence/>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, s)
			w.tlsStream()
			w.send(tc.stanza)
			w.expectStreamError("not-authorized")
		})
	}
}

// TestSTARTTLS_DataInjectedAfterStarttls_Refused_RFC6120_5_4_3_3 sends a
// stanza in the same write as <starttls/> (the CVE-2011-1431 plaintext
// injection): the server must not proceed, since those bytes would be
// taken as if they had come over TLS.
func TestSTARTTLS_DataInjectedAfterStarttls_Refused_RFC6120_5_4_3_3(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	w := dialWire(t, s)
	w.openDefault()
	w.send("<starttls xmlns='" + nsTLS + "'/><message to='bob@" + s.Domain + "'><body>injected</body></message>")
	n, err := w.next()
	if err != nil {
		t.Fatalf("waiting for the refusal: %v", err)
	}
	if n.is(nsTLS, "proceed") {
		t.Fatal("the server proceeded with TLS although plaintext followed <starttls/>")
	}
	if !n.is(nsStreams, "error") {
		t.Fatalf("got %s, want a stream error", n)
	}
	cond := ""
	text := ""
	for _, c := range n.Children {
		if c.XMLName.Space == nsStreamErr && c.XMLName.Local != "text" {
			cond = c.XMLName.Local
		}
		if c.is(nsStreamErr, "text") {
			text = c.Text
		}
	}
	if cond != "policy-violation" || text == "" {
		t.Errorf("stream error %s, want <policy-violation/> with a <text/>", n)
	}
	w.expectClosed()
	login(t, s, "alice", alicePass, loginOptions{resource: "after-injection"})
}

// TestStream_WhitespaceKeepalives_RFC6120_4_6_1 sends whitespace between
// every element, in every phase: the server ignores it and answers the
// stanzas around it.
func TestStream_WhitespaceKeepalives_RFC6120_4_6_1(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	w := dialWire(t, s)
	// Whitespace may come between elements, not before a restarted
	// stream's XML declaration, which must open the document.
	w.openDefault()
	w.send(" \n\t ")
	w.starttls()
	w.openDefault()
	w.send("  ")
	if n := w.authPlain("alice", alicePass); !n.is(nsSASL, "success") {
		t.Fatalf("auth: %s", n)
	}
	w.openDefault()
	w.send(" ")
	w.bind("keepalive")
	for i, ka := range []string{" ", "\n", "\r\n\t  \n"} {
		w.send(ka)
		id := string(rune('a' + i))
		w.send("<iq type='get' id='" + id + "' to='" + s.Domain + "'><ping xmlns='urn:xmpp:ping'/></iq>" + ka)
		res := w.expect(nsClient, "iq")
		if res.attr("id") != id || res.attr("type") != "result" {
			t.Errorf("ping %s after keepalive %q: %s", id, ka, res)
		}
	}
}

// TestStream_ClientClosesStream_ServerAnswersClosingTag_RFC6120_4_4 closes
// the stream from the client in each phase: the server answers with its
// own </stream:stream> and then closes the connection, without an error.
func TestStream_ClientClosesStream_ServerAnswersClosingTag_RFC6120_4_4(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	cases := []struct {
		name  string
		reach func(w *wire)
	}{
		{"before TLS", func(w *wire) { w.openDefault() }},
		{"after TLS, before SASL", func(w *wire) { w.tlsStream() }},
		{"after bind", func(w *wire) { w.login("alice", alicePass, "closer") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := dialWire(t, s)
			tc.reach(w)
			w.send("</stream:stream>")
			w.expectClosed()
		})
	}
}

// scramExchange runs one SCRAM conversation of mechanism mech on the wire
// and returns the server's final answer (<success/> or <failure/>).
func (w *wire) scramExchange(mech string, conv *scram.ClientConversation) *node {
	w.t.Helper()
	first, err := conv.Step("")
	if err != nil {
		w.t.Fatalf("SCRAM client-first: %v", err)
	}
	w.send("<auth xmlns='" + nsSASL + "' mechanism='" + mech + "'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")
	for {
		n, err := w.next()
		if err != nil {
			w.t.Fatalf("SCRAM exchange: %v", err)
		}
		if !n.is(nsSASL, "challenge") {
			return n
		}
		challenge, err := base64.StdEncoding.DecodeString(strings.TrimSpace(n.Text))
		if err != nil {
			w.t.Fatalf("challenge %s is not base64: %v", n, err)
		}
		resp, err := conv.Step(string(challenge))
		if err != nil {
			w.t.Fatalf("SCRAM client step on %q: %v", challenge, err)
		}
		w.send("<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
	}
}

// TestSCRAM_DowngradeToNonPLUSDetected_RFC5802_6 checks channel-binding
// downgrade protection: a client that supports channel binding but
// believes the server does not (GS2 flag "y") must be refused, because
// this server did offer the -PLUS mechanisms, so someone stripped them
// (RFC 5802 §6, RFC 7677). The same exchange with flag "n" succeeds.
func TestSCRAM_DowngradeToNonPLUSDetected_RFC5802_6(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	client, err := scram.SHA256.NewClient("alice", alicePass, "")
	if err != nil {
		t.Fatalf("SCRAM client: %v", err)
	}

	w := dialWire(t, s)
	w.tlsStream()
	if n := w.scramExchange("SCRAM-SHA-256", client.NewConversationAdvertisingChannelBinding()); !n.is(nsSASL, "failure") {
		t.Errorf("GS2 flag y while -PLUS was offered: got %s, want <failure/>", n)
	}

	w2 := dialWire(t, s)
	w2.tlsStream()
	if n := w2.scramExchange("SCRAM-SHA-256", client.NewConversation()); !n.is(nsSASL, "success") {
		t.Errorf("GS2 flag n: got %s, want <success/>", n)
	}
}
