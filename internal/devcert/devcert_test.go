package devcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// now is a fixed clock for the tests; certificates are checked against it,
// not the wall clock.
var now = time.Date(2030, time.March, 1, 12, 0, 0, 0, time.UTC)

// ensure calls Ensure and fails the test on error.
func ensure(t *testing.T, dir string, domains []string, at time.Time) (tls.Certificate, bool) {
	t.Helper()
	cert, generated, err := Ensure(dir, domains, at)
	if err != nil {
		t.Fatalf("Ensure(%q, %q): %v", dir, domains, err)
	}
	if cert.Leaf == nil {
		t.Fatal("Ensure returned a certificate without Leaf")
	}
	return cert, generated
}

// verify checks that cert verifies for serverName when trusted as a root, as
// a client that was told to trust the development certificate would do.
func verify(t *testing.T, cert tls.Certificate, serverName string, at time.Time) error {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	_, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: serverName, Roots: roots, CurrentTime: at})
	return err
}

func TestEnsureGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	cert, generated := ensure(t, dir, []string{"localhost", "example.org"}, now)
	if !generated {
		t.Error("generated = false for a new directory")
	}
	leaf := cert.Leaf
	if got, want := leaf.DNSNames, []string{"localhost", "example.org"}; !slices.Equal(got, want) {
		t.Errorf("DNSNames = %q, want %q", got, want)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IPAddresses = %q, want %q", ips, want)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if !leaf.NotAfter.After(now.Add(360*24*time.Hour)) || leaf.NotAfter.After(now.Add(366*24*time.Hour)) {
		t.Errorf("NotAfter = %v, want about a year after %v", leaf.NotAfter, now)
	}
	if leaf.NotBefore.After(now) {
		t.Errorf("NotBefore = %v is after now %v", leaf.NotBefore, now)
	}
	for _, name := range []string{"localhost", "example.org", "127.0.0.1", "::1"} {
		if err := verify(t, cert, name, now); err != nil {
			t.Errorf("certificate does not verify for %q: %v", name, err)
		}
	}
	if err := verify(t, cert, "other.example", now); err == nil {
		t.Error("certificate verifies for a domain it was not made for")
	}

	// Files: the key is private, and the pair loads.
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	loaded, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatalf("written files do not load: %v", err)
	}
	if !bytes.Equal(loaded.Certificate[0], cert.Certificate[0]) {
		t.Error("written certificate differs from the returned one")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only the two files", names)
	}
}

func TestEnsureNoLoopbackIPsWithoutLocalhost(t *testing.T) {
	cert, _ := ensure(t, t.TempDir(), []string{"example.org"}, now)
	if len(cert.Leaf.IPAddresses) != 0 {
		t.Errorf("IPAddresses = %v, want none", cert.Leaf.IPAddresses)
	}
}

func TestEnsureInternationalizedDomain(t *testing.T) {
	cert, _ := ensure(t, t.TempDir(), []string{"bücher.example"}, now)
	if got := cert.Leaf.DNSNames; !slices.Equal(got, []string{"xn--bcher-kva.example"}) {
		t.Errorf("DNSNames = %q, want the A-label", got)
	}
}

func TestEnsureReuse(t *testing.T) {
	tests := []struct {
		name          string
		first, second []string
		secondAt      time.Time
		wantGenerated bool
	}{
		{"same domains", []string{"localhost", "example.org"}, []string{"localhost", "example.org"}, now, false},
		{"subset of domains", []string{"localhost", "example.org"}, []string{"example.org"}, now, false},
		{"different order and case", []string{"localhost", "example.org"}, []string{"Example.ORG", "localhost"}, now, false},
		{"a month later", []string{"example.org"}, []string{"example.org"}, now.Add(30 * 24 * time.Hour), false},
		{"domain added", []string{"example.org"}, []string{"example.org", "chat.example.org"}, now, true},
		{"expiring within 30 days", []string{"example.org"}, []string{"example.org"}, now.Add(Validity - 29*24*time.Hour), true},
		{"expired", []string{"example.org"}, []string{"example.org"}, now.Add(2 * Validity), true},
		{"not yet valid (clock went back)", []string{"example.org"}, []string{"example.org"}, now.Add(-24 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, _ := ensure(t, dir, tt.first, now)
			second, generated := ensure(t, dir, tt.second, tt.secondAt)
			if generated != tt.wantGenerated {
				t.Fatalf("second Ensure generated = %v, want %v", generated, tt.wantGenerated)
			}
			same := bytes.Equal(first.Certificate[0], second.Certificate[0])
			if same == tt.wantGenerated {
				t.Errorf("second certificate same as first = %v, want %v", same, !tt.wantGenerated)
			}
			for _, d := range tt.second {
				if err := verify(t, second, d, tt.secondAt); err != nil {
					t.Errorf("second certificate does not verify for %q: %v", d, err)
				}
			}
			// A third call reuses whatever the second returned.
			third, generated := ensure(t, dir, tt.second, tt.secondAt)
			if generated || !bytes.Equal(third.Certificate[0], second.Certificate[0]) {
				t.Errorf("third Ensure generated = %v, want reuse", generated)
			}
		})
	}
}

func TestEnsureReplacesBrokenFiles(t *testing.T) {
	tests := []struct {
		name       string
		breakFiles func(t *testing.T, dir string)
	}{
		{"garbage certificate", func(t *testing.T, dir string) {
			writeOrFail(t, filepath.Join(dir, CertFile), []byte("not PEM"))
		}},
		{"missing key", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil {
				t.Fatal(err)
			}
		}},
		{"key of another certificate", func(t *testing.T, dir string) {
			other := t.TempDir()
			if _, _, err := Ensure(other, []string{"example.org"}, now); err != nil {
				t.Fatal(err)
			}
			key, err := os.ReadFile(filepath.Join(other, KeyFile))
			if err != nil {
				t.Fatal(err)
			}
			writeOrFail(t, filepath.Join(dir, KeyFile), key)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ensure(t, dir, []string{"example.org"}, now)
			tt.breakFiles(t, dir)
			cert, generated := ensure(t, dir, []string{"example.org"}, now)
			if !generated {
				t.Error("generated = false after breaking the files")
			}
			if err := verify(t, cert, "example.org", now); err != nil {
				t.Error(err)
			}
			if _, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)); err != nil {
				t.Errorf("replacement files do not load: %v", err)
			}
		})
	}
}

func TestEnsureServesTLS(t *testing.T) {
	cert, _ := ensure(t, t.TempDir(), []string{"localhost"}, time.Now())
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- c.(*tls.Conn).Handshake()
	}()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("TLS handshake with a client trusting the certificate: %v", err)
	}
	conn.Close()
	if err := <-done; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}

func TestEnsureErrors(t *testing.T) {
	if _, _, err := Ensure(t.TempDir(), nil, now); err == nil {
		t.Error("Ensure with no domains succeeded")
	}
	if _, _, err := Ensure(t.TempDir(), []string{"bad domain"}, now); err == nil {
		t.Error("Ensure with an invalid domain succeeded")
	}
	// A file where the directory should be.
	file := filepath.Join(t.TempDir(), "file")
	writeOrFail(t, file, nil)
	if _, _, err := Ensure(file, []string{"example.org"}, now); err == nil {
		t.Error("Ensure into a path that is a file succeeded")
	}
}

// writeOrFail writes data to path.
func writeOrFail(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
