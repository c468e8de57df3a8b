package jid_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/herald-im/herald/jid"
)

type parts struct{ local, domain, resource string }

func partsOf(j jid.JID) parts { return parts{j.Local(), j.Domain(), j.Resource()} }

// TestParseRFC7622Valid covers Table 1 of RFC 7622 §3.5 (examples 1-15).
func TestParseRFC7622Valid(t *testing.T) {
	tests := []struct {
		name, in string
		want     parts
	}{
		{"ex1 bare JID", "juliet@example.com", parts{"juliet", "example.com", ""}},
		{"ex2 full JID", "juliet@example.com/foo", parts{"juliet", "example.com", "foo"}},
		{"ex3 space in resourcepart", "juliet@example.com/foo bar", parts{"juliet", "example.com", "foo bar"}},
		{"ex4 at sign in resourcepart", "juliet@example.com/foo@bar", parts{"juliet", "example.com", "foo@bar"}},
		{"ex5 XEP-0106 escaped space", `foo\20bar@example.com`, parts{`foo\20bar`, "example.com", ""}},
		{"ex6 fussball", "fussball@example.com", parts{"fussball", "example.com", ""}},
		{"ex7 sharp s", "fu\u00dfball@example.com", parts{"fu\u00dfball", "example.com", ""}},
		{"ex8 greek pi", "\u03c0@example.com", parts{"\u03c0", "example.com", ""}},
		{"ex9 capital sigma maps to small", "\u03a3@example.com/foo", parts{"\u03c3", "example.com", "foo"}},
		{"ex10 small sigma", "\u03c3@example.com/foo", parts{"\u03c3", "example.com", "foo"}},
		{"ex11 final sigma kept", "\u03c2@example.com/foo", parts{"\u03c2", "example.com", "foo"}},
		{"ex12 chess king in resourcepart", "king@example.com/\u265a", parts{"king", "example.com", "\u265a"}},
		{"ex13 domainpart", "example.com", parts{"", "example.com", ""}},
		{"ex14 domainpart and resourcepart", "example.com/foobar", parts{"", "example.com", "foobar"}},
		{"ex15 at sign in resourcepart of domain JID", "a.example.com/b@example.net", parts{"", "a.example.com", "b@example.net"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := jid.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if got := partsOf(j); got != tt.want {
				t.Errorf("Parse(%q) parts = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestParseRFC7622Invalid covers Table 2 of RFC 7622 §3.5 (examples 16-23).
func TestParseRFC7622Invalid(t *testing.T) {
	tests := []struct {
		name, in string
		part     error
		kind     error // optional
	}{
		{"ex16 quotation marks in localpart", `"juliet"@example.com`, jid.ErrInvalidLocal, jid.ErrForbiddenChar},
		{"ex17 space in localpart", "foo bar@example.com", jid.ErrInvalidLocal, nil},
		{"ex18 leading space in resourcepart", "juliet@example.com/ foo", jid.ErrInvalidResource, nil},
		{"ex19 empty localpart and resourcepart", "@example.com/", jid.ErrInvalidLocal, jid.ErrEmptyPart},
		{"ex20 roman numeral four", "henry\u2163@example.com", jid.ErrInvalidLocal, nil},
		{"ex21 chess king in localpart", "\u265a@example.com", jid.ErrInvalidLocal, nil},
		{"ex22 no domainpart", "juliet@", jid.ErrInvalidDomain, jid.ErrEmptyPart},
		{"ex23 resourcepart without domainpart", "/foobar", jid.ErrInvalidDomain, jid.ErrEmptyPart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := jid.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tt.in, j)
			}
			if !errors.Is(err, tt.part) {
				t.Errorf("Parse(%q) error %v, want errors.Is %v", tt.in, err, tt.part)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("Parse(%q) error %v, want errors.Is %v", tt.in, err, tt.kind)
			}
			if !j.IsZero() {
				t.Errorf("Parse(%q) returned non-zero JID %q with error", tt.in, j)
			}
		})
	}
}

// TestRFC7622SigmaComparison checks the §3.5 note on examples 9-11: 9 and 10
// match, 11 matches neither.
func TestRFC7622SigmaComparison(t *testing.T) {
	ex9 := jid.MustParse("\u03a3@example.com/foo")
	ex10 := jid.MustParse("\u03c3@example.com/foo")
	ex11 := jid.MustParse("\u03c2@example.com/foo")
	if ex9 != ex10 || !ex9.Equal(ex10) {
		t.Errorf("examples 9 and 10 differ: %q vs %q", ex9, ex10)
	}
	if ex11 == ex9 || ex11.Equal(ex10) {
		t.Errorf("example 11 %q matches %q", ex11, ex9)
	}
	// Examples 6 and 7 are different localparts.
	if jid.MustParse("fussball@example.com") == jid.MustParse("fu\u00dfball@example.com") {
		t.Error("fussball and fu\u00dfball compare equal")
	}
}

// TestCanonicalisation checks that equivalent spellings map to one canonical
// string, so that == and String agree with RFC 7622 comparison rules.
func TestCanonicalisation(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ASCII case mapping", "Juliet@EXAMPLE.com", "juliet@example.com"},
		{"resource case preserved", "JULIET@Example.COM/Balcony", "juliet@example.com/Balcony"},
		{"unicode case mapping", "\u00c9LODIE@example.com", "\u00e9lodie@example.com"},
		{"NFC in localpart", "e\u0301lodie@example.com", "\u00e9lodie@example.com"},
		{"NFC in resourcepart", "a@example.com/e\u0301", "a@example.com/\u00e9"},
		{"fullwidth localpart and domain", "\uff2a\uff55\uff4c\uff49\uff45\uff54@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "juliet@example.com"},
		{"fullwidth resource not width-mapped", "juliet@example.com/\uff42\uff41\uff4c\uff43\uff4f\uff4e\uff59", "juliet@example.com/\uff42\uff41\uff4c\uff43\uff4f\uff4e\uff59"},
		{"non-ASCII space in resource mapped", "juliet@example.com/foo\u00a0bar", "juliet@example.com/foo bar"},
		{"ideographic space in resource mapped", "juliet@example.com/foo\u3000bar", "juliet@example.com/foo bar"},
		{"trailing dot stripped", "juliet@example.com./r", "juliet@example.com/r"},
		{"trailing dot stripped domain only", "example.com.", "example.com"},
		{"trailing ideographic full stop stripped", "juliet@example.com\u3002", "juliet@example.com"},
		{"ideographic full stop as separator", "juliet@example\u3002com", "juliet@example.com"},
		{"A-label to U-label", "juliet@xn--bcher-kva.example", "juliet@b\u00fccher.example"},
		{"upper-case A-label", "juliet@XN--BCHER-KVA.example", "juliet@b\u00fccher.example"},
		{"U-label upper case", "juliet@B\u00dcCHER.example", "juliet@b\u00fccher.example"},
		{"U-label already canonical", "juliet@b\u00fccher.example", "juliet@b\u00fccher.example"},
		{"IDN sharp s kept (non-transitional)", "a@stra\u00dfe.example", "a@stra\u00dfe.example"},
		{"resource keeps slash", "a@example.com/x/y", "a@example.com/x/y"},
		{"escaped localpart kept", `d\27artagnan@example.com`, `d\27artagnan@example.com`},
		{"trailing space in resource kept", "a@example.com/foo ", "a@example.com/foo "},
		{"localpart punctuation", "a.b-c_d+e!#$%*=?^`{|}~@example.com", "a.b-c_d+e!#$%*=?^`{|}~@example.com"},
		{"single-label domain", "admin@localhost", "admin@localhost"},
		{"digits in non-final labels", "a@123.example", "a@123.example"},
		{"Japanese IDN", "\u4f8b\u3048.\u30c6\u30b9\u30c8", "\u4f8b\u3048.\u30c6\u30b9\u30c8"},
		{"Arabic IDN from A-labels", "xn--mgbh0fb.xn--kgbechtv", "\u0645\u062b\u0627\u0644.\u0625\u062e\u062a\u0628\u0627\u0631"},
		{"Cyrillic IDN upper case", "\u041f\u0420\u0418\u041c\u0415\u0420.\u0420\u0424", "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"},
		{"Catalan middle dot (CONTEXTO satisfied)", "l\u00b7l.example", "l\u00b7l.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := jid.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if j.String() != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.in, j, tt.want)
			}
			if w := jid.MustParse(tt.want); j != w {
				t.Errorf("Parse(%q) != Parse(%q)", tt.in, tt.want)
			}
		})
	}
}

// TestIPLiterals covers the IP-literal / IPv4address alternatives of the
// domainpart grammar (RFC 7622 §3.1, RFC 6874).
func TestIPLiterals(t *testing.T) {
	valid := []struct{ in, wantDomain string }{
		{"[::1]", "[::1]"},
		{"juliet@[::1]/r", "[::1]"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
		{"[2001:0db8:0000:0000:0000:0000:0000:0001]", "[2001:db8::1]"},
		{"[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]"},
		{"[fe80::1%25eth0]", "[fe80::1%25eth0]"},
		{"[::1].", "[::1]"},
		{"192.0.2.1", "192.0.2.1"},
		{"juliet@192.0.2.1/r", "192.0.2.1"},
		{"192.0.2.1.", "192.0.2.1"},
		{"\uff11\uff19\uff12.0.2.1", "192.0.2.1"},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			j, err := jid.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if j.Domain() != tt.wantDomain {
				t.Errorf("Parse(%q).Domain() = %q, want %q", tt.in, j.Domain(), tt.wantDomain)
			}
		})
	}
	invalid := []string{
		"[::1", "[]", "[::g]", "[1.2.3.4]", "::1", "[fe80::1%eth0]", "[fe80::1%25]",
		"[fe80::1%25e/th]x", "[fe80::1%25%41]", "[v1.abc]", "[::1]x",
		"256.1.1.1", "1.2.3.04", "1.2.3", "example.123",
	}
	for _, in := range invalid {
		t.Run("invalid "+in, func(t *testing.T) {
			if j, err := jid.Parse(in); err == nil {
				t.Fatalf("Parse(%q) = %q, want error", in, j)
			} else if !errors.Is(err, jid.ErrInvalidDomain) {
				t.Errorf("Parse(%q) error %v, want ErrInvalidDomain", in, err)
			}
		})
	}
}

// TestInvalidDomains covers IDNA2008 / RFC 7622 §3.2 rejections.
func TestInvalidDomains(t *testing.T) {
	tests := []struct {
		name, in string
		kind     error
	}{
		{"empty", "", jid.ErrEmptyPart},
		{"only a dot", ".", jid.ErrEmptyPart},
		{"only a dot with localpart", "a@.", jid.ErrEmptyPart},
		{"two trailing dots", "example.com..", nil},
		{"dot and ideographic full stop", "example.com\u3002.", nil},
		{"empty label", "a..b", nil},
		{"leading dot", ".example.com", nil},
		{"underscore", "a_b.example", nil},
		{"leading hyphen", "-a.example", nil},
		{"trailing hyphen", "a-.example", nil},
		{"hyphens in positions 3 and 4", "ab--cd.example", nil},
		{"bogus A-label", "xn--abc.example", nil},
		{"A-label of ASCII", "xn--abc-.example", nil},
		{"empty A-label", "xn--.example", nil},
		{"second at sign", "a@b@example.com", nil},
		{"space", "exa mple.com", nil},
		{"fullwidth solidus", "example\uff0fcom", nil},
		{"symbol", "\u265a.example", nil},
		{"invalid UTF-8", "ex\xffample.com", nil},
		{"bidi rule", "a\u05d0.example", nil},
		{"middle dot outside l\u00b7l (CONTEXTO)", "a\u00b7b.example", nil},
		{"ZWNJ without context (CONTEXTJ)", "a\u200cb.example", nil},
		{"label too long", strings.Repeat("a", 64) + ".example", jid.ErrTooLong},
		{"name too long", strings.Repeat(strings.Repeat("a", 49)+".", 5) + "example", jid.ErrTooLong},
		{"U-label too long as A-label", strings.Repeat("\u00fc", 60) + ".example", jid.ErrTooLong},
		{"raw input huge", strings.Repeat("a", 5000), jid.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := jid.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want error", tt.in, j)
			}
			if !errors.Is(err, jid.ErrInvalidDomain) {
				t.Errorf("Parse(%q) error %v, want ErrInvalidDomain", tt.in, err)
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("Parse(%q) error %v, want %v", tt.in, err, tt.kind)
			}
		})
	}
}

// TestDomainLengthBoundaries checks the RFC 1034 limits at their edges.
func TestDomainLengthBoundaries(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 63+1+63+1+63+1+61 = 253 octets.
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61)
	for _, in := range []string{label63 + ".example", name253, name253 + "."} {
		if _, err := jid.Parse(in); err != nil {
			t.Errorf("Parse(%d-octet %q...) error: %v", len(in), in[:10], err)
		}
	}
	if _, err := jid.Parse(name253 + "b"); !errors.Is(err, jid.ErrTooLong) {
		t.Errorf("254-octet domain: error %v, want ErrTooLong", err)
	}
}

// TestForbiddenLocalChars checks the RFC 7622 §3.3.1 exclusions.
func TestForbiddenLocalChars(t *testing.T) {
	for _, c := range []string{`"`, "&", "'", "/", ":", "<", ">", "@"} {
		t.Run(c, func(t *testing.T) {
			_, err := jid.New("a"+c+"b", "example.com", "")
			if !errors.Is(err, jid.ErrForbiddenChar) || !errors.Is(err, jid.ErrInvalidLocal) {
				t.Errorf("New(%q) error %v, want ErrForbiddenChar and ErrInvalidLocal", "a"+c+"b", err)
			}
			// The same characters are fine in a resourcepart.
			j, err := jid.New("a", "example.com", "x"+c+"y")
			if err != nil || j.Resource() != "x"+c+"y" {
				t.Errorf("New resource %q = %q, %v", "x"+c+"y", j, err)
			}
		})
	}
	parseTests := []string{
		"a&b@example.com", "a'b@example.com", "a:b@example.com", "a<b@example.com", "a>b@example.com",
		"a\uff20b@example.com", // FULLWIDTH COMMERCIAL AT maps to '@'
		"a\uff0fb@example.com", // FULLWIDTH SOLIDUS maps to '/'
		"a\uff02b@example.com", // FULLWIDTH QUOTATION MARK maps to '"'
	}
	for _, in := range parseTests {
		t.Run(in, func(t *testing.T) {
			_, err := jid.Parse(in)
			if !errors.Is(err, jid.ErrForbiddenChar) {
				t.Errorf("Parse(%q) error %v, want ErrForbiddenChar", in, err)
			}
		})
	}
}

// TestPartLengths checks the 1..1023-octet limits, applied after
// preparation (RFC 7622 §3.3, §3.4).
func TestPartLengths(t *testing.T) {
	a1023 := strings.Repeat("a", 1023)
	tests := []struct {
		name   string
		local  string
		res    string
		part   error
		kind   error
		wantOK bool
	}{
		{"local 1023", a1023, "", nil, nil, true},
		{"local 1024", a1023 + "a", "", jid.ErrInvalidLocal, jid.ErrTooLong, false},
		{"local 1023 after width mapping (3069 octets raw)", strings.Repeat("\uff41", 1023), "", nil, nil, true},
		{"local 1024 after width mapping", strings.Repeat("\uff41", 1024), "", jid.ErrInvalidLocal, jid.ErrTooLong, false},
		{"local 1024 after case mapping of 2-octet letters", strings.Repeat("\u00c9", 512), "", jid.ErrInvalidLocal, jid.ErrTooLong, false},
		{"resource 1023", "a", a1023, nil, nil, true},
		{"resource 1024", "a", a1023 + "a", jid.ErrInvalidResource, jid.ErrTooLong, false},
		{"resource 1024 octets raw, 1023 after NFC", "a", strings.Repeat("a", 1021) + "e\u0301", nil, nil, true},
		{"resource huge", "a", strings.Repeat("x", 5000), jid.ErrInvalidResource, jid.ErrTooLong, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.local + "@example.com"
			if tt.res != "" {
				s += "/" + tt.res
			}
			j, err := jid.Parse(s)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Parse error: %v", err)
				}
				if len(j.Local()) > 1023 || len(j.Resource()) > 1023 {
					t.Errorf("part longer than 1023 octets accepted: %d, %d", len(j.Local()), len(j.Resource()))
				}
				return
			}
			if !errors.Is(err, tt.part) || !errors.Is(err, tt.kind) {
				t.Errorf("Parse error %v, want %v and %v", err, tt.part, tt.kind)
			}
		})
	}
}

// TestEmptyParts checks zero-length parts with their separators present.
func TestEmptyParts(t *testing.T) {
	tests := []struct {
		in   string
		part error
	}{
		{"@example.com", jid.ErrInvalidLocal},
		{"example.com/", jid.ErrInvalidResource},
		{"juliet@example.com/", jid.ErrInvalidResource},
		{"@", jid.ErrInvalidLocal},
		{"/", jid.ErrInvalidDomain},
		{"@/", jid.ErrInvalidLocal},
		{"a@/r", jid.ErrInvalidDomain},
		{"", jid.ErrInvalidDomain},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := jid.Parse(tt.in)
			if !errors.Is(err, tt.part) || !errors.Is(err, jid.ErrEmptyPart) {
				t.Errorf("Parse(%q) error %v, want %v and ErrEmptyPart", tt.in, err, tt.part)
			}
		})
	}
}

// TestOtherInvalid covers rejections in localparts and resourceparts that
// are not covered by the RFC tables.
func TestOtherInvalid(t *testing.T) {
	tests := []struct {
		in   string
		part error
	}{
		{"a\x00b@example.com", jid.ErrInvalidLocal},
		{"a\tb@example.com", jid.ErrInvalidLocal},
		{"\xff@example.com", jid.ErrInvalidLocal},
		{"a@example.com/\x00", jid.ErrInvalidResource},
		{"a@example.com/a\nb", jid.ErrInvalidResource},
		{"a@example.com/\xff", jid.ErrInvalidResource},
		{"a@example.com/\u00a0foo", jid.ErrInvalidResource}, // maps to a leading space
		{"a@example.com/ ", jid.ErrInvalidResource},
		{"1\u05d0@example.com", jid.ErrInvalidLocal}, // Bidi Rule
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			j, err := jid.Parse(tt.in)
			if !errors.Is(err, tt.part) {
				t.Errorf("Parse(%q) = %q, %v; want %v", tt.in, j, err, tt.part)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		local, domain, resource string
		want                    string
		wantErr                 error
	}{
		{"juliet", "example.com", "balcony", "juliet@example.com/balcony", nil},
		{"Juliet", "EXAMPLE.com.", "Balcony", "juliet@example.com/Balcony", nil},
		{"", "example.com", "", "example.com", nil},
		{"", "example.com", "r/s@t", "example.com/r/s@t", nil},
		{"juliet", "", "", "", jid.ErrInvalidDomain},
		{"juliet", "a@b", "", "", jid.ErrInvalidDomain},
		{"juliet", "a/b", "", "", jid.ErrInvalidDomain},
		{"a b", "example.com", "", "", jid.ErrInvalidLocal},
		{"juliet", "example.com", " r", "", jid.ErrInvalidResource},
	}
	for _, tt := range tests {
		t.Run(tt.want+"|"+tt.local+"|"+tt.domain, func(t *testing.T) {
			j, err := jid.New(tt.local, tt.domain, tt.resource)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("New error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New error: %v", err)
			}
			if j.String() != tt.want || j != jid.MustParse(tt.want) {
				t.Errorf("New = %q, want %q", j, tt.want)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	full := jid.MustParse("juliet@example.com/balcony/left@side")
	if got := partsOf(full); got != (parts{"juliet", "example.com", "balcony/left@side"}) {
		t.Errorf("parts = %+v", got)
	}
	if full.IsBare() || full.IsZero() {
		t.Errorf("IsBare/IsZero of full JID = %v/%v", full.IsBare(), full.IsZero())
	}
	bare := full.Bare()
	if bare.String() != "juliet@example.com" || !bare.IsBare() || bare != jid.MustParse("juliet@example.com") {
		t.Errorf("Bare = %q", bare)
	}
	dom := full.Domainpart()
	if dom.String() != "example.com" || dom != jid.MustParse("example.com") || dom.Local() != "" || dom.Resource() != "" {
		t.Errorf("Domainpart = %q", dom)
	}
	domFull := jid.MustParse("example.com/r")
	if domFull.Bare() != jid.MustParse("example.com") || domFull.Local() != "" {
		t.Errorf("domain/resource Bare = %q", domFull.Bare())
	}

	withR, err := bare.WithResource("Other\u00a0Place")
	if err != nil || withR.String() != "juliet@example.com/Other Place" || withR != jid.MustParse("juliet@example.com/Other Place") {
		t.Errorf("WithResource = %q, %v", withR, err)
	}
	replaced, err := full.WithResource("x")
	if err != nil || replaced.String() != "juliet@example.com/x" {
		t.Errorf("WithResource replace = %q, %v", replaced, err)
	}
	if b, err := full.WithResource(""); err != nil || b != bare {
		t.Errorf("WithResource(\"\") = %q, %v; want bare", b, err)
	}
	if _, err := full.WithResource(" lead"); !errors.Is(err, jid.ErrInvalidResource) {
		t.Errorf("WithResource(\" lead\") error %v", err)
	}
	if _, err := (jid.JID{}).WithResource("r"); !errors.Is(err, jid.ErrInvalidDomain) {
		t.Errorf("zero.WithResource error %v", err)
	}

	var zero jid.JID
	if !zero.IsZero() || !zero.IsBare() || zero.String() != "" || zero.Domain() != "" || zero.Local() != "" || zero.Resource() != "" {
		t.Errorf("zero JID accessors misbehave: %q", zero)
	}
	if zero.Bare() != zero || zero.Domainpart() != zero {
		t.Error("zero.Bare()/Domainpart() not zero")
	}
}

func TestTextMarshalling(t *testing.T) {
	type doc struct {
		To   jid.JID `json:"to"`
		From jid.JID `json:"from"`
	}
	in := doc{To: jid.MustParse("Juliet@Example.com/Balcony")}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"to":"juliet@example.com/Balcony","from":""}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	err = json.Unmarshal([]byte(`{"to":"@example.com"}`), &out)
	if !errors.Is(err, jid.ErrInvalidLocal) {
		t.Errorf("unmarshal invalid error %v, want ErrInvalidLocal", err)
	}
	if b, _ := in.To.AppendText([]byte("to=")); string(b) != "to=juliet@example.com/Balcony" {
		t.Errorf("AppendText = %q", b)
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse(\"@\") did not panic")
		}
	}()
	jid.MustParse("@")
}

func TestErrorMessages(t *testing.T) {
	_, err := jid.Parse("foo bar@example.com")
	if err == nil || !strings.Contains(err.Error(), `jid: invalid localpart "foo bar"`) {
		t.Errorf("error message %v", err)
	}
	_, err = jid.Parse(strings.Repeat("a", 2000) + "@example.com")
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error message for huge input not truncated: %d bytes", len(err.Error()))
	}
}

func TestNoAllocations(t *testing.T) {
	const s = "juliet@example.com/balcony"
	var j jid.JID
	if n := testing.AllocsPerRun(100, func() { j, _ = jid.Parse(s) }); n != 0 {
		t.Errorf("Parse of canonical ASCII JID allocates %v times", n)
	}
	var out string
	if n := testing.AllocsPerRun(100, func() { out = j.String() }); n != 0 {
		t.Errorf("String allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = j.Bare(); _ = j.Domainpart() }); n != 0 {
		t.Errorf("Bare/Domainpart allocate %v times", n)
	}
	if out != s {
		t.Errorf("String = %q", out)
	}
}

func TestSize(t *testing.T) {
	size := unsafe.Sizeof(jid.JID{})
	t.Logf("unsafe.Sizeof(jid.JID{}) = %d", size)
	if size > 24 {
		t.Errorf("JID is %d bytes, want at most 24 (string header + two uint16)", size)
	}
}
