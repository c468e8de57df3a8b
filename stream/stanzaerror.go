package stream

import (
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// ErrorType is the 'type' attribute of a stanza error (RFC 6120 §8.3.2).
type ErrorType string

// The stanza error types of RFC 6120 §8.3.2.
const (
	Auth     ErrorType = "auth"
	Cancel   ErrorType = "cancel"
	Continue ErrorType = "continue"
	Modify   ErrorType = "modify"
	Wait     ErrorType = "wait"
)

// StanzaCondition is a defined stanza error condition (RFC 6120 §8.3.3).
type StanzaCondition string

// The stanza error conditions of RFC 6120 §8.3.3.
const (
	BadRequest            StanzaCondition = "bad-request"
	ConflictStanza        StanzaCondition = "conflict"
	FeatureNotImplemented StanzaCondition = "feature-not-implemented"
	Forbidden             StanzaCondition = "forbidden"
	Gone                  StanzaCondition = "gone"
	InternalServerErr     StanzaCondition = "internal-server-error"
	ItemNotFound          StanzaCondition = "item-not-found"
	JIDMalformed          StanzaCondition = "jid-malformed"
	NotAcceptable         StanzaCondition = "not-acceptable"
	NotAllowed            StanzaCondition = "not-allowed"
	NotAuthorizedStanza   StanzaCondition = "not-authorized"
	PolicyViolationStanza StanzaCondition = "policy-violation"
	RecipientUnavailable  StanzaCondition = "recipient-unavailable"
	Redirect              StanzaCondition = "redirect"
	RegistrationRequired  StanzaCondition = "registration-required"
	RemoteServerNotFound  StanzaCondition = "remote-server-not-found"
	RemoteServerTimeout   StanzaCondition = "remote-server-timeout"
	ResourceConstraintSt  StanzaCondition = "resource-constraint"
	ServiceUnavailable    StanzaCondition = "service-unavailable"
	SubscriptionRequired  StanzaCondition = "subscription-required"
	UndefinedConditionSt  StanzaCondition = "undefined-condition"
	UnexpectedRequest     StanzaCondition = "unexpected-request"
)

// defaultTypes holds the error type RFC 6120 §8.3.3 uses for each
// condition in its definition and examples.
var defaultTypes = map[StanzaCondition]ErrorType{
	BadRequest:            Modify,
	ConflictStanza:        Cancel,
	FeatureNotImplemented: Cancel,
	Forbidden:             Auth,
	Gone:                  Cancel,
	InternalServerErr:     Cancel,
	ItemNotFound:          Cancel,
	JIDMalformed:          Modify,
	NotAcceptable:         Modify,
	NotAllowed:            Cancel,
	NotAuthorizedStanza:   Auth,
	PolicyViolationStanza: Modify,
	RecipientUnavailable:  Wait,
	Redirect:              Modify,
	RegistrationRequired:  Auth,
	RemoteServerNotFound:  Cancel,
	RemoteServerTimeout:   Wait,
	ResourceConstraintSt:  Wait,
	ServiceUnavailable:    Cancel,
	SubscriptionRequired:  Auth,
	UndefinedConditionSt:  Cancel,
	UnexpectedRequest:     Wait,
}

// StanzaError is a stanza-level error (RFC 6120 §8.3). Unlike a stream error
// it is recoverable: it is sent back to the sender of one stanza in a stanza
// of the same kind with type='error'.
type StanzaError struct {
	Type      ErrorType
	Condition StanzaCondition
	// Text is a human-readable description sent in the <text/> child.
	Text string
	// By is the entity that generated the error (RFC 6120 §8.3.2), if set.
	By string
	// App is an optional application-specific condition element
	// (RFC 6120 §8.3.4), qualified by its own namespace.
	App *etree.Element
}

// NewStanzaError returns a stanza error with the condition's usual type
// (RFC 6120 §8.3.3) and a formatted description.
func NewStanzaError(c StanzaCondition, format string, args ...any) *StanzaError {
	t, ok := defaultTypes[c]
	if !ok {
		t = Cancel
	}
	text := format
	if len(args) > 0 {
		text = fmt.Sprintf(format, args...)
	}
	return &StanzaError{Type: t, Condition: c, Text: text}
}

// Error implements the error interface.
func (e *StanzaError) Error() string {
	if e.Text == "" {
		return "stanza error: " + string(e.Condition)
	}
	return "stanza error: " + string(e.Condition) + ": " + e.Text
}

// Is reports whether target is a stanza error with the same condition.
func (e *StanzaError) Is(target error) bool {
	t, ok := target.(*StanzaError)
	return ok && t.Condition == e.Condition
}

// AsStanzaError returns the stanza error carried by err, if any.
func AsStanzaError(err error) (*StanzaError, bool) {
	var se *StanzaError
	if errors.As(err, &se) {
		return se, true
	}
	return nil, false
}

// Element renders the <error/> child element (RFC 6120 §8.3.2).
func (e *StanzaError) Element() *etree.Element {
	el := etree.NewElement("error")
	typ := e.Type
	if typ == "" {
		typ = Cancel
	}
	el.CreateAttr("type", string(typ))
	if e.By != "" {
		el.CreateAttr("by", e.By)
	}
	cond := el.CreateElement(string(e.Condition))
	cond.CreateAttr("xmlns", NSStanzaErrors)
	if e.Text != "" {
		t := el.CreateElement("text")
		t.CreateAttr("xmlns", NSStanzaErrors)
		t.CreateAttr("xml:lang", "en")
		t.SetText(e.Text)
	}
	if e.App != nil {
		el.AddChild(e.App.Copy())
	}
	return el
}

// Reply builds the error response to stanza (RFC 6120 §8.3.1): the same
// element name and id, 'to' and 'from' swapped, type='error', and the
// <error/> child. For message and presence the original payload is kept,
// which the RFC allows and which helps the sender correlate; for iq it is
// dropped, as an iq error carries at most the original request child.
// Reply must not be called for a stanza whose type is already 'error'
// (RFC 6120 §8.3.1 rule 3); it returns nil in that case.
func (e *StanzaError) Reply(stanza *etree.Element) *etree.Element {
	if stanza.SelectAttrValue("type", "") == "error" {
		return nil
	}
	r := etree.NewElement(stanza.Tag)
	if v := stanza.SelectAttrValue("from", ""); v != "" {
		r.CreateAttr("to", v)
	}
	if v := stanza.SelectAttrValue("to", ""); v != "" {
		r.CreateAttr("from", v)
	}
	if v := stanza.SelectAttrValue("id", ""); v != "" {
		r.CreateAttr("id", v)
	}
	r.CreateAttr("type", "error")
	if stanza.Tag != "iq" {
		for _, c := range stanza.ChildElements() {
			if c.Tag == "error" {
				continue
			}
			r.AddChild(c.Copy())
		}
	}
	r.AddChild(e.Element())
	return r
}
