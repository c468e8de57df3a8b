package privacy

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
	"github.com/herald-im/herald/stream"
)

// Namespaces of the two protocols (XEP-0016 §7.1, XEP-0191 §9.1).
const (
	NSPrivacy        = "jabber:iq:privacy"
	NSBlocking       = "urn:xmpp:blocking"
	NSBlockingErrors = "urn:xmpp:blocking:errors"
)

// Sessions is what the engine needs from the router once it exists: the
// user's bound sessions, a way to push to them and a way to correct what
// the user's contacts know of the user's presence. The router provides it.
type Sessions interface {
	// Resources returns the full JIDs of owner's bound sessions.
	Resources(owner jid.JID) []jid.JID
	// PushIQ sends to each bound session of owner for which only reports
	// true (every session when only is nil) an iq of type set with a fresh
	// id and no 'from' (it comes from the account, like a roster push),
	// carrying a copy of payload: privacy list pushes (XEP-0016 §2.6) and
	// block pushes (XEP-0191 §3.3–§3.5).
	PushIQ(owner jid.JID, payload *etree.Element, only func(full jid.JID) bool)
	// ReconcilePresence visits each available resource R of owner and each
	// entity C entitled to R's presence (a contact whose subscription is
	// from or both, or a recipient of R's directed presence), and, without
	// consulting the Policy, sends unavailable presence from R to C when
	// hide(R, C) reports true (XEP-0191 §3.3, XEP-0016 §2.11), or R's
	// current presence when show(R, C) does (XEP-0191 §3.4). It must not
	// hold router locks while calling hide and show, which consult the
	// roster.
	ReconcilePresence(ctx context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool)
	// ReconcileInboundPresence visits each available session S of owner
	// and each available resource C of a contact whose presence owner
	// receives, and, without consulting owner's Policy, sends S
	// unavailable presence from C when hide(C, S) reports true (XEP-0016
	// §2.10), or C's current presence when show(C, S) does. It must not
	// hold router locks while calling hide and show.
	ReconcileInboundPresence(ctx context.Context, owner jid.JID, hide, show func(from, to jid.JID) bool)
}

// RosterGroups returns the names of the groups in owner's roster. It lets
// the engine refuse rules for groups the user does not have (XEP-0016
// §2.1).
type RosterGroups func(ctx context.Context, owner jid.JID) ([]string, error)

// Option configures an Engine.
type Option func(*Engine)

// WithRosterGroups makes PutList reject group rules naming a group that is
// not in the owner's roster (XEP-0016 §2.1: item-not-found). Without it any
// group name is accepted.
func WithRosterGroups(f RosterGroups) Option {
	return func(e *Engine) { e.groups = f }
}

// WithCacheSize bounds the number of owners whose compiled lists are cached
// (default 65536). Owners with an active list or a blocklist interest stay
// cached regardless.
func WithCacheSize(owners int) Option {
	return func(e *Engine) {
		if owners > 0 {
			e.perShard = max(1, owners/shardCount)
		}
	}
}

const (
	shardCount  = 64
	mgmtStripes = 64
	// defaultCacheOwners is the default bound of WithCacheSize.
	defaultCacheOwners = 65536
)

// Engine evaluates privacy lists and blocklists and manages them. It
// implements router.Policy and is safe for concurrent use.
type Engine struct {
	lists    storage.PrivacyLists
	roster   RosterLookup
	groups   RosterGroups
	log      *slog.Logger
	perShard int
	seed     maphash.Seed
	shards   [shardCount]shard
	// mgmt serialises the changes of one owner's lists and session state
	// (read-modify-write of the default list by blocking, conflict checks,
	// before/after views for pushes and presence).
	mgmt     [mgmtStripes]sync.Mutex
	sessions atomic.Pointer[sessionsBox]
}

var _ router.Policy = (*Engine)(nil)

type sessionsBox struct{ s Sessions }

// shard holds the cached state of the owners hashed to it. gen counts the
// invalidations in the shard: a snapshot loaded from storage is cached only
// if no invalidation happened while it was being read.
type shard struct {
	mu     sync.RWMutex
	gen    uint64
	owners map[jid.JID]*ownerState
}

// ownerState is one user's state.
type ownerState struct {
	// snap is the cached compiled lists; nil until loaded and after a
	// change.
	snap *snapshot
	// active maps sessions to the name of their active list (XEP-0016
	// §2.4); it lives as long as the sessions.
	active map[jid.JID]string
	// interested holds the sessions that requested the blocklist and
	// receive block pushes (XEP-0191 §3.3).
	interested map[jid.JID]struct{}
}

func (o *ownerState) pinned() bool { return len(o.active) > 0 || len(o.interested) > 0 }

// snapshot is an owner's lists as loaded at one moment: the default list
// and the lists that were active for a session.
type snapshot struct {
	def   *list
	lists map[string]*list
}

// listFor returns the list that applies to a session whose active list is
// active ("" for none): XEP-0016 §2.2 rules 1–3.
func (s *snapshot) listFor(active string) *list {
	if active != "" {
		if l, ok := s.lists[active]; ok {
			return l
		}
	}
	return s.def
}

// New returns an engine that reads and writes lists in lists and reads the
// roster through roster (nil: every party counts as having no roster item).
// log receives storage failures; nil discards them. Call Attach once the
// router exists.
func New(lists storage.PrivacyLists, roster RosterLookup, log *slog.Logger, opts ...Option) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		lists:    lists,
		roster:   roster,
		log:      log,
		perShard: defaultCacheOwners / shardCount,
		seed:     maphash.MakeSeed(),
	}
	for i := range e.shards {
		e.shards[i].owners = make(map[jid.JID]*ownerState)
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Attach gives the engine the router's sessions, for pushes, conflict
// checks and presence corrections. Before Attach the engine pushes
// nothing and knows of no session other than those that set an active
// list.
func (e *Engine) Attach(s Sessions) {
	e.sessions.Store(&sessionsBox{s})
}

func (e *Engine) router() Sessions {
	if b := e.sessions.Load(); b != nil && b.s != nil {
		return b.s
	}
	return noSessions{}
}

// noSessions stands in until Attach.
type noSessions struct{}

func (noSessions) Resources(jid.JID) []jid.JID                        { return nil }
func (noSessions) PushIQ(jid.JID, *etree.Element, func(jid.JID) bool) {}
func (noSessions) ReconcilePresence(context.Context, jid.JID, func(jid.JID, jid.JID) bool, func(jid.JID, jid.JID) bool) {
}
func (noSessions) ReconcileInboundPresence(context.Context, jid.JID, func(jid.JID, jid.JID) bool, func(jid.JID, jid.JID) bool) {
}

func (e *Engine) shard(bare jid.JID) *shard {
	return &e.shards[maphash.String(e.seed, bare.String())%shardCount]
}

func (e *Engine) mgmtLock(bare jid.JID) *sync.Mutex {
	return &e.mgmt[maphash.String(e.seed, bare.String())%mgmtStripes]
}

// Inbound implements router.Policy: it reports whether a stanza of kind k
// from from may reach recipient (a session's full JID, or the bare JID for
// a stanza stored or handled for the account). A storage failure refuses
// the stanza: the privacy of the user comes first.
func (e *Engine) Inbound(ctx context.Context, recipient, from jid.JID, k router.StanzaKind) bool {
	if exempt(recipient, from) {
		return true
	}
	l, err := e.listFor(ctx, recipient)
	if err != nil {
		e.log.Error("privacy: cannot load lists; refusing the stanza", "owner", recipient.Bare().String(), "err", err)
		return false
	}
	if l == nil {
		return true
	}
	ok, _, err := l.decide(ctx, e.roster, recipient.Bare(), from, kindBit(inbound, k))
	if err != nil {
		e.log.Error("privacy: cannot evaluate rules; refusing the stanza", "owner", recipient.Bare().String(), "err", err)
		return false
	}
	return ok
}

// Outbound implements router.Policy: it judges a stanza of kind k that
// sender (a session's full JID, or the bare JID for stanzas the server sends
// for the account) sends to to. A refusal is not-acceptable (XEP-0016
// §2.14), with XEP-0191's <blocked/> when a blocking rule refused it
// (XEP-0191 §3.3).
func (e *Engine) Outbound(ctx context.Context, sender, to jid.JID, k router.StanzaKind) *stream.StanzaError {
	if exempt(sender, to) {
		return nil
	}
	l, err := e.listFor(ctx, sender)
	if err != nil {
		e.log.Error("privacy: cannot load lists; refusing the stanza", "owner", sender.Bare().String(), "err", err)
		return stream.NewStanzaError(stream.InternalServerErr, "the privacy lists could not be read")
	}
	if l == nil {
		return nil
	}
	ok, r, err := l.decide(ctx, e.roster, sender.Bare(), to, kindBit(outbound, k))
	if err != nil {
		e.log.Error("privacy: cannot evaluate rules; refusing the stanza", "owner", sender.Bare().String(), "err", err)
		return stream.NewStanzaError(stream.InternalServerErr, "the privacy lists could not be evaluated")
	}
	if ok {
		return nil
	}
	return deniedError(r != nil && r.blocking())
}

// exempt reports whether stanzas between a user and other escape privacy
// rules: between the user's own resources (XEP-0016 note 5, XEP-0191 note
// 8), and between the user and the user's own server (its domain, or a
// resource of it), without which a "deny everything" list would cut the
// client off from its server (ping, service discovery, the roster).
func exempt(user, other jid.JID) bool {
	return other.IsZero() || other.Bare() == user.Bare() ||
		(other.Local() == "" && other.Domainpart() == user.Domainpart())
}

// deniedError is the error for an outbound stanza the sender's own rules
// refuse (XEP-0016 §2.14 example 51, XEP-0191 §3.3 example 9).
func deniedError(blocked bool) *stream.StanzaError {
	serr := &stream.StanzaError{Type: stream.Cancel, Condition: stream.NotAcceptable}
	if blocked {
		serr.Text = "you have blocked this address"
		app := etree.NewElement("blocked")
		app.CreateAttr("xmlns", NSBlockingErrors)
		serr.App = app
	} else {
		serr.Text = "your privacy list does not allow this stanza to this address"
	}
	return serr
}

// SessionEnded implements router.Policy: it forgets the session's active
// list and blocklist interest (XEP-0016 §2.2 rule 1).
func (e *Engine) SessionEnded(full jid.JID) {
	bare := full.Bare()
	sh := e.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if o := sh.owners[bare]; o != nil {
		delete(o.active, full)
		delete(o.interested, full)
		if o.snap == nil && !o.pinned() {
			delete(sh.owners, bare)
		}
	}
}

// Active returns the name of session's active list, or "" if it has none
// (XEP-0016 §2.3).
func (e *Engine) Active(session jid.JID) string {
	bare := session.Bare()
	sh := e.shard(bare)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if o := sh.owners[bare]; o != nil {
		return o.active[session]
	}
	return ""
}

// listFor returns the list that applies to subject: its session's active
// list, else the default list; the default list for a bare JID; nil for
// none. It costs one map lookup when the owner's lists are cached.
func (e *Engine) listFor(ctx context.Context, subject jid.JID) (*list, error) {
	bare := subject.Bare()
	sh := e.shard(bare)
	sh.mu.RLock()
	var (
		snap   *snapshot
		active string
	)
	if o := sh.owners[bare]; o != nil {
		snap = o.snap
		if o.active != nil && !subject.IsBare() {
			active = o.active[subject]
		}
	}
	sh.mu.RUnlock()
	if snap == nil {
		var err error
		if snap, err = e.fill(ctx, bare); err != nil {
			return nil, err
		}
	}
	return snap.listFor(active), nil
}

// snapshot returns owner's cached snapshot, loading it if needed.
func (e *Engine) snapshot(ctx context.Context, bare jid.JID) (*snapshot, error) {
	sh := e.shard(bare)
	sh.mu.RLock()
	var snap *snapshot
	if o := sh.owners[bare]; o != nil {
		snap = o.snap
	}
	sh.mu.RUnlock()
	if snap != nil {
		return snap, nil
	}
	return e.fill(ctx, bare)
}

// fill loads owner's default list and active lists and caches them, unless
// an invalidation in the shard raced with the load.
func (e *Engine) fill(ctx context.Context, bare jid.JID) (*snapshot, error) {
	sh := e.shard(bare)
	sh.mu.RLock()
	gen := sh.gen
	var active []string
	if o := sh.owners[bare]; o != nil {
		for _, n := range o.active {
			active = append(active, n)
		}
	}
	sh.mu.RUnlock()

	snap, err := e.load(ctx, bare, active)
	if err != nil {
		return nil, err
	}
	sh.mu.Lock()
	if sh.gen == gen {
		o := sh.owners[bare]
		if o == nil {
			if len(sh.owners) >= e.perShard {
				evictOne(sh)
			}
			o = &ownerState{}
			sh.owners[bare] = o
		}
		if o.snap == nil {
			o.snap = snap
		}
	}
	sh.mu.Unlock()
	return snap, nil
}

// evictOne drops one cached owner that has no session state.
func evictOne(sh *shard) {
	for k, o := range sh.owners {
		if !o.pinned() {
			delete(sh.owners, k)
			return
		}
	}
}

// load reads owner's default list and the named lists from storage.
func (e *Engine) load(ctx context.Context, bare jid.JID, names []string) (*snapshot, error) {
	all, def, err := e.lists.PrivacyListNames(ctx, bare.String())
	if err != nil {
		return nil, fmt.Errorf("privacy: lists of %s: %w", bare, err)
	}
	snap := &snapshot{}
	if len(all) == 0 {
		return snap, nil
	}
	want := names
	if def != "" {
		want = append(want, def)
	}
	for _, n := range want {
		if _, done := snap.lists[n]; done {
			continue
		}
		sl, err := e.lists.PrivacyList(ctx, bare.String(), n)
		if err != nil {
			if isNotFound(err) {
				continue // removed meanwhile: the session falls back to the default
			}
			return nil, fmt.Errorf("privacy: list %q of %s: %w", n, bare, err)
		}
		if snap.lists == nil {
			snap.lists = make(map[string]*list, len(want))
		}
		snap.lists[n] = compile(sl)
	}
	if def != "" {
		snap.def = snap.lists[def]
	}
	return snap, nil
}

// Invalidate drops what the engine cached about owner, for changes made to
// storage behind its back (an account deleted or disabled from the command
// line).
func (e *Engine) Invalidate(owner jid.JID) { e.invalidate(owner.Bare()) }

// invalidate drops owner's cached lists after a change.
func (e *Engine) invalidate(bare jid.JID) {
	sh := e.shard(bare)
	sh.mu.Lock()
	sh.gen++
	if o := sh.owners[bare]; o != nil {
		o.snap = nil
	}
	sh.mu.Unlock()
}

// withOwner runs f on owner's state under the shard's write lock, creating
// the state if needed.
func (e *Engine) withOwner(bare jid.JID, f func(o *ownerState)) {
	sh := e.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	o := sh.owners[bare]
	if o == nil {
		o = &ownerState{}
		sh.owners[bare] = o
	}
	f(o)
}
