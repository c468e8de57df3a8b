package storage

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/xdg-go/scram"
	"golang.org/x/text/secure/precis"
)

// DefaultIterations is the PBKDF2 iteration count NewCredentials uses when
// asked for 0. RFC 7677 §3 says the iteration count announced for
// SCRAM-SHA-256 SHOULD be at least 4096, and common clients (xdg-go/scram
// among them) refuse fewer; 4096 is that floor, which keeps a SASL PLAIN
// check or a SCRAM client's key derivation in the low milliseconds. Raise it
// per deployment for more resistance to offline guessing if the database
// leaks.
const DefaultIterations = 4096

// MinIterations is the smallest iteration count NewCredentials accepts
// (RFC 7677 §3, RFC 5802 §9: at least 4096).
const MinIterations = 4096

// SaltSize is the number of random bytes NewCredentials draws for each salt
// (128 bits, so salts never repeat in practice; RFC 5802 §9 requires a
// per-user salt).
const SaltSize = 16

// Hash output sizes, which are also the sizes of StoredKey and ServerKey.
const (
	sha1Size   = sha1.Size
	sha256Size = sha256.Size
)

// SCRAMKeys are the salted SCRAM credentials for one hash function (RFC 5802
// §3, "SCRAM identity"): never the password. The zero value means "no
// credentials for this hash".
type SCRAMKeys struct {
	// Salt is the raw (not base64) salt fed to Hi() (RFC 5802 §2.2).
	Salt []byte
	// Iterations is the PBKDF2 iteration count i.
	Iterations int
	// StoredKey is H(ClientKey) (RFC 5802 §3).
	StoredKey []byte
	// ServerKey is HMAC(SaltedPassword, "Server Key") (RFC 5802 §3).
	ServerKey []byte
}

// IsZero reports whether k holds no credentials.
func (k SCRAMKeys) IsZero() bool {
	return len(k.Salt) == 0 && k.Iterations == 0 && len(k.StoredKey) == 0 && len(k.ServerKey) == 0
}

// StoredCredentials converts k into the form a github.com/xdg-go/scram server
// expects from its credential lookup callback.
func (k SCRAMKeys) StoredCredentials() scram.StoredCredentials {
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(k.Salt), Iters: k.Iterations},
		StoredKey:  k.StoredKey,
		ServerKey:  k.ServerKey,
	}
}

// validate checks that k is either zero or complete with keys of keySize
// bytes.
func (k SCRAMKeys) validate(keySize int) error {
	if k.IsZero() {
		return nil
	}
	switch {
	case len(k.Salt) == 0:
		return errors.New("empty salt")
	case k.Iterations < 1:
		return fmt.Errorf("iteration count %d is not positive", k.Iterations)
	case len(k.StoredKey) != keySize:
		return fmt.Errorf("StoredKey is %d bytes, want %d", len(k.StoredKey), keySize)
	case len(k.ServerKey) != keySize:
		return fmt.Errorf("ServerKey is %d bytes, want %d", len(k.ServerKey), keySize)
	}
	return nil
}

// Credentials holds an account's SCRAM keys for SCRAM-SHA-1 (RFC 5802) and
// SCRAM-SHA-256 (RFC 7677). Either may be zero (absent).
type Credentials struct {
	SHA1   SCRAMKeys
	SHA256 SCRAMKeys
}

// Validate reports whether every non-zero set of keys in c is complete and
// sized for its hash. Backends call it before storing credentials.
func (c Credentials) Validate() error {
	if err := c.SHA1.validate(sha1Size); err != nil {
		return fmt.Errorf("storage: invalid SCRAM-SHA-1 credentials: %w", err)
	}
	if err := c.SHA256.validate(sha256Size); err != nil {
		return fmt.Errorf("storage: invalid SCRAM-SHA-256 credentials: %w", err)
	}
	return nil
}

// PreparePassword enforces the PRECIS OpaqueString profile (RFC 8265 §4.2.2)
// on password: non-ASCII spaces become U+0020, the result is NFC-normalised,
// and invalid UTF-8, code points outside the FreeformClass (such as controls) or an
// empty result are rejected (RFC 8265 §4.1). The error never contains the password.
func PreparePassword(password string) (string, error) {
	// x/text/precis silently replaces invalid UTF-8 with U+FFFD, which would
	// make distinct byte strings equivalent; a password is a string of
	// Unicode code points (RFC 8265 §4.1), so reject it instead.
	if !utf8.ValidString(password) {
		return "", errors.New("storage: password is not valid UTF-8 (RFC 8265 §4.1)")
	}
	p, err := precis.OpaqueString.String(password)
	if err != nil {
		// precis errors do not echo their input, but keep the contract
		// explicit by not wrapping anything derived from the password.
		return "", fmt.Errorf("storage: password does not conform to the PRECIS OpaqueString profile (RFC 8265 §4.2): %w", err)
	}
	return p, nil
}

// NewCredentials derives fresh SCRAM-SHA-1 and SCRAM-SHA-256 credentials from
// password. The password is prepared with PreparePassword (RFC 8265 §4.2),
// each hash gets its own SaltSize-byte salt from crypto/rand, and StoredKey
// and ServerKey are computed as in RFC 5802 §3 with PBKDF2 iterations
// rounds. iterations 0 means DefaultIterations; other values below
// MinIterations are rejected.
func NewCredentials(password string, iterations int) (Credentials, error) {
	if iterations == 0 {
		iterations = DefaultIterations
	}
	if iterations < MinIterations {
		return Credentials{}, fmt.Errorf("storage: iteration count %d is below the minimum %d (RFC 7677 §3)", iterations, MinIterations)
	}
	prepared, err := PreparePassword(password)
	if err != nil {
		return Credentials{}, err
	}
	var creds Credentials
	for _, h := range []struct {
		name string
		gen  scram.HashGeneratorFcn
		dst  *SCRAMKeys
	}{
		{"SHA-1", scram.SHA1, &creds.SHA1},
		{"SHA-256", scram.SHA256, &creds.SHA256},
	} {
		salt := make([]byte, SaltSize)
		if _, err := rand.Read(salt); err != nil {
			return Credentials{}, fmt.Errorf("storage: drawing %s salt: %w", h.name, err)
		}
		keys, err := deriveKeys(h.gen, prepared, salt, iterations)
		if err != nil {
			return Credentials{}, fmt.Errorf("storage: deriving SCRAM-%s keys: %w", h.name, err)
		}
		*h.dst = keys
	}
	return creds, nil
}

// deriveKeys computes the SCRAM identity (RFC 5802 §3) for an already
// prepared password with the given salt and iteration count.
func deriveKeys(h scram.HashGeneratorFcn, prepared string, salt []byte, iterations int) (SCRAMKeys, error) {
	// The password is already prepared with OpaqueString (RFC 8265), which
	// supersedes SASLprep (RFC 4013), so the client must not prep it again.
	client, err := h.NewClientUnprepped("", prepared, "")
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("creating SCRAM client: %w", err)
	}
	sc, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: iterations})
	if err != nil {
		return SCRAMKeys{}, fmt.Errorf("PBKDF2: %w", err)
	}
	return SCRAMKeys{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  sc.StoredKey,
		ServerKey:  sc.ServerKey,
	}, nil
}

// VerifyPassword reports whether password (for example from SASL PLAIN, RFC
// 4616) matches c. It checks the SCRAM-SHA-256 keys, or the SCRAM-SHA-1 keys
// if c has no SHA-256 keys, by re-deriving StoredKey and ServerKey from the
// PRECIS-prepared password and comparing both in constant time. A password
// that fails PRECIS preparation, or credentials with no keys, never match.
func (c Credentials) VerifyPassword(password string) bool {
	keys, gen, size := c.SHA256, scram.SHA256, sha256Size
	if keys.IsZero() {
		keys, gen, size = c.SHA1, scram.SHA1, sha1Size
	}
	if keys.IsZero() || keys.validate(size) != nil {
		return false
	}
	prepared, err := PreparePassword(password)
	if err != nil {
		return false
	}
	got, err := deriveKeys(gen, prepared, keys.Salt, keys.Iterations)
	if err != nil {
		return false
	}
	storedOK := hmac.Equal(got.StoredKey, keys.StoredKey)
	serverOK := hmac.Equal(got.ServerKey, keys.ServerKey)
	return storedOK && serverOK
}
