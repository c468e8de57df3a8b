package storage

import "context"

// MaxPresenceRulesBytes bounds a stored presence authorization document.
// Callers enforce tighter limits of their own (router/presrules does); this
// one keeps a backend from storing something absurd.
const MaxPresenceRulesBytes = 1 << 20

// PresenceRules stores one presence authorization document per account:
// the user's RFC 5025 rules (a common-policy <ruleset/>, RFC 4745), as the
// bytes of its canonical XML serialisation. Backends treat the document as
// opaque: validating and canonicalising it is the caller's job (package
// router/presrules), so that elements of extensions the server does not
// evaluate yet are kept as the user wrote them.
//
// Documents are deleted with their account. Errors are wrapped; test them
// with errors.Is.
type PresenceRules interface {
	// PresenceRules returns the owner's document. It fails with ErrNotFound
	// if the owner has none (or no account).
	PresenceRules(ctx context.Context, owner string) ([]byte, error)
	// PutPresenceRules stores doc as the owner's document, replacing any
	// earlier one. It fails with ErrNotFound if the owner has no account,
	// and with ErrInvalid if doc is empty or longer than
	// MaxPresenceRulesBytes.
	PutPresenceRules(ctx context.Context, owner string, doc []byte) error
	// DeletePresenceRules removes the owner's document. It fails with
	// ErrNotFound if there was none.
	DeletePresenceRules(ctx context.Context, owner string) error
}
