package c2s

import (
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
)

// TestDecodeSASL checks the payload rules of RFC 6120 §6.4.2: no data,
// "=" for empty data, strict base64 otherwise.
func TestDecodeSASL(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantNil bool
		fail    string
	}{
		{in: "", wantNil: true},
		{in: "  ", wantNil: true},
		{in: "=", want: []byte{}},
		{in: "AGFsaWNlAHNlY3JldA==", want: []byte("\x00alice\x00secret")},
		{in: "not base64!", fail: "incorrect-encoding"},
		{in: "AGFsaWNl=AHNlY3JldA==", fail: "incorrect-encoding"},
	}
	for _, tt := range tests {
		got, fe := decodeSASL(tt.in)
		switch {
		case tt.fail != "":
			if fe == nil || fe.cond != tt.fail {
				t.Errorf("decodeSASL(%q) = %v, want failure %s", tt.in, fe, tt.fail)
			}
		case fe != nil:
			t.Errorf("decodeSASL(%q): %v", tt.in, fe)
		case tt.wantNil && got != nil, !tt.wantNil && (got == nil || string(got) != string(tt.want)):
			t.Errorf("decodeSASL(%q) = %q (nil=%v)", tt.in, got, got == nil)
		}
	}
}

func TestSASLElements_RFC6120_6_4(t *testing.T) {
	tests := []struct{ got, want string }{
		{string(saslElement("success", nil)), "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"},
		{string(saslElement("success", []byte{})), "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</success>"},
		{string(saslElement("challenge", []byte("r=abc"))), "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1hYmM=</challenge>"},
		{string(saslFailure("not-authorized", "")), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"},
		{string(saslFailure("aborted", "a <b> & c")), "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/><text xml:lang='en'>a &lt;b&gt; &amp; c</text></failure>"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

// TestCheckAuthzid: RFC 6120 §6.3.8, a client may only act as itself.
func TestCheckAuthzid(t *testing.T) {
	alice := jid.MustParse("alice@example.com")
	for authzid, ok := range map[string]bool{
		"":                         true,
		"alice@example.com":        true,
		"ALICE@example.com":        true,
		"bob@example.com":          false,
		"alice@example.com/laptop": false,
		"@@":                       false,
	} {
		if got := checkAuthzid(authzid, alice) == nil; got != ok {
			t.Errorf("checkAuthzid(%q) ok=%v, want %v", authzid, got, ok)
		}
	}
}

// TestStampFrom: RFC 6120 §8.1.2.1 and RFC 6121 §3: the full JID, or the
// bare JID on subscription management presence.
func TestStampFrom(t *testing.T) {
	j := jid.MustParse("alice@example.com/laptop")
	tests := []struct {
		tag, typ, want string
	}{
		{"message", "chat", "alice@example.com/laptop"},
		{"iq", "get", "alice@example.com/laptop"},
		{"presence", "", "alice@example.com/laptop"},
		{"presence", "unavailable", "alice@example.com/laptop"},
		{"presence", "probe", "alice@example.com/laptop"},
		{"presence", "subscribe", "alice@example.com"},
		{"presence", "subscribed", "alice@example.com"},
		{"presence", "unsubscribe", "alice@example.com"},
		{"presence", "unsubscribed", "alice@example.com"},
	}
	for _, tt := range tests {
		el := etree.NewElement(tt.tag)
		el.CreateAttr("from", "mallory@example.com")
		if tt.typ != "" {
			el.CreateAttr("type", tt.typ)
		}
		stampFrom(el, j.String(), j.Bare().String())
		if got := el.SelectAttrValue("from", ""); got != tt.want || len(el.Attr) != 1+boolInt(tt.typ != "") {
			t.Errorf("%s type=%q: from = %q, want %q (one 'from' only)", tt.tag, tt.typ, got, tt.want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
