package broker

import (
	"sync"

	"github.com/quickfixgo/quickfix"

	"sgw/fix"
)

// Restatement (Config.Restate). A clustered gateway's new leader takes
// the broker sessions over from the previous one with their replicated
// stores, which may lack the last reports the previous leader produced:
// a report still queued when it died, or one it sent that was not yet
// replicated, or an execution it journaled whose report it never made.
// FIX resend recovery brings back what the store holds; nothing brings
// back what it lacks. So at each session's first logon under such an
// acceptor, every order the session entered whose state differs from the
// last report the store holds for it (OrdStatus, CumQty), or of which the
// store holds none, is restated with an ExecutionReport ExecType I (order
// status; FIX 4.2: ExecTransType 3): the broker's view is made whole,
// and a report it did get is only repeated as a status, which changes
// nothing. An order's fills appear as its CumQty and AvgPx; their
// individual executions are not replayed.

// keptStores is a storeFactory that remembers the store of each session,
// for the restatement. Safe for concurrent use.
type keptStores struct {
	storeFactory
	mu    sync.Mutex
	bySID map[quickfix.SessionID]quickfix.MessageStore // by sessionKey
}

// keep wraps st so that the sessions' stores can be found (Restate only).
func (a *Acceptor) keep(st storeFactory) storeFactory {
	if !a.cfg.Restate {
		return st
	}
	k := &keptStores{storeFactory: st, bySID: map[quickfix.SessionID]quickfix.MessageStore{}}
	a.kept = k
	return k
}

// Create implements quickfix.MessageStoreFactory.
func (k *keptStores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, err := k.storeFactory.Create(sid)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.bySID[sessionKey(sid)] = st
	k.mu.Unlock()
	return st, nil
}

// store returns sid's store, or nil.
func (k *keptStores) store(sid quickfix.SessionID) quickfix.MessageStore {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.bySID[sessionKey(sid)]
}

// restate queues the status of every order of s whose last stored report
// does not show it as it is, once per acceptor run (the first logon). It
// runs on the session's goroutine (OnLogon), which is the only writer of
// the store meanwhile, and returns how many it restated.
func (s *session) restate() int {
	k := s.a.kept
	if k == nil || s.restated {
		return 0
	}
	s.restated = true
	st := k.store(s.id)
	if st == nil {
		return 0
	}
	last, err := fix.LastReports(st)
	if err != nil {
		// Without the store's reports every order is restated.
		s.a.log.Warn("broker: restatement: the store's reports cannot be read; restating every order", "broker", s.id.TargetCompID, "err", err)
		last = nil
	}
	n := 0
	for _, o := range s.a.entry.OrdersFrom(s.src) {
		r := orderReport(&o, 'I')
		if got, ok := last[o.ClOrdID]; ok && got.OrdStatus == r.ordStatus && got.CumQty == r.cum {
			continue
		}
		r.execID = s.a.nextExecID()
		s.sendReport(&r)
		n++
	}
	if n > 0 {
		s.a.log.Info("broker: orders restated after a takeover", "broker", s.id.TargetCompID, "orders", n)
	}
	return n
}
