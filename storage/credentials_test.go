package storage

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

func mustCredentials(t *testing.T, password string) Credentials {
	t.Helper()
	c, err := NewCredentials(password, DefaultIterations)
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return c
}

// TestNewCredentialsShape checks the stored SCRAM identity (RFC 5802 §3): a
// fresh random salt of at least 16 bytes per hash, the requested iteration
// count, hash-sized keys, and no trace of the password.
func TestNewCredentialsShape(t *testing.T) {
	const password = "correct horse battery staple"
	a := mustCredentials(t, password)
	b := mustCredentials(t, password)
	for _, tc := range []struct {
		name    string
		a, b    SCRAMKeys
		keySize int
	}{
		{"SHA-1", a.SHA1, b.SHA1, 20},
		{"SHA-256", a.SHA256, b.SHA256, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.a.Salt) < 16 {
				t.Errorf("salt is %d bytes, want >= 16", len(tc.a.Salt))
			}
			if tc.a.Iterations != DefaultIterations {
				t.Errorf("Iterations = %d, want %d", tc.a.Iterations, DefaultIterations)
			}
			if len(tc.a.StoredKey) != tc.keySize || len(tc.a.ServerKey) != tc.keySize {
				t.Errorf("key sizes %d/%d, want %d", len(tc.a.StoredKey), len(tc.a.ServerKey), tc.keySize)
			}
			if bytes.Equal(tc.a.Salt, tc.b.Salt) {
				t.Error("two derivations share a salt")
			}
			if bytes.Equal(tc.a.StoredKey, tc.b.StoredKey) {
				t.Error("two derivations with different salts share a StoredKey")
			}
			for _, field := range [][]byte{tc.a.Salt, tc.a.StoredKey, tc.a.ServerKey} {
				if bytes.Contains(field, []byte(password)) {
					t.Error("credentials contain the password")
				}
			}
		})
	}
	if bytes.Equal(a.SHA1.Salt, a.SHA256.Salt) {
		t.Error("SHA-1 and SHA-256 share a salt")
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestNewCredentialsIterations(t *testing.T) {
	for _, tc := range []struct {
		iterations int
		want       int // 0: expect an error
	}{
		{0, DefaultIterations},
		{4096, 4096},
		{5000, 5000},
		{4095, 0},
		{1, 0},
		{-1, 0},
	} {
		c, err := NewCredentials("pencil", tc.iterations)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("NewCredentials(_, %d): no error", tc.iterations)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewCredentials(_, %d): %v", tc.iterations, err)
			continue
		}
		if c.SHA1.Iterations != tc.want || c.SHA256.Iterations != tc.want {
			t.Errorf("NewCredentials(_, %d): iterations %d/%d, want %d", tc.iterations, c.SHA1.Iterations, c.SHA256.Iterations, tc.want)
		}
	}
}

// TestNewCredentialsRejectsNonConformingPasswords covers RFC 8265 §4.1: a
// password must be non-empty after mapping and consist of FreeformClass code
// points only.
func TestNewCredentialsRejectsNonConformingPasswords(t *testing.T) {
	for name, pw := range map[string]string{
		"empty":         "",
		"control char":  "pass\u0007word",
		"private use":   "pass\ue000word",
		"invalid UTF-8": "pass\xffword",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewCredentials(pw, 0)
			if err == nil {
				t.Fatal("no error")
			}
			if pw != "" && strings.Contains(err.Error(), pw) {
				t.Errorf("error %q echoes the password", err)
			}
		})
	}
}

// TestVerifyPassword covers SASL PLAIN checking, including the equivalences
// and non-equivalences of the OpaqueString profile (RFC 8265 §4.2.2).
func TestVerifyPassword(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stored   string
		supplied string
		want     bool
	}{
		{"same password", "pencil", "pencil", true},
		{"wrong password", "pencil", "pen", false},
		{"empty supplied", "pencil", "", false},
		{"case is significant (§4.2.2 rule 3)", "Pencil", "pencil", false},
		{"NFC vs decomposed (§4.2.2 rule 4)", "p\u00e4ss", "pa\u0308ss", true},
		{"decomposed vs NFC (§4.2.2 rule 4)", "pa\u0308ss", "p\u00e4ss", true},
		{"non-ASCII space maps to SPACE (§4.2.2 rule 2)", "correct horse", "correct\u00a0horse", true},
		{"ideographic space maps to SPACE (§4.2.2 rule 2)", "correct\u3000horse", "correct horse", true},
		{"fullwidth is not width-mapped (§4.2.2 rule 1)", "pass", "\uff50\uff41\uff53\uff53", false},
		{"non-conforming supplied never matches", "pencil", "pencil\u0007", false},
		{"trailing space is significant", "pencil", "pencil ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCredentials(t, tc.stored)
			if got := c.VerifyPassword(tc.supplied); got != tc.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestVerifyPasswordHashChoice checks that SHA-256 keys are preferred and
// SHA-1 keys are the fallback.
func TestVerifyPasswordHashChoice(t *testing.T) {
	right := mustCredentials(t, "right")
	wrong := mustCredentials(t, "wrong")
	for _, tc := range []struct {
		name  string
		creds Credentials
		want  bool
	}{
		{"SHA-256 only", Credentials{SHA256: right.SHA256}, true},
		{"SHA-1 only", Credentials{SHA1: right.SHA1}, true},
		{"SHA-256 wins over SHA-1", Credentials{SHA1: wrong.SHA1, SHA256: right.SHA256}, true},
		{"SHA-1 ignored when SHA-256 present", Credentials{SHA1: right.SHA1, SHA256: wrong.SHA256}, false},
		{"no keys", Credentials{}, false},
		{"truncated keys", Credentials{SHA256: SCRAMKeys{Salt: []byte("s"), Iterations: 4096, StoredKey: []byte{1}, ServerKey: []byte{2}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.creds.VerifyPassword("right"); got != tc.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestVerifyPasswordChecksServerKey checks that a tampered ServerKey is not
// accepted even though StoredKey matches.
func TestVerifyPasswordChecksServerKey(t *testing.T) {
	c := mustCredentials(t, "pencil")
	c.SHA256.ServerKey = append([]byte(nil), c.SHA256.ServerKey...)
	c.SHA256.ServerKey[0] ^= 1
	if c.VerifyPassword("pencil") {
		t.Error("VerifyPassword accepted credentials with a tampered ServerKey")
	}
}

func TestCredentialsValidate(t *testing.T) {
	good := mustCredentials(t, "pencil")
	for _, tc := range []struct {
		name    string
		creds   Credentials
		wantErr bool
	}{
		{"complete", good, false},
		{"empty", Credentials{}, false},
		{"SHA-256 only", Credentials{SHA256: good.SHA256}, false},
		{"SHA-1 keys in SHA-256 slot", Credentials{SHA256: good.SHA1}, true},
		{"missing salt", Credentials{SHA1: SCRAMKeys{Iterations: 4096, StoredKey: good.SHA1.StoredKey, ServerKey: good.SHA1.ServerKey}}, true},
		{"zero iterations", Credentials{SHA1: SCRAMKeys{Salt: good.SHA1.Salt, StoredKey: good.SHA1.StoredKey, ServerKey: good.SHA1.ServerKey}}, true},
		{"missing ServerKey", Credentials{SHA256: SCRAMKeys{Salt: good.SHA256.Salt, Iterations: 4096, StoredKey: good.SHA256.StoredKey}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.creds.Validate(); (err != nil) != tc.wantErr {
				t.Errorf("Validate() = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

// TestRFC7677Vector reproduces the SCRAM-SHA-256 exchange of RFC 7677 §3
// (user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096):
// keys derived by this package let the xdg-go/scram server authenticate the
// xdg-go/scram client, with every message equal to the RFC's octet for octet.
func TestRFC7677Vector(t *testing.T) {
	const (
		clientNonce = "rOprNGfwEbeRWgbNEkqO"
		serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		wantC1      = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
		wantS1      = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
		wantC2      = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
		wantS2      = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
	)
	salt, err := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	if err != nil {
		t.Fatal(err)
	}
	prepared, err := PreparePassword("pencil")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := deriveKeys(scram.SHA256, prepared, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	creds := Credentials{SHA256: keys}
	if !creds.VerifyPassword("pencil") {
		t.Error("VerifyPassword(pencil) = false for the RFC 7677 keys")
	}

	server, err := scram.SHA256.NewServer(func(user string) (scram.StoredCredentials, error) {
		if user != "user" {
			return scram.StoredCredentials{}, errors.New("unknown user")
		}
		return keys.StoredCredentials(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	server = server.WithNonceGenerator(func() string { return serverNonce })
	client, err := scram.SHA256.NewClient("user", "pencil", "")
	if err != nil {
		t.Fatal(err)
	}
	client = client.WithNonceGenerator(func() string { return clientNonce })

	cc, sc := client.NewConversation(), server.NewConversation()
	step := func(name string, conv interface{ Step(string) (string, error) }, in, want string) string {
		t.Helper()
		out, err := conv.Step(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if out != want {
			t.Fatalf("%s = %q, want %q", name, out, want)
		}
		return out
	}
	c1 := step("client-first-message", cc, "", wantC1)
	s1 := step("server-first-message", sc, c1, wantS1)
	c2 := step("client-final-message", cc, s1, wantC2)
	s2 := step("server-final-message", sc, c2, wantS2)
	if _, err := cc.Step(s2); err != nil {
		t.Fatalf("client rejected server signature: %v", err)
	}
	if !sc.Valid() || !cc.Valid() {
		t.Errorf("conversation not valid: server %v, client %v", sc.Valid(), cc.Valid())
	}
}

// TestSCRAMRoundTrip authenticates xdg-go/scram clients against the
// credentials from NewCredentials for both SCRAM-SHA-1 (RFC 5802) and
// SCRAM-SHA-256 (RFC 7677), with the right and a wrong password.
func TestSCRAMRoundTrip(t *testing.T) {
	const password = "p\u00e4ss\u00a0word" // NFC ä, non-ASCII space
	creds := mustCredentials(t, password)
	for _, h := range []struct {
		name string
		gen  scram.HashGeneratorFcn
		keys SCRAMKeys
	}{
		{"SCRAM-SHA-1", scram.SHA1, creds.SHA1},
		{"SCRAM-SHA-256", scram.SHA256, creds.SHA256},
	} {
		for _, tc := range []struct {
			name     string
			password string
			want     bool
		}{
			{"right password", password, true},
			// The client prepares the decomposed form; OpaqueString
			// makes it equal (RFC 8265 §4.2.2).
			{"equivalent password", "pa\u0308ss word", true},
			{"wrong password", "password", false},
		} {
			t.Run(h.name+"/"+tc.name, func(t *testing.T) {
				server, err := h.gen.NewServer(func(string) (scram.StoredCredentials, error) {
					return h.keys.StoredCredentials(), nil
				})
				if err != nil {
					t.Fatal(err)
				}
				prepared, err := PreparePassword(tc.password)
				if err != nil {
					t.Fatal(err)
				}
				client, err := h.gen.NewClientUnprepped("juliet", prepared, "")
				if err != nil {
					t.Fatal(err)
				}
				if got := converse(t, client.NewConversation(), server.NewConversation()); got != tc.want {
					t.Errorf("authenticated = %v, want %v", got, tc.want)
				}
			})
		}
	}
}

// converse runs a SCRAM exchange and reports whether the server accepted the
// client.
func converse(t *testing.T, cc *scram.ClientConversation, sc *scram.ServerConversation) bool {
	t.Helper()
	c1, err := cc.Step("")
	if err != nil {
		t.Fatalf("client-first: %v", err)
	}
	s1, err := sc.Step(c1)
	if err != nil {
		t.Fatalf("server-first: %v", err)
	}
	c2, err := cc.Step(s1)
	if err != nil {
		t.Fatalf("client-final: %v", err)
	}
	s2, err := sc.Step(c2)
	if err != nil {
		return false
	}
	if _, err := cc.Step(s2); err != nil {
		t.Fatalf("client rejected a server that accepted it: %v", err)
	}
	return sc.Valid()
}
