package system

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sgw/atrest"
	"sgw/cluster"
	"sgw/configs"
	"sgw/journal"
)

// TestGatewaySealedStorage runs the gateway with storage.encryption: orders
// flow, the gateway restarts on its sealed journal and FIX stores and
// replays them, nothing of the orders is on disk in plaintext, and a
// gateway started without the keys refuses the files, naming the key.
func TestGatewaySealedStorage(t *testing.T) {
	v := startVenue(t)
	keyFile := filepath.Join(t.TempDir(), "storage.keys")
	if err := os.WriteFile(keyFile, []byte("gw2026 00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.Storage = &configs.Storage{Encryption: &atrest.Config{KeyFile: keyFile}}
	first := startGateway(t, v)
	waitUntil(t, "the core session up", 15*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	tok := token(t, v.cfg)
	tr := newTrader(t, first.base, tok)
	before := tr.stream("s1", 10, 200, nil)
	first.stop()

	second := startGateway(t, v)
	tr2 := newTrader(t, second.base, tok)
	after := tr2.stream("s2", 10, 200, nil)
	tr2.waitFor("the new orders working", func() bool {
		for _, id := range after {
			if tr2.final[id] != "new" {
				return false
			}
		}
		return true
	})
	checkExactlyOnce(t, v, append(before, after...), []string{"orders.stopping"}, tr, tr2)
	second.stop()

	jpath := v.cfg.Orders.Journal
	data, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	if ver := binary.BigEndian.Uint16(data[8:]); ver != 4 {
		t.Fatalf("journal format version %d, want 4 (sealed)", ver)
	}
	keys, err := v.cfg.StorageKeys()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := journal.ReadFileKeys(jpath, keys, func(journal.Record) error { n++; return nil }); err != nil || n == 0 {
		t.Fatalf("ReadFileKeys: %d records, %v", n, err)
	}
	for _, u := range v.cfg.Orders.Upstreams {
		sealed, _ := filepath.Glob(filepath.Join(u.StoreDir, "*.sealed"))
		plain, _ := filepath.Glob(filepath.Join(u.StoreDir, "*.body"))
		if len(sealed) == 0 || len(plain) > 0 {
			t.Fatalf("upstream %s store: sealed %v, plain %v", u.Name, sealed, plain)
		}
	}

	v.cfg.Storage = nil
	if _, err := New(v.cfg, testLog()); !errors.Is(err, atrest.ErrKey) {
		t.Fatalf("a gateway without the keys: %v, want ErrKey", err)
	}
}

// TestClusterSealedStorage runs a 3-node cluster with storage.encryption:
// orders flow through a SIGKILL of the leader, every journaled order
// reached the venue once, the journal reads back only with the keys, and
// no member's data directory holds an order id in the clear.
func TestClusterSealedStorage(t *testing.T) {
	v := startVenue(t)
	keyFile := filepath.Join(t.TempDir(), "storage.keys")
	if err := os.WriteFile(keyFile, []byte("gw2026 00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.cfg.Storage = &configs.Storage{Encryption: &atrest.Config{KeyFile: keyFile}}
	nodes := startCluster(t, v)
	tok := token(t, v.cfg)
	leader := waitClusterLeader(t, v, nodes)
	tr := newTrader(t, leader.child.base, tok)
	ids := tr.stream("sealedclu", 60, 300, func() {
		leader.child.kill(t)
		leader.child = nil
	})
	<-tr.done
	next := waitClusterLeader(t, v, nodes)
	leader.start(t)
	tr2 := newTrader(t, next.child.base, tok)
	more := tr2.stream("sealedmore", 10, 100, nil)
	tr2.waitFor("the last orders working", func() bool {
		for _, id := range more {
			if tr2.final[id] != "new" {
				return false
			}
		}
		return true
	})
	ids = append(ids, more...)
	waitResolved(t, next, tok, ids)
	stopCluster(t, nodes, next)

	keys, err := v.cfg.StorageKeys()
	if err != nil {
		t.Fatal(err)
	}
	uids, count := journaledIn(t, clusterJournal(next, keys))
	checkExactlyOnceIn(t, v, uids, count, ids, []string{"orders.not_leader"}, tr, tr2)
	if err := cluster.ReadJournal(next.cfg.Cluster.DataDir, nil, func(journal.Record) error { return nil }); !errors.Is(err, atrest.ErrKey) {
		t.Errorf("the journal read without the keys: %v, want ErrKey", err)
	}
	for _, n := range nodes {
		filepath.Walk(n.cfg.Cluster.DataDir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte("sealedclu")) || bytes.Contains(b, []byte("sealedmore")) {
				t.Errorf("%s holds an order id in the clear", path)
			}
			return nil
		})
	}
}
