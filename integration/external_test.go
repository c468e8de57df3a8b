package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/herald-im/herald/server"
)

// Object identifiers for client certificates.
var (
	// oidSubjectAltName is the subjectAltName extension (RFC 5280
	// §4.2.1.6).
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidOnXMPPAddr is id-on-xmppAddr (RFC 6120 §13.7.1.4).
	oidOnXMPPAddr = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5}
)

// xmppAddrSAN builds a subjectAltName extension holding one otherName of
// type id-on-xmppAddr per address, each a UTF8String (RFC 6120 §13.7.1.4):
//
//	SubjectAltName ::= GeneralNames ::= SEQUENCE OF GeneralName
//	GeneralName    ::= CHOICE { otherName [0] IMPLICIT OtherName, ... }
//	OtherName      ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
func xmppAddrSAN(addrs ...string) (pkix.Extension, error) {
	oid, err := asn1.Marshal(oidOnXMPPAddr)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("marshal id-on-xmppAddr: %w", err)
	}
	var names []byte
	for _, a := range addrs {
		utf8, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(a)})
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("marshal %q: %w", a, err)
		}
		value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8})
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("marshal the value of %q: %w", a, err)
		}
		otherName, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(slices.Clone(oid), value...)})
		if err != nil {
			return pkix.Extension{}, fmt.Errorf("marshal the otherName of %q: %w", a, err)
		}
		names = append(names, otherName...)
	}
	san, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: names})
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("marshal subjectAltName: %w", err)
	}
	return pkix.Extension{Id: oidSubjectAltName, Value: san}, nil
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// file is a PEM file holding the CA certificate.
	file string
}

// newTestCA generates an ECDSA P-256 CA and writes its certificate to a
// PEM file in a temporary directory.
func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Herald integration test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse CA certificate: %v", err)
	}
	file := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatalf("write CA file: %v", err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

// clientCert issues a TLS client certificate whose subjectAltName names
// the given XMPP addresses as id-on-xmppAddr.
func (ca *testCA) clientCert(t testing.TB, serial int64, addrs ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("client key: %v", err)
	}
	san, err := xmppAddrSAN(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(serial),
		Subject:         pkix.Name{CommonName: fmt.Sprintf("client %d", serial)},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{san},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("client certificate for %q: %v", addrs, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// starttlsAs is starttls presenting the client certificate cert (none if
// nil), then restarts the stream and returns the features offered.
func (w *wire) starttlsAs(cert *tls.Certificate) *node {
	w.t.Helper()
	w.openDefault()
	w.send("<starttls xmlns='" + nsTLS + "'/>")
	w.expect(nsTLS, "proceed")
	cfg := w.srv.ClientTLS.Clone()
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tc := tls.Client(w.conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), wireTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		w.t.Fatalf("TLS handshake: %v", err)
	}
	w.conn = tc
	return w.openDefault()
}

// TestSASLExternal_ClientCertificate_XEP0178 authenticates with TLS client
// certificates whose id-on-xmppAddr (RFC 6120 §13.7.1.4) names the
// account, with a server trusting the test CA (c2s.client_ca_file). EXTERNAL
// is offered only to a client that presented a verified certificate
// (XEP-0178 §3, RFC 6120 §6.3.4); the certificate alone logs in as the
// account it names; a certificate naming an unknown account is refused with
// not-authorized; one naming several accounts needs an authzid choosing one
// (XEP-0178 §3 step 6, RFC 6120 §6.5.6 invalid-authzid).
func TestSASLExternal_ClientCertificate_XEP0178(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	s := startServer(t, func(c *server.Config) { c.C2S.ClientCAFile = ca.file })
	alice := "alice@" + s.Domain
	bob := "bob@" + s.Domain

	aliceCert := ca.clientCert(t, 2, alice)
	nobodyCert := ca.clientCert(t, 3, "nobody@"+s.Domain)
	bothCert := ca.clientCert(t, 4, alice, bob)

	cases := []struct {
		name    string
		cert    *tls.Certificate
		authzid string
		cond    string // the failure condition; "" for success
		wantJID string // the bare JID bound on success
	}{
		{"certificate naming alice, no authzid", &aliceCert, "", "", alice},
		{"certificate naming alice, authzid alice", &aliceCert, alice, "", alice},
		{"certificate naming alice, authzid bob (§6.5.6)", &aliceCert, bob, "invalid-authzid", ""},
		{"certificate naming an account that does not exist (§6.5.10)", &nobodyCert, "", "not-authorized", ""},
		{"certificate naming alice and bob, no authzid (§6.5.6)", &bothCert, "", "invalid-authzid", ""},
		{"certificate naming alice and bob, authzid bob", &bothCert, bob, "", bob},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := scrapeMetrics(t, s)
			w := dialWire(t, s)
			features := w.starttlsAs(tc.cert)
			if mechs := mechanisms(features); !slices.Contains(mechs, "EXTERNAL") {
				t.Fatalf("mechanisms %q lack EXTERNAL for a client with a verified certificate", mechs)
			}
			payload := "=" // RFC 6120 §6.4.2: an empty initial response
			if tc.authzid != "" {
				payload = base64.StdEncoding.EncodeToString([]byte(tc.authzid))
			}
			n := w.sendAuth("EXTERNAL", payload)
			outcome := "success"
			if tc.cond != "" {
				outcome = tc.cond
				if !n.is(nsSASL, "failure") || n.child(nsSASL, tc.cond) == nil {
					t.Fatalf("got %s, want <failure><%s/></failure>", n, tc.cond)
				}
			} else {
				if !n.is(nsSASL, "success") {
					t.Fatalf("got %s, want <success/>", n)
				}
				w.openDefault()
				if got, want := w.bind("cert"), tc.wantJID+"/cert"; got != want {
					t.Errorf("bound %q, want %q", got, want)
				}
			}
			checkAuthDeltas(t, before, scrapeMetrics(t, s), map[string]float64{authKey("EXTERNAL", outcome): 1})
		})
	}

	t.Run("no client certificate: EXTERNAL not offered, and refused", func(t *testing.T) {
		w := dialWire(t, s)
		features := w.starttlsAs(nil)
		if mechs := mechanisms(features); slices.Contains(mechs, "EXTERNAL") {
			t.Fatalf("mechanisms %q offer EXTERNAL to a client without a certificate", mechs)
		}
		if n := w.sendAuth("EXTERNAL", "="); !n.is(nsSASL, "failure") || n.child(nsSASL, "invalid-mechanism") == nil {
			t.Errorf("EXTERNAL without a certificate: got %s, want <failure><invalid-mechanism/></failure>", n)
		}
	})
}
