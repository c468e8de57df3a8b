// Package namespaces is the registry that every feature of Herald, built in or
// third party, registers through: the IQ handlers it answers, the service
// discovery features and identities it advertises (XEP-0030), keyed by the
// XML namespace it owns.
//
// A feature is a [Module]: one Register method that receives a [Handle]
// scoped to that module. Registration happens once, at start-up, before the
// server accepts connections; afterwards the registry is read-only, so
// lookups take no lock.
//
// IQs are dispatched by structure, never by scanning: the key is the iq type
// (get or set), the payload's qualified name and the kind of address the iq
// was sent to ([Server] or [Account]). Registering the same key twice is a
// programming error and panics, naming both registrations.
//
// Writing a module:
//
//	type Module struct{}
//
//	func (Module) Register(h *namespaces.Handle) error {
//		h.HandleIQ("get", xml.Name{Space: "urn:example:echo", Local: "echo"},
//			namespaces.Server, namespaces.IQHandlerFunc(echo))
//		h.AddFeature(namespaces.Server, "urn:example:echo")
//		return nil
//	}
//
// and add it to the ordered list in package namespaces/standard.
package namespaces

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/stream"
)

// Target is the kind of address an IQ was sent to.
type Target uint8

const (
	// Server is an iq addressed to a local domain (RFC 6120 §10.5.1), or one
	// with no 'to' that the server answers itself.
	Server Target = 1 << iota
	// Account is an iq addressed to a local account's bare JID, or with no
	// 'to' (RFC 6120 §10.3.3); the server answers on the account's behalf.
	Account
)

func (t Target) String() string {
	switch t {
	case Server:
		return "server"
	case Account:
		return "account"
	case Server | Account:
		return "server+account"
	}
	return fmt.Sprintf("Target(%d)", uint8(t))
}

// Request is an IQ of type get or set addressed to the server or to an
// account, as handed to an [IQHandler].
type Request struct {
	// Stanza is the whole <iq/>. Handlers must not modify it.
	Stanza *etree.Element
	// Payload is the iq's single child element.
	Payload *etree.Element
	// Type is "get" or "set".
	Type string
	// From is the sender's address, as stamped by the server.
	From jid.JID
	// To is the addressed entity: a domain for [Server], a bare JID for
	// [Account].
	To jid.JID
	// Target says which of the two To is.
	Target Target

	after []func()
}

// AfterReply asks for f to run once the reply to this request has been
// queued to the requester, for protocols whose follow-up stanzas must come
// after the result (e.g. roster pushes after a versioned roster get).
func (r *Request) AfterReply(f func()) { r.after = append(r.after, f) }

// FromOwnResource checks that the request comes from a resource of the
// account it addresses: the iqs that manage an account's own data (roster,
// lists, rules) carry no 'to' (RFC 6121 §2.1.5, XEP-0016 §2.3, XEP-0191
// §3). what names that data in the <forbidden/> error's text.
func (r *Request) FromOwnResource(what string) error {
	if r.From.IsBare() || r.From.Bare() != r.To.Bare() {
		return stream.NewStanzaError(stream.Forbidden, "only the account's own resources may use its %s", what)
	}
	return nil
}

// RunAfterReply runs the functions registered with AfterReply; the router
// calls it after queueing the reply.
func (r *Request) RunAfterReply() {
	for _, f := range r.after {
		f()
	}
}

// IQHandler answers one kind of IQ. It returns the payload of the result iq
// (nil for an empty result) or an error; a *stream.StanzaError is sent to
// the requester as is, any other error as internal-server-error.
type IQHandler interface {
	HandleIQ(ctx context.Context, req *Request) (*etree.Element, error)
}

// IQHandlerFunc adapts a function to [IQHandler].
type IQHandlerFunc func(ctx context.Context, req *Request) (*etree.Element, error)

// HandleIQ calls f.
func (f IQHandlerFunc) HandleIQ(ctx context.Context, req *Request) (*etree.Element, error) {
	return f(ctx, req)
}

// Identity is a service discovery identity (XEP-0030 §3.1).
type Identity struct {
	Category, Type, Name string
}

// Module is a feature that registers itself with the registry.
type Module interface {
	// Register adds the module's handlers and features through h. It is
	// called once, before the server starts serving.
	Register(h *Handle) error
}

type iqKey struct {
	typ    string
	name   xml.Name
	target Target
}

type registration struct {
	handler IQHandler
	module  string
	caller  string
}

// Registry holds what all modules registered. Build it with [NewRegistry]
// and [Registry.Register]; once [Registry.Seal] has been called it is
// read-only and safe for concurrent use.
type Registry struct {
	iq             map[iqKey]registration
	features       map[Target][]string
	identities     map[Target][]Identity
	modules        []string
	streamFeatures []func() *etree.Element
	sealed         atomic.Bool
	host           Host
}

// Host is what the running server offers to modules. It grows optional
// capabilities as interfaces that a module discovers by type assertion, so
// that a module needing, say, storage of its own does not widen this one.
type Host interface {
	// Logger returns the server's logger.
	Logger() *slog.Logger
	// Software names the server software for XEP-0092.
	Software() Software
}

// Software describes the running server (XEP-0092).
type Software struct {
	Name, Version, OS string
}

// NewRegistry returns an empty registry whose modules will see host.
func NewRegistry(host Host) *Registry {
	return &Registry{
		iq:         make(map[iqKey]registration),
		features:   make(map[Target][]string),
		identities: make(map[Target][]Identity),
		host:       host,
	}
}

// Register registers each module in order, each through a handle naming it.
func (r *Registry) Register(mods ...Module) error {
	for _, m := range mods {
		name := fmt.Sprintf("%T", m)
		h := &Handle{reg: r, module: name}
		if r.host != nil {
			h.logger = r.host.Logger().With("module", name)
		} else {
			h.logger = slog.New(slog.DiscardHandler)
		}
		if err := m.Register(h); err != nil {
			return fmt.Errorf("register module %s: %w", name, err)
		}
		r.modules = append(r.modules, name)
	}
	return nil
}

// Seal ends registration; later registration attempts panic.
func (r *Registry) Seal() {
	for t := range r.features {
		slices.Sort(r.features[t])
		r.features[t] = slices.Compact(r.features[t])
	}
	r.sealed.Store(true)
}

// Modules lists the registered modules' names in registration order.
func (r *Registry) Modules() []string { return slices.Clone(r.modules) }

// LookupIQ returns the handler for an iq of type typ whose payload is name,
// addressed to target, or nil.
func (r *Registry) LookupIQ(typ string, name xml.Name, target Target) IQHandler {
	reg, ok := r.iq[iqKey{typ, name, target}]
	if !ok {
		return nil
	}
	return reg.handler
}

// StreamFeatures returns the stream features (RFC 6120 §4.3.2) modules
// advertise to a client once it has authenticated, each freshly built.
func (r *Registry) StreamFeatures() []*etree.Element {
	out := make([]*etree.Element, 0, len(r.streamFeatures))
	for _, f := range r.streamFeatures {
		out = append(out, f())
	}
	return out
}

// Features returns the sorted disco features advertised for target.
func (r *Registry) Features(target Target) []string {
	return r.features[target]
}

// Identities returns the disco identities advertised for target.
func (r *Registry) Identities(target Target) []Identity {
	return r.identities[target]
}

// Handle is a module's view of the registry during registration: what it
// registers is recorded under the module's name.
type Handle struct {
	reg    *Registry
	module string
	logger *slog.Logger
}

// Logger returns a logger scoped to the module.
func (h *Handle) Logger() *slog.Logger { return h.logger }

// Host returns the server's services.
func (h *Handle) Host() Host { return h.reg.host }

// Registry returns the registry, for modules (such as service discovery)
// that report on what others registered. Read it only after start-up, when
// handling requests.
func (h *Handle) Registry() *Registry { return h.reg }

// HandleIQ registers handler for iqs of type typ ("get" or "set") whose
// payload is name, addressed to each target in targets (a bit set). It
// panics if the key is already taken, naming both registrations.
func (h *Handle) HandleIQ(typ string, name xml.Name, targets Target, handler IQHandler) {
	if typ != "get" && typ != "set" {
		panic(fmt.Sprintf("namespaces: %s registers iq type %q; only get and set are handled", h.module, typ))
	}
	h.checkOpen()
	caller := callerOf(2)
	for _, t := range []Target{Server, Account} {
		if targets&t == 0 {
			continue
		}
		k := iqKey{typ, name, t}
		if prev, ok := h.reg.iq[k]; ok {
			panic(fmt.Sprintf("namespaces: iq %s {%s}%s for %s registered twice: by %s at %s and by %s at %s",
				typ, name.Space, name.Local, t, prev.module, prev.caller, h.module, caller))
		}
		h.reg.iq[k] = registration{handler: handler, module: h.module, caller: caller}
	}
}

// AddFeature advertises a disco feature (XEP-0030 §3.1) for each target.
func (h *Handle) AddFeature(targets Target, feature string) {
	h.checkOpen()
	for _, t := range []Target{Server, Account} {
		if targets&t != 0 {
			h.reg.features[t] = append(h.reg.features[t], feature)
		}
	}
}

// AddStreamFeature advertises a stream feature to authenticated clients,
// next to resource binding; build returns the feature element.
func (h *Handle) AddStreamFeature(build func() *etree.Element) {
	h.checkOpen()
	h.reg.streamFeatures = append(h.reg.streamFeatures, build)
}

// AddIdentity advertises a disco identity for each target.
func (h *Handle) AddIdentity(targets Target, id Identity) {
	h.checkOpen()
	for _, t := range []Target{Server, Account} {
		if targets&t != 0 {
			h.reg.identities[t] = append(h.reg.identities[t], id)
		}
	}
}

func (h *Handle) checkOpen() {
	if h.reg.sealed.Load() {
		panic("namespaces: " + h.module + " registers after the registry was sealed")
	}
}

func callerOf(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%s:%d", file, line)
}
