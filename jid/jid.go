// Package jid implements XMPP addresses (JIDs) as defined by RFC 7622.
//
// A JID has the form [ localpart "@" ] domainpart [ "/" resourcepart ]
// (RFC 7622 §3.1). Parsing splits the string on the separators first and
// then prepares and enforces each part:
//
//   - the localpart with the PRECIS UsernameCaseMapped profile (RFC 8265
//     §3.3), additionally rejecting the characters " & ' / : < > @
//     (RFC 7622 §3.3.1);
//   - the domainpart per RFC 7622 §3.2: one trailing dot is stripped, IP
//     literals ([IPv6] and dotted-quad IPv4) are accepted, and everything else
//     goes through IDNA2008 with UTS #46 lookup mapping (case folding, width
//     mapping, NFC) and is stored as U-labels;
//   - the resourcepart with the PRECIS OpaqueString profile (RFC 8265 §4.2).
//
// Each part must be 1 to 1023 octets long after preparation.
//
// A JID stores the canonical form of the address, so two JIDs denoting the
// same address compare equal with ==, and String does not allocate. Inputs
// that are pure ASCII and already canonical skip the PRECIS and IDNA
// machinery entirely (the "fast path") and are stored without copying.
//
// Deliberate choices beyond the letter of the PRECIS profiles are documented
// on Parse.
package jid

import (
	"fmt"
)

// JID is a validated XMPP address in canonical form (RFC 7622).
//
// The zero value is the empty JID: it has no parts, IsZero reports true and
// String returns "". JIDs are comparable: two JIDs that denote the same
// address are == because every part is stored in canonical form.
type JID struct {
	// s is the canonical string: [local "@"] domain ["/" resource].
	s string
	// dstart is the offset of the domainpart in s: 0 without a localpart,
	// len(local)+1 otherwise.
	dstart uint16
	// dend is the offset just past the domainpart; if dend < len(s), s[dend]
	// is the '/' that starts the resourcepart.
	dend uint16
}

// Parse parses and canonicalises s as a JID (RFC 7622 §3.1).
//
// The first '/' starts the resourcepart (which may itself contain '/' and
// '@'); in what precedes it, the first '@' separates the localpart from the
// domainpart. Each part is then prepared and enforced as described in the
// package documentation. An empty localpart or resourcepart whose separator
// is present ("@example.com", "example.com/") is an error.
//
// Beyond the PRECIS and IDNA rules, Parse also rejects:
//   - a resourcepart that starts with a space, as RFC 7622 §3.5 (example 18)
//     lists such strings as non-JIDs even though OpaqueString allows them;
//   - a domainpart whose last label is all digits unless the whole domainpart
//     is a dotted-quad IPv4 address (e.g. "1.2.3.04", "256.1.1.1"), which
//     would otherwise be ambiguous with IPv4 literals;
//   - domainparts exceeding the RFC 1034 limits in A-label form;
//   - domain labels with code points that UTS #46 lookup keeps for IDNA2003
//     compatibility but IDNA2008 disallows (e.g. symbols such as U+265A),
//     checked against the PRECIS IdentifierClass, which shares the RFC 5892
//     derivation rules;
//   - IPv6 zone identifiers other than RFC 6874 "%25" followed by unreserved
//     characters, and IPvFuture literals.
//
// One trailing label separator is stripped from the domainpart, whether it is
// an ASCII '.' or a character that IDNA maps to one (such as U+3002).
func Parse(s string) (JID, error) {
	return parse(s, true)
}

// MustParse is like Parse but panics if s is not a valid JID. It is meant for
// tests and for initialising constants from literals.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(fmt.Sprintf("jid.MustParse(%q): %v", s, err))
	}
	return j
}

// New builds a JID from separate parts, preparing and enforcing each of them
// exactly as Parse does. An empty local or resource means the part is absent;
// the domain is required. Unlike with Parse, '@' and '/' inside local are
// reported as forbidden characters rather than treated as separators.
func New(local, domain, resource string) (JID, error) {
	var lp, rp string
	var err error
	if local != "" {
		if lp, err = prepLocal(local, true); err != nil {
			return JID{}, err
		}
	}
	dp, err := prepDomain(domain, true)
	if err != nil {
		return JID{}, err
	}
	if resource != "" {
		if rp, err = prepResource(resource, true); err != nil {
			return JID{}, err
		}
	}
	return assemble(lp, dp, rp, local != "", resource != ""), nil
}

// assemble concatenates canonical parts into a JID.
func assemble(lp, dp, rp string, hasLocal, hasResource bool) JID {
	n := len(dp)
	if hasLocal {
		n += len(lp) + 1
	}
	if hasResource {
		n += len(rp) + 1
	}
	b := make([]byte, 0, n)
	var j JID
	if hasLocal {
		b = append(b, lp...)
		b = append(b, '@')
		j.dstart = uint16(len(b))
	}
	b = append(b, dp...)
	j.dend = uint16(len(b))
	if hasResource {
		b = append(b, '/')
		b = append(b, rp...)
	}
	j.s = string(b)
	return j
}

// Local returns the localpart, or "" if there is none.
func (j JID) Local() string {
	if j.dstart == 0 {
		return ""
	}
	return j.s[:j.dstart-1]
}

// Domain returns the domainpart ("" only for the zero JID).
func (j JID) Domain() string {
	return j.s[j.dstart:j.dend]
}

// Resource returns the resourcepart, or "" if there is none.
func (j JID) Resource() string {
	if int(j.dend) >= len(j.s) {
		return ""
	}
	return j.s[j.dend+1:]
}

// Bare returns j without its resourcepart (localpart@domainpart). It does not
// allocate.
func (j JID) Bare() JID {
	return JID{s: j.s[:j.dend], dstart: j.dstart, dend: j.dend}
}

// Domainpart returns the JID consisting only of j's domainpart. It does not
// allocate.
func (j JID) Domainpart() JID {
	return JID{s: j.s[j.dstart:j.dend], dend: j.dend - j.dstart}
}

// WithResource returns j with its resourcepart replaced by r, which is
// prepared and enforced as in Parse (OpaqueString, RFC 7622 §3.4). An empty r
// yields the bare JID. It is an error to add a resource to the zero JID.
func (j JID) WithResource(r string) (JID, error) {
	if j.IsZero() {
		return JID{}, partError(ErrInvalidDomain, "", ErrEmptyPart, nil, "cannot add a resourcepart to the zero JID")
	}
	if r == "" {
		return j.Bare(), nil
	}
	rp, err := prepResource(r, true)
	if err != nil {
		return JID{}, err
	}
	bare := j.s[:j.dend]
	b := make([]byte, 0, len(bare)+1+len(rp))
	b = append(b, bare...)
	b = append(b, '/')
	b = append(b, rp...)
	return JID{s: string(b), dstart: j.dstart, dend: j.dend}, nil
}

// IsBare reports whether j has no resourcepart. The zero JID is bare.
func (j JID) IsBare() bool {
	return int(j.dend) >= len(j.s)
}

// IsZero reports whether j is the zero (empty) JID.
func (j JID) IsZero() bool {
	return j.s == ""
}

// String returns the canonical string form of j. It does not allocate.
func (j JID) String() string {
	return j.s
}

// Equal reports whether j and o denote the same address. It is equivalent to
// j == o.
func (j JID) Equal(o JID) bool {
	return j == o
}

// MarshalText implements encoding.TextMarshaler. The zero JID marshals to
// empty text.
func (j JID) MarshalText() ([]byte, error) {
	return []byte(j.s), nil
}

// AppendText implements encoding.TextAppender.
func (j JID) AppendText(b []byte) ([]byte, error) {
	return append(b, j.s...), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using Parse. Empty text
// yields the zero JID, so that MarshalText and UnmarshalText round-trip.
func (j *JID) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*j = JID{}
		return nil
	}
	p, err := Parse(string(text))
	if err != nil {
		return fmt.Errorf("jid: unmarshal: %w", err)
	}
	*j = p
	return nil
}
