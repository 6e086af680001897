package fix

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"sgw/cluster"
)

// fakeSessions is a SessionStores in memory: quickfix's memory store and
// a reservation per session, kept across "restarts" of the factory.
type fakeSessions struct {
	owner  string
	stores map[string]quickfix.MessageStore
	res    map[string]fakeReservation
	writes int
}

type fakeReservation struct {
	reserved int
	clean    bool
	owner    string
}

var _ SessionStores = (*fakeSessions)(nil)

func newFakeSessions(owner string) *fakeSessions {
	return &fakeSessions{owner: owner, stores: map[string]quickfix.MessageStore{}, res: map[string]fakeReservation{}}
}

// memStore wraps quickfix's memory store so that Close keeps it for the
// next open.
type memStore struct{ quickfix.MessageStore }

func (memStore) Close() error { return nil }

func (f *fakeSessions) OpenMessages(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, ok := f.stores[sid.String()]
	if !ok {
		inner, err := quickfix.NewMemoryStoreFactory().Create(sid)
		if err != nil {
			return nil, err
		}
		st = memStore{inner}
		f.stores[sid.String()] = st
	}
	return st, nil
}

func (f *fakeSessions) ReadReservation(sid quickfix.SessionID) (int, bool, string, bool, error) {
	r, ok := f.res[sid.String()]
	return r.reserved, r.clean, r.owner, ok, nil
}

func (f *fakeSessions) WriteReservation(sid quickfix.SessionID, reserved int, clean bool, owner string) error {
	f.writes++
	f.res[sid.String()] = fakeReservation{reserved: reserved, clean: clean, owner: owner}
	return nil
}

func (f *fakeSessions) Owner() string { return f.owner }

// TestSessionStoresReservation runs storeFactory's reservation logic on a
// SessionStores: a clean close or the same owner keeps the sequence; an
// unclean close by another owner skips to the reservation and marks the
// scan lost.
func TestSessionStoresReservation(t *testing.T) {
	tests := []struct {
		name      string
		clean     bool
		nextOwner string
		wantNext  int
		wantLost  bool
	}{
		{name: "clean close, other owner", clean: true, nextOwner: "n2/7", wantNext: 4},
		{name: "unclean, same owner", nextOwner: "n1/5", wantNext: 4},
		{name: "unclean, other owner", nextOwner: "n2/7", wantNext: 1 + reserveBlock, wantLost: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeSessions("n1/5")
			f, sid := newTestStoreFactory(t, t.TempDir())
			f.sessions = fs
			st, err := f.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, orderMsg(i)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.clean {
				if err := f.close(); err != nil {
					t.Fatal(err)
				}
			}
			fs.owner = tt.nextOwner
			f2, _ := newTestStoreFactory(t, t.TempDir())
			f2.sessions = fs
			var scan storeScan
			f2.onScan = func(sc storeScan) { scan = sc }
			var logs bytes.Buffer
			f2.log = slog.New(slog.NewTextHandler(&logs, nil))
			st2, err := f2.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			defer f2.close()
			// A replicated store's new owner is a takeover (or a node's
			// restart), not a machine's: the warning says so.
			if took := bytes.Contains(logs.Bytes(), []byte("replicated store taken over")); took != tt.wantLost ||
				bytes.Contains(logs.Bytes(), []byte("machine restarted")) {
				t.Errorf("logs %q: want the takeover named (%v), no machine restart", logs.String(), tt.wantLost)
			}
			if got := st2.NextSenderMsgSeqNum(); got != tt.wantNext {
				t.Errorf("next sender = %d, want %d", got, tt.wantNext)
			}
			if scan.lost != tt.wantLost || !scan.handed["ord1"] || !scan.handed["ord3"] {
				t.Errorf("scan lost=%v handed=%v, want lost=%v and ord1..ord3", scan.lost, scan.handed, tt.wantLost)
			}
			wantOwner := tt.nextOwner
			if tt.wantLost {
				wantOwner = markLost + wantOwner // kept until the store's reset
			}
			if r := fs.res[sid.String()]; r.owner != wantOwner || r.clean || r.reserved != tt.wantNext+reserveBlock {
				t.Errorf("reservation after open = %+v, want %d by %s, not clean", r, tt.wantNext+reserveBlock, wantOwner)
			}
		})
	}
}

// raftCluster is a 3-node cluster on loopback TCP, each node driving a
// cluster.State.
type raftCluster struct {
	nodes  []*cluster.Node
	states []*cluster.State
}

func newRaftCluster(t *testing.T) *raftCluster {
	t.Helper()
	c := &raftCluster{}
	peers := map[string]string{}
	for i := range 3 {
		st := cluster.NewState()
		n, err := cluster.New(cluster.Config{NodeID: fmt.Sprintf("n%d", i+1), DataDir: t.TempDir()}, st)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		c.nodes, c.states = append(c.nodes, n), append(c.states, st)
		peers[n.ID()] = n.Addr()
	}
	for _, n := range c.nodes {
		if err := n.Start(peers); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// waitLeader waits for a leadership event of a node other than exclude
// that announces an epoch, and returns its index.
func (c *raftCluster) waitLeader(t *testing.T, exclude int) int {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		for i, n := range c.nodes {
			if i != exclude && n.Epoch() != 0 {
				return i
			}
		}
		// Each node's LeaderCh holds its latest leadership; wait on all.
		events := make(chan struct{}, len(c.nodes))
		stop := make(chan struct{})
		for i, n := range c.nodes {
			if i == exclude {
				continue
			}
			go func() {
				select {
				case <-n.LeaderCh():
					events <- struct{}{}
				case <-stop:
				}
			}()
		}
		select {
		case <-events:
		case <-deadline.C:
			close(stop)
			t.Fatal("no leader in 20s")
		}
		close(stop)
	}
}

func clusterStoreFactory(t *testing.T, n *cluster.Node, st *cluster.State) *storeFactory {
	t.Helper()
	ss, err := cluster.NewSessionStores(cluster.SessionStoresConfig{Node: n, State: st})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := newTestStoreFactory(t, t.TempDir())
	f.sessions = ss
	f.log = slog.New(slog.DiscardHandler)
	return f
}

// TestClusterStoreTakeover writes a session store on the leader of a
// 3-node cluster and opens it on the next leader: after a planned handover
// (store closed cleanly) the sequence continues; after the leader is
// killed it resumes at the reservation with the scan marked lost. Both
// find the messages saved.
func TestClusterStoreTakeover(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			c := newRaftCluster(t)
			a := c.waitLeader(t, -1)
			f := clusterStoreFactory(t, c.nodes[a], c.states[a])
			_, sid := newTestStoreFactory(t, t.TempDir())
			st, err := f.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 5; i++ {
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, orderMsg(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.SetNextTargetMsgSeqNum(9); err != nil {
				t.Fatal(err)
			}
			if kill {
				// The saves are committed (not only sent) before the
				// leader dies, so the next leader must hold them.
				if err := f.sessions.(*cluster.SessionStores).Flush(sid); err != nil {
					t.Fatal(err)
				}
				c.nodes[a].Close()
			} else {
				if err := f.close(); err != nil {
					t.Fatal(err)
				}
				if err := c.nodes[a].TransferLeadership(); err != nil {
					t.Fatal(err)
				}
			}
			b := c.waitLeader(t, a)
			f2 := clusterStoreFactory(t, c.nodes[b], c.states[b])
			var scan storeScan
			f2.onScan = func(sc storeScan) { scan = sc }
			st2, err := f2.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			defer f2.close()
			wantNext := 6
			if kill {
				wantNext = 1 + reserveBlock
			}
			if got := st2.NextSenderMsgSeqNum(); got != wantNext {
				t.Errorf("next sender on n%d = %d, want %d", b+1, got, wantNext)
			}
			if got := st2.NextTargetMsgSeqNum(); got != 9 {
				t.Errorf("next target on n%d = %d, want 9", b+1, got)
			}
			if scan.lost != kill || !scan.handed["ord1"] || !scan.handed["ord5"] {
				t.Errorf("scan lost=%v handed=%v, want lost=%v and ord1..ord5", scan.lost, scan.handed, kill)
			}
			msgs, err := st2.GetMessages(1, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 5 || !bytes.Equal(msgs[0], orderMsg(1)) || !bytes.Equal(msgs[4], orderMsg(5)) {
				t.Errorf("messages on n%d = %q, want the 5 saved", b+1, msgs)
			}
			// The old leader's store refuses to write further.
			if !kill {
				if _, err := clusterStoreFactory(t, c.nodes[a], c.states[a]).Create(sid); !errors.Is(err, cluster.ErrNotLeader) {
					t.Errorf("open on the old leader = %v, want ErrNotLeader", err)
				}
			}
		})
	}
}

// BenchmarkStoreScan measures what opening an upstream session's store
// in a cluster reads before quickfix may use it, at every takeover: the
// requests the replicated store holds (scanStore), then the recent ones
// entered in the Reject index, as the Upstream does. The store holds n
// orders, each a NewOrderSingle and a cancel of about 230 bytes: the
// session of a day with n orders. The cluster is one node.
//
//	go test -run '^$' -bench BenchmarkStoreScan -benchmem ./fix/
func BenchmarkStoreScan(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("orders=%dk", n/1000), func(b *testing.B) {
			state := cluster.NewState()
			node, err := cluster.New(cluster.Config{NodeID: "n1", DataDir: b.TempDir()}, state)
			if err != nil {
				b.Fatal(err)
			}
			defer node.Close()
			if err := node.Start(map[string]string{node.ID(): node.Addr()}); err != nil {
				b.Fatal(err)
			}
			<-node.LeaderCh()
			for node.Epoch() == 0 {
				<-node.LeaderCh()
			}
			ss, err := cluster.NewSessionStores(cluster.SessionStoresConfig{Node: node, State: state})
			if err != nil {
				b.Fatal(err)
			}
			sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "CORE"}
			st, err := ss.OpenMessages(sid)
			if err != nil {
				b.Fatal(err)
			}
			const head = "8=FIX.4.4\x019=200\x0135=%c\x0134=%d\x0149=GW\x0152=20261203-10:00:00.000\x0156=CORE\x01"
			for i := range n {
				seq := st.NextSenderMsgSeqNum()
				m := withSum(fmt.Appendf(nil, head+"11=GWx1a2b3c%07d\x011=A1\x0155=600519\x01207=XSHG\x0154=1\x0160=20261203-10:00:00.000\x0138=100\x0140=2\x0144=17.00\x0159=0\x0110=000\x01", 'D', seq, i))
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, m); err != nil {
					b.Fatal(err)
				}
				seq++
				m = withSum(fmt.Appendf(nil, head+"11=GWx1a2b3c%07dc\x0141=GWx1a2b3c%07d\x0137=O%07d\x011=A1\x0155=600519\x01207=XSHG\x0154=1\x0160=20261203-10:00:00.000\x0138=100\x0110=000\x01", 'F', seq, i, i, i))
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, m); err != nil {
					b.Fatal(err)
				}
			}
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
			if st, err = ss.OpenMessages(sid); err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			b.ReportAllocs()
			for b.Loop() {
				sc, err := scanStore(st)
				if err != nil || len(sc.handed) != 2*n {
					b.Fatalf("%d handed, %v; want %d", len(sc.handed), err, 2*n)
				}
				var x sentIndex
				x.init(sentIndexSize)
				for _, m := range sc.sent {
					x.add(m)
				}
			}
		})
	}
}

// countingStore counts the reads of a whole range of a store.
type countingStore struct {
	quickfix.MessageStore
	iterations *int
}

func (c countingStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	*c.iterations++
	return c.MessageStore.IterateMessages(begin, end, cb)
}

// TestReplicatedStoresDoNotScan: opening a broker session's store (the
// acceptor's ReplicatedStores) at a takeover does not read its messages:
// only an Upstream needs the requests a store holds, and the acceptor
// reads the reports itself (fix/broker's restatement), once.
func TestReplicatedStoresDoNotScan(t *testing.T) {
	f := newFakeSessions("n1/7")
	sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "BRK"}
	st, err := f.OpenMessages(sid)
	if err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 3; seq++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, []byte("8=FIX.4.4\x0135=8\x0134="+strconv.Itoa(seq)+"\x0111=c1\x0139=0\x01")); err != nil {
			t.Fatal(err)
		}
	}
	iterations := 0
	f.stores[sid.String()] = countingStore{MessageStore: st, iterations: &iterations}
	rs := NewReplicatedStores(f, nil)
	if _, err := rs.Create(sid); err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if iterations != 0 {
		t.Fatalf("opening the store read its messages %d times; want none", iterations)
	}
}

// TestFileStoresReadErrorTold: a read of a FileStores store's messages
// that fails (a message changed on disk after the start: a resend the
// peer asked for, not made) is told to OnReadError's fn, with the store's
// session, once per read, and without the store's lock held: fn (the
// broker acceptor's count) may use the store, and a slow fn does not
// hold up the session's other calls.
func TestFileStoresReadErrorTold(t *testing.T) {
	dir := t.TempDir()
	tf, sid := newTestStoreFactory(t, dir)
	fs := NewFileStores(tf.settings, dir, nil, false, tf.log)
	var (
		st     quickfix.MessageStore
		told   []error
		locked bool
	)
	fs.OnReadError(func(s quickfix.SessionID, err error) {
		if s != sid {
			t.Errorf("told of session %v; want %v", s, sid)
		}
		l := st.(*reservedStore).MessageStore.(*LockedStore)
		if l.mu.TryLock() {
			l.mu.Unlock()
		} else {
			locked = true
		}
		told = append(told, err)
	})
	st, err := fs.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for seq := 1; seq <= 2; seq++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, idMsg(seq, "ord"+strconv.Itoa(seq))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.GetMessages(1, 2); err != nil || len(told) != 0 {
		t.Fatalf("a read of whole messages: %v, told %v; want no error, nothing told", err, told)
	}
	body := filepath.Join(dir, storePrefix(sid)+".body")
	b, err := os.ReadFile(body)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("11=ord2"))
	if i < 0 {
		t.Fatalf("ord2 not in %q", b)
	}
	b[i+len("11=ord")] ^= 0x01 // ord2 -> ord3
	if err := os.WriteFile(body, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, gerr := st.GetMessages(1, 2)
	ierr := st.IterateMessages(2, 2, func([]byte) error { return nil })
	if !errors.Is(gerr, ErrStoreDamaged) || !errors.Is(ierr, ErrStoreDamaged) {
		t.Fatalf("reads of a changed message: %v, %v; want ErrStoreDamaged", gerr, ierr)
	}
	if len(told) != 2 || !errors.Is(told[0], ErrStoreDamaged) || !errors.Is(told[1], ErrStoreDamaged) {
		t.Fatalf("told %v; want each of the two failed reads, ErrStoreDamaged", told)
	}
	if locked {
		t.Error("fn was called with the store's lock held")
	}
}
