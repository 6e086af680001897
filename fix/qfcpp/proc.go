package qfcpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// dumpLines bounds the output shown for a failed test, per stream.
const dumpLines = 3000

// feed is an append-only list that wakes its readers on every append.
// Items are never modified once added, so the slices handed out by since
// may be read without the lock.
type feed[T any] struct {
	mu    sync.Mutex
	items []T
	wake  chan struct{} // closed by the next add; nil until someone waits
}

func (f *feed[T]) add(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, v)
	if f.wake != nil {
		close(f.wake)
		f.wake = nil
	}
}

// since returns the items from index i on and a channel closed by the next
// add.
func (f *feed[T]) since(i int) ([]T, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wake == nil {
		f.wake = make(chan struct{})
	}
	n := len(f.items)
	return f.items[i:n:n], f.wake
}

// await passes each item from index from on to match, in order, until
// match returns true, and returns that item. It waits for more until ctx
// ends (its error) or stop is closed (errStopped, after a last look).
// stop may be nil.
func (f *feed[T]) await(ctx context.Context, from int, stop <-chan struct{}, match func(T) bool) (T, error) {
	pos := from
	look := func() (T, bool, <-chan struct{}) {
		items, wake := f.since(pos)
		for _, v := range items {
			pos++
			if match(v) {
				return v, true, wake
			}
		}
		var zero T
		return zero, false, wake
	}
	for {
		v, ok, wake := look()
		if ok {
			return v, nil
		}
		select {
		case <-wake:
		case <-stop:
			if v, ok, _ := look(); ok {
				return v, nil
			}
			return v, errStopped
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}

func (f *feed[T]) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.items)
}

// process is one peer executable and its runs: Restart starts a new run on
// the same settings, port and store. What every run printed is kept for
// Await and for the log of a failed test.
type process struct {
	name string // for messages: "executor", "ordermatch" or "initiator"
	bin  string
	args []string
	dir  string   // working directory: settings, store, logs
	logs []string // glob patterns, under dir, of log files to show for a failed test

	out  feed[string] // stdout lines of every run
	errs feed[string] // stderr lines of every run

	mu     sync.Mutex // held across start and kill, so they never overlap
	cur    *run
	starts []int // index in out of the first line of each run
}

// run is one execution of a process.
type run struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	from  int           // index in out of its first line
	done  chan struct{} // closed once it exited and all its output is in
	err   error         // how it exited, set before done is closed
}

// start starts a new run. mu must be held and the previous run, if any,
// must have ended.
func (p *process) start() (*run, error) {
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	bindToParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	r := &run{cmd: cmd, stdin: stdin, from: p.out.len(), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qfcpp: starting %s: %w", p.name, err)
	}
	p.cur = r
	p.starts = append(p.starts, r.from)
	var wg sync.WaitGroup
	wg.Go(func() { readLines(stdout, p.out.add) })
	wg.Go(func() { readLines(stderr, p.errs.add) })
	go func() {
		wg.Wait() // Wait closes the pipes: read them to the end first
		r.err = cmd.Wait()
		close(r.done)
	}()
	return r, nil
}

// readLines passes each line of r to add, without its line ending.
func readLines(r io.Reader, add func(string)) {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			add(strings.TrimRight(line, "\r\n"))
		}
		if err != nil {
			return
		}
	}
}

// current returns the current run (nil before the first).
func (p *process) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// kill kills the current run, if it still runs, and waits until it has
// exited. It is safe from any goroutine.
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.killLocked()
}

func (p *process) killLocked() {
	r := p.cur
	if r == nil {
		return
	}
	_ = r.cmd.Process.Kill() // fails only if it already exited
	<-r.done
}

// write writes a line to the current run's standard input.
func (p *process) write(line string) error {
	r := p.current()
	if r == nil {
		return fmt.Errorf("qfcpp: %s is not running", p.name)
	}
	if _, err := io.WriteString(r.stdin, line+"\n"); err != nil {
		return fmt.Errorf("qfcpp: writing to %s: %w", p.name, err)
	}
	return nil
}

// await passes each stdout line of run r to visit, in order, from r's
// first line, until visit returns true. It returns an error if ctx ends or
// r exits first.
func (p *process) await(ctx context.Context, r *run, what string, visit func(line string) bool) error {
	_, err := p.out.await(ctx, r.from, r.done, visit)
	switch {
	case errors.Is(err, errStopped):
		return fmt.Errorf("qfcpp: waiting for %s: %w", what, p.exitErr(r))
	case err != nil:
		return fmt.Errorf("qfcpp: waiting for %s from %s: %w", what, p.name, err)
	}
	return nil
}

// exitErr describes how the ended run r exited, with its last words.
func (p *process) exitErr(r *run) error {
	last := func(f *feed[string]) string {
		lines, _ := f.since(0)
		if len(lines) > 3 {
			lines = lines[len(lines)-3:]
		}
		return strings.Join(lines, " / ")
	}
	return fmt.Errorf("%w: %s (%v); last output: %q; stderr: %q", ErrExited, p.name, r.err, last(&p.out), last(&p.errs))
}

// cleanup kills the process when tb ends and, if tb failed, logs what it
// printed and its log files.
func (p *process) cleanup(tb testing.TB) {
	tb.Cleanup(func() {
		p.kill()
		if tb.Failed() {
			p.dump(tb)
		}
	})
}

// dump logs the output of every run and the log files.
func (p *process) dump(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	starts := append([]int(nil), p.starts...)
	p.mu.Unlock()
	var b strings.Builder
	out, _ := p.out.since(0)
	fmt.Fprintf(&b, "%s in %s: %d runs; stdout:\n", p.name, p.dir, len(starts))
	first := max(0, len(out)-dumpLines)
	if first > 0 {
		fmt.Fprintf(&b, "[%d earlier lines left out]\n", first)
	}
	for i := first; i < len(out); i++ {
		for _, s := range starts {
			if s == i {
				fmt.Fprintf(&b, "---- run started\n")
			}
		}
		b.WriteString(strings.ReplaceAll(out[i], "\x01", "|"))
		b.WriteByte('\n')
	}
	if errs, _ := p.errs.since(0); len(errs) > 0 {
		b.WriteString("stderr:\n")
		for _, l := range errs[max(0, len(errs)-dumpLines):] {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	for _, pattern := range p.logs {
		files, _ := filepath.Glob(filepath.Join(p.dir, pattern))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			fmt.Fprintf(&b, "%s:\n%s\n", f, strings.ReplaceAll(string(data), "\x01", "|"))
		}
	}
	tb.Log(b.String())
}
