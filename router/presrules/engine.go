package presrules

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/router"
	"github.com/herald-im/herald/storage"
)

const (
	shardCount = 64
	// defaultCacheOwners is the default bound of WithCacheSize.
	defaultCacheOwners = 65536
)

// storedLimits are the limits for reading back stored documents: they were
// checked when stored, and lowering the configured limits later must not
// make existing documents unreadable.
func storedLimits() Limits {
	return Limits{MaxRules: 1 << 30, MaxBytes: storage.MaxPresenceRulesBytes, MaxEntries: 1 << 30}
}

// Option configures an Engine.
type Option func(*Engine)

// WithLimits sets the limits documents stored through the engine must
// respect (default: DefaultMaxRules, DefaultMaxBytes, DefaultMaxEntries).
func WithLimits(l Limits) Option {
	return func(e *Engine) { e.lim = l.withDefaults() }
}

// WithCacheSize bounds the number of owners whose documents (or the fact
// that they have none) are cached (default 65536).
func WithCacheSize(owners int) Option {
	return func(e *Engine) {
		if owners > 0 {
			e.perShard = max(1, owners/shardCount)
		}
	}
}

// WithClock sets the clock validity conditions are evaluated against
// (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(e *Engine) {
		if now != nil {
			e.now = now
		}
	}
}

// Engine stores, caches and evaluates users' presence authorization rules.
// It implements router.SubscriptionPolicy and the service of the
// urn:xmpp:herald:pres-rules:0 module. It is safe for concurrent use.
type Engine struct {
	store    storage.PresenceRules
	log      *slog.Logger
	lim      Limits
	now      func() time.Time
	perShard int
	seed     maphash.Seed
	shards   [shardCount]shard
}

var _ router.SubscriptionPolicy = (*Engine)(nil)

// shard caches the documents of the owners hashed to it; a nil *Document
// records that the owner has none. gen counts the invalidations in the
// shard: a document read from storage is cached only if no invalidation
// happened while it was being read, so a read that raced with a change
// cannot cache the old document.
type shard struct {
	mu   sync.RWMutex
	gen  uint64
	docs map[jid.JID]*Document
}

// New returns an engine over store; log may be nil.
func New(store storage.PresenceRules, log *slog.Logger, opts ...Option) *Engine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		store:    store,
		log:      log,
		lim:      Limits{}.withDefaults(),
		now:      time.Now,
		perShard: defaultCacheOwners / shardCount,
		seed:     maphash.MakeSeed(),
	}
	for i := range e.shards {
		e.shards[i].docs = make(map[jid.JID]*Document)
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// SubscriptionRequest implements router.SubscriptionPolicy: it decides a
// new subscription request from requester to user (RFC 5025 §4: the
// subscription processing aspects of the rules apply when the server
// decides to accept or reject a subscription).
//
// A user without a document keeps the ordinary flow of RFC 6121 §3.1.3
// (SubConfirm): RFC 5025's default, block, applies only to users who
// have written rules. A user whose document cannot be read is asked too,
// and the error logged: asking the user reveals nothing.
func (e *Engine) SubscriptionRequest(ctx context.Context, user, requester jid.JID) router.SubHandling {
	doc, err := e.Document(ctx, user)
	if err != nil {
		e.log.Error("presence rules: cannot decide a subscription request, asking the user", "user", user.Bare().String(), "err", err)
		return router.SubConfirm
	}
	if doc == nil {
		return router.SubConfirm
	}
	sh, matched := doc.Decide(requester, e.now())
	if e.log.Enabled(ctx, slog.LevelDebug) {
		e.log.Debug("presence rules: subscription request decided", "user", user.Bare().String(),
			"requester", requester.Bare().String(), "sub-handling", sh.String(), "matched", matched)
	}
	return sh.Router()
}

// Document returns owner's document, nil if the owner has none. It is
// served from the cache when possible.
func (e *Engine) Document(ctx context.Context, owner jid.JID) (*Document, error) {
	owner = owner.Bare()
	sh := e.shard(owner)
	sh.mu.RLock()
	doc, ok := sh.docs[owner]
	gen := sh.gen
	sh.mu.RUnlock()
	if ok {
		return doc, nil
	}
	doc, err := e.read(ctx, owner)
	if err != nil {
		return nil, err
	}
	sh.mu.Lock()
	if sh.gen == gen {
		if len(sh.docs) >= e.perShard {
			for k := range sh.docs { // evict an arbitrary owner
				delete(sh.docs, k)
				break
			}
		}
		sh.docs[owner] = doc
	}
	sh.mu.Unlock()
	return doc, nil
}

// read loads owner's document from storage.
func (e *Engine) read(ctx context.Context, owner jid.JID) (*Document, error) {
	b, err := e.store.PresenceRules(ctx, owner.String())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("presrules: reading the rules of %s: %w", owner, err)
	}
	doc, err := ParseBytes(b, storedLimits())
	if err != nil {
		// Not ErrInvalid: the user did nothing wrong now.
		return nil, fmt.Errorf("presrules: the stored rules of %s are unreadable: %v", owner, err)
	}
	return doc, nil
}

// Rules returns owner's document as a <ruleset/> tree in canonical form,
// or nil if the owner has none.
func (e *Engine) Rules(ctx context.Context, owner jid.JID) (*etree.Element, error) {
	doc, err := e.Document(ctx, owner)
	if err != nil || doc == nil {
		return nil, err
	}
	el, err := Element(doc.Canonical())
	if err != nil {
		return nil, fmt.Errorf("presrules: decoding the canonical rules of %s: %w", owner.Bare(), err)
	}
	return el, nil
}

// SetRules validates ruleset and stores it as owner's document, replacing
// any earlier one. A document that is invalid or beyond the engine's
// limits is refused with an error wrapping ErrInvalid or ErrLimit that says
// why; nothing is stored then.
func (e *Engine) SetRules(ctx context.Context, owner jid.JID, ruleset *etree.Element) error {
	owner = owner.Bare()
	doc, err := Parse(ruleset, e.lim)
	if err != nil {
		return err
	}
	defer e.Invalidate(owner)
	if err := e.store.PutPresenceRules(ctx, owner.String(), doc.Canonical()); err != nil {
		return fmt.Errorf("presrules: storing the rules of %s: %w", owner, err)
	}
	return nil
}

// DeleteRules removes owner's document, if any: afterwards the owner's
// subscription requests follow the ordinary flow again.
func (e *Engine) DeleteRules(ctx context.Context, owner jid.JID) error {
	owner = owner.Bare()
	defer e.Invalidate(owner)
	if err := e.store.DeletePresenceRules(ctx, owner.String()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("presrules: removing the rules of %s: %w", owner, err)
	}
	return nil
}

// Invalidate drops owner's cached document, for changes made to storage
// behind the engine's back (such as deleting the account).
func (e *Engine) Invalidate(owner jid.JID) {
	owner = owner.Bare()
	sh := e.shard(owner)
	sh.mu.Lock()
	sh.gen++
	delete(sh.docs, owner)
	sh.mu.Unlock()
}

func (e *Engine) shard(bare jid.JID) *shard {
	return &e.shards[maphash.String(e.seed, bare.String())%shardCount]
}
