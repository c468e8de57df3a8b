package namespaces_test

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/namespaces"
)

type moduleFunc func(h *namespaces.Handle) error

func (f moduleFunc) Register(h *namespaces.Handle) error { return f(h) }

var echoName = xml.Name{Space: "urn:example:echo", Local: "echo"}

func echo(context.Context, *namespaces.Request) (*etree.Element, error) { return nil, nil }

func TestLookupByTypeNameAndTarget(t *testing.T) {
	reg := namespaces.NewRegistry(nil)
	err := reg.Register(moduleFunc(func(h *namespaces.Handle) error {
		h.HandleIQ("get", echoName, namespaces.Server, namespaces.IQHandlerFunc(echo))
		h.AddFeature(namespaces.Server|namespaces.Account, "urn:example:echo")
		h.AddFeature(namespaces.Server, "urn:example:echo") // duplicates collapse
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	reg.Seal()
	tests := []struct {
		typ    string
		name   xml.Name
		target namespaces.Target
		found  bool
	}{
		{"get", echoName, namespaces.Server, true},
		{"set", echoName, namespaces.Server, false},
		{"get", echoName, namespaces.Account, false},
		{"get", xml.Name{Space: "urn:example:other", Local: "echo"}, namespaces.Server, false},
		{"get", xml.Name{Space: "urn:example:echo", Local: "other"}, namespaces.Server, false},
	}
	for _, tt := range tests {
		if got := reg.LookupIQ(tt.typ, tt.name, tt.target) != nil; got != tt.found {
			t.Errorf("LookupIQ(%s, %v, %v) found=%v, want %v", tt.typ, tt.name, tt.target, got, tt.found)
		}
	}
	if f := reg.Features(namespaces.Server); len(f) != 1 || f[0] != "urn:example:echo" {
		t.Errorf("server features = %v", f)
	}
	if f := reg.Features(namespaces.Account); len(f) != 1 {
		t.Errorf("account features = %v", f)
	}
}

func TestDuplicateRegistrationPanicsNamingBoth(t *testing.T) {
	reg := namespaces.NewRegistry(nil)
	defer func() {
		p := recover()
		msg, _ := p.(string)
		if !strings.Contains(msg, "registered twice") || strings.Count(msg, "registry_test.go") != 2 {
			t.Fatalf("panic = %v, want one naming both call sites", p)
		}
	}()
	_ = reg.Register(
		moduleFunc(func(h *namespaces.Handle) error {
			h.HandleIQ("get", echoName, namespaces.Server, namespaces.IQHandlerFunc(echo))
			return nil
		}),
		moduleFunc(func(h *namespaces.Handle) error {
			h.HandleIQ("get", echoName, namespaces.Server|namespaces.Account, namespaces.IQHandlerFunc(echo))
			return nil
		}),
	)
	t.Fatal("no panic")
}

func TestRegisterAfterSealPanics(t *testing.T) {
	reg := namespaces.NewRegistry(nil)
	var handle *namespaces.Handle
	_ = reg.Register(moduleFunc(func(h *namespaces.Handle) error { handle = h; return nil }))
	reg.Seal()
	defer func() {
		if recover() == nil {
			t.Fatal("registering after Seal did not panic")
		}
	}()
	handle.AddFeature(namespaces.Server, "urn:late")
}

func TestModuleErrorIsReported(t *testing.T) {
	reg := namespaces.NewRegistry(nil)
	err := reg.Register(moduleFunc(func(*namespaces.Handle) error { return context.DeadlineExceeded }))
	if err == nil || !strings.Contains(err.Error(), "register module") {
		t.Fatalf("err = %v", err)
	}
}
