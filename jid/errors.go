package jid

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors returned by this package. Every error returned by Parse, New,
// WithResource and UnmarshalText wraps exactly one of the part sentinels
// (ErrInvalidLocal, ErrInvalidDomain, ErrInvalidResource), naming the part
// that was rejected, and may additionally wrap one of the kind sentinels
// (ErrEmptyPart, ErrTooLong, ErrForbiddenChar) describing why. Both can be
// tested with errors.Is. Errors from the underlying PRECIS and IDNA libraries
// are wrapped as well.
//
// Any such error is, in protocol terms, a <jid-malformed/> condition
// (RFC 6120 §8.3.3.8, RFC 7622 §4).
var (
	// ErrInvalidLocal marks an error in the localpart (RFC 7622 §3.3).
	ErrInvalidLocal = errors.New("jid: invalid localpart")
	// ErrInvalidDomain marks an error in the domainpart (RFC 7622 §3.2),
	// including a missing domainpart.
	ErrInvalidDomain = errors.New("jid: invalid domainpart")
	// ErrInvalidResource marks an error in the resourcepart (RFC 7622 §3.4).
	ErrInvalidResource = errors.New("jid: invalid resourcepart")

	// ErrEmptyPart reports a zero-length part: a missing domainpart, or an
	// empty localpart/resourcepart whose separator is present (for example
	// "@example.com" or "example.com/"), or a part that became empty after
	// preparation.
	ErrEmptyPart = errors.New("empty part")
	// ErrTooLong reports a part longer than 1023 octets after preparation
	// (RFC 7622 §3.2, §3.3, §3.4), or a domainpart exceeding the DNS limits of
	// RFC 1034 (63 octets per label, 253 octets in total, in A-label form).
	ErrTooLong = errors.New("part too long")
	// ErrForbiddenChar reports one of the characters that RFC 7622 §3.3.1
	// excludes from localparts (" & ' / : < > @), before or after preparation.
	ErrForbiddenChar = errors.New("forbidden character")
)

// maxQuoted bounds how much of the offending input is echoed in an error
// message, so that huge inputs do not produce huge errors.
const maxQuoted = 64

// quote returns s quoted for an error message, truncated to maxQuoted bytes.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..."
}

// partError builds an error for part (one of the part sentinels) holding raw.
// kind is an optional kind sentinel and cause an optional underlying error.
func partError(part error, raw string, kind, cause error, detail string) error {
	switch {
	case kind != nil && cause != nil:
		return fmt.Errorf("%w %s: %w: %w", part, quote(raw), kind, cause)
	case kind != nil && detail != "":
		return fmt.Errorf("%w %s: %w: %s", part, quote(raw), kind, detail)
	case kind != nil:
		return fmt.Errorf("%w %s: %w", part, quote(raw), kind)
	case cause != nil:
		return fmt.Errorf("%w %s: %w", part, quote(raw), cause)
	default:
		return fmt.Errorf("%w %s: %s", part, quote(raw), detail)
	}
}
