package stream

import (
	"errors"
	"fmt"
	"strings"
)

// Namespaces used on the wire by stream-level errors and stream headers
// (RFC 6120 §4.8 and §4.9.2).
const (
	NSStream       = "http://etherx.jabber.org/streams"
	NSStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSClient       = "jabber:client"
	NSServer       = "jabber:server"
	NSDialback     = "jabber:server:dialback"
	NSXML          = "http://www.w3.org/XML/1998/namespace"
)

// Condition is a defined stream error condition (RFC 6120 §4.9.3).
type Condition string

// The stream error conditions defined by RFC 6120 §4.9.3.
const (
	BadFormat              Condition = "bad-format"
	BadNamespacePrefix     Condition = "bad-namespace-prefix"
	Conflict               Condition = "conflict"
	ConnectionTimeout      Condition = "connection-timeout"
	HostGone               Condition = "host-gone"
	HostUnknown            Condition = "host-unknown"
	ImproperAddressing     Condition = "improper-addressing"
	InternalServerError    Condition = "internal-server-error"
	InvalidFrom            Condition = "invalid-from"
	InvalidNamespace       Condition = "invalid-namespace"
	InvalidXML             Condition = "invalid-xml"
	NotAuthorized          Condition = "not-authorized"
	NotWellFormed          Condition = "not-well-formed"
	PolicyViolation        Condition = "policy-violation"
	RemoteConnectionFailed Condition = "remote-connection-failed"
	Reset                  Condition = "reset"
	ResourceConstraint     Condition = "resource-constraint"
	RestrictedXML          Condition = "restricted-xml"
	SeeOtherHost           Condition = "see-other-host"
	SystemShutdown         Condition = "system-shutdown"
	UndefinedCondition     Condition = "undefined-condition"
	UnsupportedEncoding    Condition = "unsupported-encoding"
	UnsupportedFeature     Condition = "unsupported-feature"
	UnsupportedStanzaType  Condition = "unsupported-stanza-type"
	UnsupportedVersion     Condition = "unsupported-version"
)

// Error is a stream error (RFC 6120 §4.9). Stream errors are unrecoverable:
// whoever receives one from a function in this module writes it with
// [Error.Bytes] and closes the stream.
type Error struct {
	Condition Condition
	// Text is a human-readable description sent in the <text/> child. It
	// is meant for the peer's developers, so it should say what was wrong.
	Text string
	// Other carries the see-other-host address (RFC 6120 §4.9.3.19).
	Other string
}

// Errorf returns a stream error with the given condition and a formatted
// description.
func Errorf(c Condition, format string, args ...any) *Error {
	return &Error{Condition: c, Text: fmt.Sprintf(format, args...)}
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Text == "" {
		return "stream error: " + string(e.Condition)
	}
	return "stream error: " + string(e.Condition) + ": " + e.Text
}

// Is reports whether target is a stream error with the same condition, so
// that errors.Is(err, &stream.Error{Condition: stream.NotWellFormed}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Condition == e.Condition
}

// Bytes renders the error as the <stream:error/> element (RFC 6120 §4.9.2).
// The element uses the 'stream' prefix, which every stream header this
// module writes declares.
func (e *Error) Bytes() []byte {
	var b strings.Builder
	b.WriteString("<stream:error><")
	b.WriteString(string(e.Condition))
	b.WriteString(" xmlns='" + NSStreamErrors + "'")
	if e.Condition == SeeOtherHost && e.Other != "" {
		b.WriteByte('>')
		EscapeText(&b, e.Other)
		b.WriteString("</see-other-host>")
	} else {
		b.WriteString("/>")
	}
	if e.Text != "" {
		b.WriteString("<text xmlns='" + NSStreamErrors + "' xml:lang='en'>")
		EscapeText(&b, e.Text)
		b.WriteString("</text>")
	}
	b.WriteString("</stream:error>")
	return []byte(b.String())
}

// AsError returns the stream error carried by err, if any.
func AsError(err error) (*Error, bool) {
	var se *Error
	if errors.As(err, &se) {
		return se, true
	}
	return nil, false
}

// EscapeText writes s to b with the characters that XML character data and
// attribute values (in either quote style) cannot carry literally replaced by
// the predefined entities.
func EscapeText(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&apos;"
		case '"':
			esc = "&quot;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}
