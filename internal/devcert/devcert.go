// Package devcert provides the self-signed TLS certificate Herald uses when no
// certificate is configured, so that a development server offers STARTTLS
// (RFC 6120 §5) and direct TLS (XEP-0368) out of the box.
//
// The certificate and its key are kept in a directory (the server's data
// directory) and reused across restarts, so a client told once to trust the
// certificate keeps trusting it. It is replaced when it no longer names every
// served domain or is about to expire.
//
// Clients do not trust a self-signed certificate by default; this is for
// development and testing, not for production.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// File names inside the directory given to Ensure.
const (
	// CertFile holds the PEM-encoded certificate.
	CertFile = "devcert.pem"
	// KeyFile holds the PEM-encoded PKCS #8 private key (mode 0600).
	KeyFile = "devcert-key.pem"
)

const (
	// Validity is how long a generated certificate is valid.
	Validity = 365 * 24 * time.Hour
	// RenewBefore is how close to expiry an existing certificate may be and
	// still be reused.
	RenewBefore = 30 * 24 * time.Hour
	// backdate is how far before now a generated certificate's validity
	// starts, to tolerate clients whose clocks run slightly behind.
	backdate = time.Hour
)

// Ensure returns a certificate valid for all domains. It reuses
// dir/devcert.pem and dir/devcert-key.pem if they exist, parse, belong
// together, are valid at now and not expiring within RenewBefore, and name
// every domain as a DNS subject alternative name. Otherwise it generates a
// self-signed ECDSA P-256 certificate valid for Validity (ECDSA keeps the
// server's cost per TLS handshake low) naming every domain, plus 127.0.0.1
// and ::1 if "localhost" is among them, writes both files (the key with mode
// 0600, creating dir with mode 0700 if needed) and returns it.
//
// Domains may be internationalised; they are put in the certificate as
// A-labels (RFC 6125 §6.4.2). The returned certificate has Leaf set. The
// boolean reports whether a new certificate was generated.
func Ensure(dir string, domains []string, now time.Time) (tls.Certificate, bool, error) {
	if len(domains) == 0 {
		return tls.Certificate{}, false, errors.New("devcert: no domains")
	}
	names := make([]string, 0, len(domains))
	for _, d := range domains {
		a, err := idna.Lookup.ToASCII(strings.TrimSuffix(d, "."))
		if err != nil {
			return tls.Certificate{}, false, fmt.Errorf("devcert: domain %q is not a valid DNS name: %w", d, err)
		}
		if a == "" {
			return tls.Certificate{}, false, fmt.Errorf("devcert: empty domain in %q", domains)
		}
		names = append(names, strings.ToLower(a))
	}
	certPath := filepath.Join(dir, CertFile)
	keyPath := filepath.Join(dir, KeyFile)

	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && usable(cert.Leaf, names, now) {
		return cert, false, nil
	}

	cert, certPEM, keyPEM, err := generate(names, now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("devcert: creating directory: %w", err)
	}
	// The key goes first: should writing the certificate fail, the pair
	// does not match and the next call generates a new one.
	if err := writeAtomic(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, false, err
	}
	if err := writeAtomic(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, false, err
	}
	return cert, true, nil
}

// usable reports whether leaf is valid at now, stays valid for RenewBefore,
// and names every one of names (A-labels, lowercase) as a DNS SAN.
func usable(leaf *x509.Certificate, names []string, now time.Time) bool {
	if leaf == nil || now.Before(leaf.NotBefore) || now.Add(RenewBefore).After(leaf.NotAfter) {
		return false
	}
	have := make(map[string]bool, len(leaf.DNSNames))
	for _, n := range leaf.DNSNames {
		have[strings.ToLower(n)] = true
	}
	for _, n := range names {
		if !have[n] {
			return false
		}
	}
	return true
}

// generate creates a self-signed certificate for names and returns it with
// its PEM encodings.
func generate(names []string, now time.Time) (cert tls.Certificate, certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("devcert: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("devcert: generating serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   names[0],
			Organization: []string{"Herald development certificate"},
		},
		NotBefore: now.Add(-backdate),
		NotAfter:  now.Add(Validity),
		KeyUsage:  x509.KeyUsageDigitalSignature,
		// ClientAuth too: a server presents its certificate as a TLS client
		// on outgoing server-to-server connections.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
	}
	for _, n := range names {
		if n == "localhost" {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
			break
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("devcert: creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("devcert: parsing generated certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, fmt.Errorf("devcert: encoding key: %w", err)
	}
	cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	return cert, certPEM, keyPEM, nil
}

// writeAtomic writes data to path with mode perm by writing a temporary file
// in the same directory and renaming it over path, so a reader never sees a
// partial file.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("devcert: writing %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("devcert: writing %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; widen it only if asked to.
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("devcert: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("devcert: writing %s: %w", path, err)
	}
	return nil
}
