package router

import (
	"hash/maphash"
	"sync"

	"github.com/beevik/etree"

	"github.com/herald-im/herald/jid"
	"github.com/herald-im/herald/stream"
)

// Session is a bound client session as the router sees it.
type Session interface {
	// JID returns the session's full JID, fixed when the resource was bound.
	JID() jid.JID
	// Send queues el for delivery to the client. It never blocks; it fails
	// only when the session is closing or its queue overflowed (in which
	// case the session closes itself). el must not be modified afterwards.
	Send(el *etree.Element) error
	// Close ends the session with a stream error, e.g. conflict when a new
	// session binds the same resource.
	Close(err *stream.Error)
}

// resource is one bound session of an account and its presence state.
type resource struct {
	sess      Session
	available bool
	priority  int
	// presence is the last available presence the resource broadcast,
	// already stamped; nil while unavailable.
	presence *etree.Element
	// interested is set once the resource requested the roster; it then
	// receives roster pushes (RFC 6121 §2.1.6).
	interested bool
	// flushing is set from the moment the resource can receive messages
	// until the messages stored while the account was offline have been
	// handed to it; meanwhile new messages are stored behind them, so
	// that none overtakes an older one (RFC 6120 §10.1).
	flushing bool
	// carbons is set while the resource has Message Carbons enabled
	// (XEP-0280).
	carbons bool
	// directed holds the addresses the resource sent directed presence to
	// while available (RFC 6121 §4.6); they are owed unavailable presence.
	directed map[jid.JID]struct{}
}

// account holds the bound resources of one bare JID.
type account struct {
	resources []*resource
}

const shardCount = 64

type shard struct {
	mu       sync.RWMutex
	accounts map[jid.JID]*account
}

// table is the sharded table of local sessions, keyed by bare JID.
//
// Lock order: a shard lock is never held while another shard's lock is
// taken, nor while calling into a Session.
type table struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

func newTable() *table {
	t := &table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].accounts = make(map[jid.JID]*account)
	}
	return t
}

func (t *table) shard(bare jid.JID) *shard {
	return &t.shards[maphash.String(t.seed, bare.String())%shardCount]
}

// bind adds s under its full JID and returns the session it displaced, if
// one had bound the same full JID.
func (t *table) bind(s Session) (displaced Session) {
	full := s.JID()
	bare := full.Bare()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	acc := sh.accounts[bare]
	if acc == nil {
		acc = &account{}
		sh.accounts[bare] = acc
	}
	for i, r := range acc.resources {
		if r.sess.JID() == full {
			displaced = r.sess
			acc.resources[i] = &resource{sess: s}
			return displaced
		}
	}
	acc.resources = append(acc.resources, &resource{sess: s})
	return nil
}

// unbind removes s if it is still the session bound at its full JID and
// returns its final state.
func (t *table) unbind(s Session) (res resource, ok bool) {
	full := s.JID()
	bare := full.Bare()
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	acc := sh.accounts[bare]
	if acc == nil {
		return resource{}, false
	}
	for i, r := range acc.resources {
		if r.sess == s {
			res = *r
			acc.resources = append(acc.resources[:i], acc.resources[i+1:]...)
			if len(acc.resources) == 0 {
				delete(sh.accounts, bare)
			}
			return res, true
		}
	}
	return resource{}, false
}

// update runs f on the resource of s under the shard's write lock.
func (t *table) update(s Session, f func(r *resource)) bool {
	return t.updateWhere(s.JID().Bare(), func(r *resource) bool { return r.sess == s }, f)
}

// updateJID runs f on the resource bound at full under the shard's write
// lock, for callers that know the address but not the session.
func (t *table) updateJID(full jid.JID, f func(r *resource)) bool {
	return t.updateWhere(full.Bare(), func(r *resource) bool { return r.sess.JID() == full }, f)
}

func (t *table) updateWhere(bare jid.JID, match func(*resource) bool, f func(r *resource)) bool {
	sh := t.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if acc := sh.accounts[bare]; acc != nil {
		for _, r := range acc.resources {
			if match(r) {
				f(r)
				return true
			}
		}
	}
	return false
}

// target is a snapshot of one resource for delivery outside the lock.
type target struct {
	sess       Session
	available  bool
	priority   int
	interested bool
	carbons    bool
	flushing   bool
	directed   bool // the resource sent directed presence to the asking JID
}

// lookupFull returns the session bound at full, if any.
func (t *table) lookupFull(full jid.JID, asker jid.JID) (target, bool) {
	bare := full.Bare()
	sh := t.shard(bare)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if acc := sh.accounts[bare]; acc != nil {
		for _, r := range acc.resources {
			if r.sess.JID() == full {
				_, d := r.directed[asker]
				if !d && !asker.IsZero() {
					_, d = r.directed[asker.Bare()]
				}
				return target{sess: r.sess, available: r.available, priority: r.priority, directed: d}, true
			}
		}
	}
	return target{}, false
}

// resources appends snapshots of all resources bound to bare to dst.
func (t *table) resources(dst []target, bare jid.JID) []target {
	sh := t.shard(bare)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if acc := sh.accounts[bare]; acc != nil {
		for _, r := range acc.resources {
			dst = append(dst, target{sess: r.sess, available: r.available, priority: r.priority, interested: r.interested, carbons: r.carbons, flushing: r.flushing})
		}
	}
	return dst
}

// count returns the number of bound sessions.
func (t *table) count() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.RLock()
		for _, acc := range sh.accounts {
			n += len(acc.resources)
		}
		sh.mu.RUnlock()
	}
	return n
}
