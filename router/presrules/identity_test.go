package presrules

import (
	"strings"
	"testing"
)

// TestParseEntity checks the identity forms an XMPP user may write (RFC
// 5122 xmpp: URIs, RFC 3922 pres:/im: URIs, bare JIDs), their canonical
// bare JIDs, and that other schemes are kept but never XMPP.
func TestParseEntity(t *testing.T) {
	tests := []struct {
		id   string
		jid  string // canonical bare JID; "" for a non-XMPP identity
		fail string // error substring; "" when valid
	}{
		// RFC 5122 §2.
		{id: "xmpp:juliet@example.com", jid: "juliet@example.com"},
		{id: "XMPP:Juliet@EXAMPLE.com", jid: "juliet@example.com"},
		{id: "xmpp:juliet@example.com/balcony", jid: "juliet@example.com"},
		{id: "xmpp:juliet@example.com?subscribe", jid: "juliet@example.com"},
		{id: "xmpp:juliet@example.com#frag", jid: "juliet@example.com"},
		{id: "xmpp://guest@example.com/support@example.com?message", jid: "support@example.com"},
		{id: "xmpp:example.com", jid: "example.com"},
		{id: "xmpp:nasty!%23$%25()*+,;=%5B%5C%5D%5E%60%7B%7C%7D@example.com", jid: `nasty!#$%()*+,;=[\]^` + "`{|}@example.com"},
		{id: "xmpp:%C3%A9lise@example.com", jid: "élise@example.com"},
		{id: "xmpp:élise@example.com", jid: "élise@example.com"},
		{id: "xmpp:juliet@example.com/a/b@c", jid: "juliet@example.com"},
		{id: "xmpp:user@[::1]", jid: "user@[::1]"},
		{id: "xmpp:@example.com", fail: "empty localpart"},
		{id: "xmpp:juliet@", fail: "not an XMPP address"},
		{id: "xmpp:", fail: "not an XMPP address"},
		{id: "xmpp://guest@example.com", fail: "no address"},
		{id: "xmpp:juliet@example.com/", fail: "empty resourcepart"},
		{id: "xmpp:jul%2Fiet@example.com", fail: "not an XMPP address"}, // '/' is not allowed in a localpart
		{id: "xmpp:juliet%zz@example.com", fail: "bad percent-encoding"},
		{id: "xmpp:juliet%FF@example.com", fail: "does not decode to UTF-8"},
		// RFC 3922 §3.3.
		{id: "pres:juliet@example.com", jid: "juliet@example.com"},
		{id: "im:Romeo@Example.NET", jid: "romeo@example.net"},
		{id: "pres:o'brien@example.com", jid: "o#27;brien@example.com"},
		{id: "im:a%26b@example.com", jid: "a#26;b@example.com"},
		{id: "pres:a%2Fb@example.com", jid: "a#2f;b@example.com"},
		{id: "pres:juliet@example.com?subject=hi", jid: "juliet@example.com"},
		{id: "pres:@example.com", fail: "empty localpart"},
		{id: "pres:juliet@example.com/balcony", fail: "not an XMPP address"},
		// Bare JIDs.
		{id: "juliet@example.com", jid: "juliet@example.com"},
		{id: "Juliet@Example.com/Balcony", jid: "juliet@example.com"},
		{id: "example.com", jid: "example.com"},
		{id: "ﬁ@example.com", fail: "not an XMPP address"},    // PRECIS disallows compatibility characters
		{id: "ＪＵＬＩＥＴ@example.com", jid: "juliet@example.com"}, // width-mapped, then case-folded
		{id: "juliet@", fail: "not an XMPP address"},
		{id: "a b@example.com", fail: "not an XMPP address"},
		{id: "", fail: "empty 'id'"},
		// Other schemes: valid, never XMPP.
		{id: "sip:alice@example.com"},
		{id: "tel:+1-212-555-1234"},
		{id: "mailto:bob@example.net"},
		{id: "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			e, err := ParseEntity(tc.id)
			if tc.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fail) {
					t.Fatalf("ParseEntity = %+v, %v; want an error saying %q", e, err, tc.fail)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEntity: %v", err)
			}
			if e.ID != tc.id || e.XMPP != (tc.jid != "") || e.JID.String() != tc.jid {
				t.Errorf("ParseEntity = %+v, want JID %q", e, tc.jid)
			}
			if e.XMPP && !e.JID.IsBare() {
				t.Errorf("JID %s is not bare", e.JID)
			}
		})
	}
}

// TestParseDomain checks the RFC 4745 §7.1.3 domain comparison steps:
// percent-decoding, IDNA, case-insensitive ASCII.
func TestParseDomain(t *testing.T) {
	tests := []struct{ in, want, fail string }{
		{in: "example.com", want: "example.com"},
		{in: "EXAMPLE.com", want: "example.com"},
		{in: "example.com.", want: "example.com"},
		{in: "xn--bcher-kva.example", want: "bücher.example"},
		{in: "BÜCHER.example", want: "bücher.example"},
		{in: "b%C3%BCcher.example", want: "bücher.example"},
		{in: "192.0.2.1", want: "192.0.2.1"},
		{in: "", fail: "empty domain"},
		{in: "a@example.com", fail: "no '@' or '/'"},
		{in: "example.com/x", fail: "no '@' or '/'"},
		{in: "exa mple.com", fail: "is not a domain"},
		{in: "%zz", fail: "bad percent-encoding"},
	}
	for _, tc := range tests {
		got, err := ParseDomain(tc.in)
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("ParseDomain(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.fail)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDomain(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestQuoteShortens checks that error messages do not echo long input.
func TestQuoteShortens(t *testing.T) {
	long := strings.Repeat("é", 100)
	q := quote(long)
	if len(q) > 80 || !strings.HasSuffix(q, "…") || !strings.HasPrefix(q, `"éé`) {
		t.Errorf("quote(200 bytes) = %s (%d bytes)", q, len(q))
	}
	if q := quote("short"); q != `"short"` {
		t.Errorf("quote(short) = %s", q)
	}
}
