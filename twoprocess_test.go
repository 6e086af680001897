package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"sgw/auth"
	"sgw/configs"
	"sgw/gateway/mdclient"
	"sgw/internal/syncbuf"
)

// commandEnv names the environment variable that turns the test binary
// into a gateway command (TestCommandChildProcess): its value is the
// command line, as a JSON array.
const commandEnv = "SGW_TEST_COMMAND"

// TestCommandChildProcess is not a test: TestSimAndRunProcesses runs the
// test binary again with commandEnv set to get `gateway sim` and `gateway
// run` as processes of their own. It runs the command until SIGTERM and
// exits with main's status.
func TestCommandChildProcess(t *testing.T) {
	raw := os.Getenv(commandEnv)
	if raw == "" {
		t.Skip("a helper process for TestSimAndRunProcesses")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx, stop := signalContext(os.Interrupt, syscall.SIGTERM)
	err := run(ctx, args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// process is a command running as a child process.
type process struct {
	cmd    *exec.Cmd
	lines  chan string // stdout and stderr, line by line
	done   chan error
	output *syncbuf.Buffer
}

// startCommand runs `gateway ARGS...` as a child process until the test
// ends.
func startCommand(t *testing.T, args ...string) *process {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommandChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), commandEnv+"="+string(raw))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &process{cmd: cmd, lines: make(chan string, 1024), done: make(chan error, 1), output: &syncbuf.Buffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.output.Write([]byte(sc.Text() + "\n"))
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for lines any more
			}
		}
		io.Copy(io.Discard, pr)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.done <- err
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", strings.Join(args, " "), p.output.String())
		}
	})
	return p
}

// await returns the submatches of the first output line that matches re.
func (p *process) await(t *testing.T, what string, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case err := <-p.done:
			t.Fatalf("the process exited (%v) before %s", err, what)
		case <-timeout:
			t.Fatalf("no %s within 60s", what)
		}
	}
}

// stop ends the process with SIGTERM and checks that it exits 0.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no exit within 60s of SIGTERM")
	}
}

// TestSimAndRunProcesses runs the README's two-process setup from
// configs/local.yaml, on free ports: `gateway sim` (market feeds and FIX
// acceptor) and `gateway run` as separate processes. A trader's order goes
// through the gateway's risk checks and journal, over FIX to the
// simulator's matching engine, and comes back filled; both stop cleanly
// on SIGTERM.
func TestSimAndRunProcesses(t *testing.T) {
	text, err := os.ReadFile("configs/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	local, err := configs.Parse("configs/local.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := strings.ReplaceAll(string(text), "/tmp/sgw-local/", dir+"/")
	// The file's listen addresses, by the name the simulator prints.
	fixed := map[string]string{"itch primary": local.Sim.Primary.Addr, "itch backup": local.Sim.Backup.Addr,
		"szse primary": local.Sim.SZSE.Primary.Addr, "szse backup": local.Sim.SZSE.Backup.Addr}
	for i, l := range local.FIXSim.Lines {
		fixed[fmt.Sprintf("fix line %d", i)] = l
	}
	simConf := conf
	for _, addr := range fixed {
		simConf = strings.ReplaceAll(simConf, `"`+addr+`"`, `"127.0.0.1:0"`)
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	simProc := startCommand(t, "sim", "-config", write("sim.yaml", simConf))
	simProc.await(t, "the simulator's banner", regexp.MustCompile(`^sim running`))
	gwConf := conf
	listed := regexp.MustCompile(`^  (itch primary|itch backup|szse primary|szse backup|fix line \d):\s+(\S+)$`)
	for range fixed {
		m := simProc.await(t, "the simulator's addresses", listed)
		gwConf = strings.ReplaceAll(gwConf, `"`+fixed[m[1]]+`"`, `"`+m[2]+`"`)
	}
	gwConf = strings.Replace(gwConf, "http: 127.0.0.1:8080", "http: 127.0.0.1:0", 1)
	gwConf = strings.Replace(gwConf, "listen: 127.0.0.1:9878", "listen: 127.0.0.1:0", 1)
	gw := startCommand(t, "run", "-config", write("gateway.yaml", gwConf))
	base := "http://" + gw.await(t, "the gateway's HTTP address", regexp.MustCompile(`msg="http listening".* addr=(\S+)`))[1]

	var bk struct {
		Asks [][2]any `json:"asks"`
	}
	waitFor(t, "a book with asks from the simulator's feed", func() bool {
		_, body := get(t, base+"/api/v1/book/601318.SH?depth=1")
		return json.Unmarshal(body, &bk) == nil && len(bk.Asks) > 0
	})
	v, err := auth.New(*local.Auth)
	if err != nil {
		t.Fatal(err)
	}
	token, err := v.IssueFor("trader", []string{"A1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := mdclient.Dial(ctx, "ws"+base[4:]+"/ws", mdclient.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait := func(what string, cond func(m mdclient.Message) bool) mdclient.Message {
		t.Helper()
		for {
			msgs, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			for _, m := range msgs {
				if m.Type == "error" {
					t.Fatalf("waiting for %s: error %s: %s", what, m.Code, m.Msg)
				}
				if cond(m) {
					return m
				}
			}
		}
	}
	for _, req := range []map[string]any{
		{"op": "auth", "token": token},
		{"op": "subscribe", "channel": "orders", "accounts": []string{"A1"}},
	} {
		if err := c.Send(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	wait("the orders subscription", func(m mdclient.Message) bool { return m.Type == "subscribed" })
	// A buy 0.50 above the best ask crosses the simulator's book: it fills.
	order := map[string]any{"op": "order.new", "clOrdId": "two-proc-1", "account": "A1", "symbol": "601318.SH", "side": "buy",
		"type": "limit", "price": addCents(t, bk.Asks[0][0].(string), 50), "qty": 100}
	if err := c.Send(ctx, order); err != nil {
		t.Fatal(err)
	}
	wait("accepted", func(m mdclient.Message) bool { return m.Type == "accepted" && m.ClOrdID == "two-proc-1" })
	filled := wait("the fill from the simulator", func(m mdclient.Message) bool {
		return m.Type == "exec" && m.ClOrdID == "two-proc-1" && m.Status == "filled"
	})
	if filled.CumQty != 100 {
		t.Errorf("fill %+v", filled)
	}
	c.Close()
	gw.stop(t)
	simProc.stop(t)
}
