package loadtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// promSample is one sample of the gateway's Prometheus text exposition:
// the metric name, its labels as written ({a="b",...} or ""), its value.
type promSample struct {
	name, labels string
	value        float64
}

// errNoOperatorToken reports that the gateway's metrics cannot be read
// without an operator token (Config.OperatorToken).
var errNoOperatorToken = errors.New("loadtest: metrics: no operator token")

// scrapeMetrics reads the gateway's /metrics, an operator endpoint: it
// needs the target's operator token.
func scrapeMetrics(ctx context.Context, t *target) ([]promSample, error) {
	if t.ops == "" {
		return nil, errNoOperatorToken
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+t.ops)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadtest: metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadtest: metrics: %s", resp.Status)
	}
	var out []promSample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		out = append(out, promSample{name: name, labels: labels, value: v})
	}
	return out, sc.Err()
}

// metricSum adds up the samples named name (every label set).
func metricSum(samples []promSample, name string) float64 {
	var s float64
	for _, p := range samples {
		if p.name == name {
			s += p.value
		}
	}
	return s
}

// label returns the value of label key in labels ({a="b",...}).
func label(labels, key string) string {
	i := strings.Index(labels, key+`="`)
	if i < 0 {
		return ""
	}
	v := labels[i+len(key)+2:]
	if j := strings.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return v
}

// fixSessionsDown returns the upstream FIX sessions the gateway exports
// (gateway_fix_line_up) that have no line up; none when it exports none.
func fixSessionsDown(samples []promSample) []string {
	up := map[string]bool{}
	for _, p := range samples {
		if p.name == "gateway_fix_line_up" {
			s := label(p.labels, "session")
			up[s] = up[s] || p.value == 1
		}
	}
	var down []string
	for s, ok := range up {
		if !ok {
			down = append(down, s)
		}
	}
	return down
}

// waitFIXUp waits until every upstream FIX session the gateway exports is
// logged on over some line, so that orders do not wait for a logon.
func waitFIXUp(ctx context.Context, t *target, within time.Duration) error {
	if t.ops == "" {
		return nil // the gateway's metrics are not readable: orders wait for the logon instead
	}
	deadline := time.Now().Add(within)
	for {
		samples, err := scrapeMetrics(ctx, t)
		if err != nil {
			return err
		}
		down := fixSessionsDown(samples)
		if len(down) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loadtest: the gateway's upstream FIX sessions %v are not logged on after %v", down, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
