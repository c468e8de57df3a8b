package stream

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestErrorBytes checks the <stream:error/> rendering of RFC 6120 §4.9.2.
func TestErrorBytes(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Condition: NotWellFormed}, `<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`},
		{Errorf(PolicyViolation, "stanza of %d bytes < & >", 5), `<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>stanza of 5 bytes &lt; &amp; &gt;</text></stream:error>`},
		{&Error{Condition: SeeOtherHost, Other: "[2001:db8::1]:5222"}, `<stream:error><see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::1]:5222</see-other-host></stream:error>`},
	}
	for _, tc := range tests {
		if got := string(tc.err.Bytes()); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
		// The rendering is a well-formed element with the stream prefix.
		res := decodeString(t, hdrClient+string(tc.err.Bytes())+CloseTag, Limits{}, nil)
		if len(res.els) != 1 || res.err.Error() != "EOF" {
			t.Errorf("%s does not parse: %v", tc.err.Bytes(), res.err)
		}
	}
}

// TestErrorMatching checks errors.Is / AsError on wrapped stream errors.
func TestErrorMatching(t *testing.T) {
	err := fmt.Errorf("session: %w", Errorf(RestrictedXML, "comment"))
	if !errors.Is(err, &Error{Condition: RestrictedXML}) || errors.Is(err, &Error{Condition: BadFormat}) {
		t.Fatal("errors.Is does not compare conditions")
	}
	se, ok := AsError(err)
	if !ok || se.Condition != RestrictedXML || !strings.Contains(err.Error(), "restricted-xml: comment") {
		t.Fatalf("AsError = %v, %v", se, ok)
	}
	if _, ok := AsError(errors.New("x")); ok {
		t.Fatal("AsError matched a plain error")
	}
	if got := (&Error{Condition: Conflict}).Error(); got != "stream error: conflict" {
		t.Fatalf("Error() = %q", got)
	}
}

// TestEscapeText checks EscapeText.
func TestEscapeText(t *testing.T) {
	var b strings.Builder
	EscapeText(&b, "a<b>c&d'e\"f\rg\nh")
	if got, want := b.String(), "a&lt;b&gt;c&amp;d&apos;e&quot;f&#xD;g\nh"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestStanzaErrorReply checks error replies (RFC 6120 §8.3.1) built from
// decoded stanzas.
func TestStanzaErrorReply(t *testing.T) {
	d := NewDecoder(strings.NewReader(hdrClient+
		`<message from='romeo@example.net/orchard' to='juliet@example.com' id='m1' type='chat'><body>hi</body></message>`+
		`<iq from='romeo@example.net/orchard' id='i1' type='get'><query xmlns='jabber:iq:version'/></iq>`+
		`<message type='error' id='m2'/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	se := NewStanzaError(ServiceUnavailable, "")
	want := []string{
		`<message to="romeo@example.net/orchard" from="juliet@example.com" id="m1" type="error"><body>hi</body><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
		`<iq to="romeo@example.net/orchard" id="i1" type="error"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		"",
	}
	for i, w := range want {
		el, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		r := se.Reply(el)
		got := ""
		if r != nil {
			got = string(AppendElement(nil, r))
		}
		if got != w {
			t.Errorf("reply %d:\ngot  %s\nwant %s", i, got, w)
		}
	}
	if e := NewStanzaError(JIDMalformed, "bad %s", "jid"); e.Type != Modify || e.Error() != "stanza error: jid-malformed: bad jid" {
		t.Fatalf("NewStanzaError = %+v", e)
	}
	if !errors.Is(fmt.Errorf("x: %w", e2()), &StanzaError{Condition: ItemNotFound}) {
		t.Fatal("errors.Is on stanza errors")
	}
	if s, ok := AsStanzaError(fmt.Errorf("x: %w", e2())); !ok || s.Type != Cancel {
		t.Fatal("AsStanzaError")
	}
}

func e2() error { return NewStanzaError(ItemNotFound, "gone") }
