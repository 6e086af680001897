package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"sgw/configs"
	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/system"
)

// The monitoring that ships (deploy/): the Grafana dashboard and the
// Prometheus alert rules. Every metric they name must exist on a running
// gateway, or a panel stays empty and an alert never fires.
const (
	dashboardFile = "deploy/grafana/gateway-dashboard.json"
	alertsFile    = "deploy/prometheus/alerts.yml"
	alertTestFile = "deploy/prometheus/alerts_test.yml"
)

// operatorDocs are the documents an operator watches the gateway by: every
// metric they name must exist too.
var operatorDocs = []string{"README.md", "docs/OPERATIONS.md"}

// docMetric matches a metric name in a document's text.
var docMetric = regexp.MustCompile(`\bgateway_[a-z0-9_]*[a-z0-9]\b`)

// TestMonitoringMetricsExist starts the demo gateway and the clustered
// demo (three Raft nodes and a market-data edge, for gateway_cluster_* and
// gateway_mdbus_*), scrapes every /metrics, and checks that each metric
// the dashboard's queries, the alert rules' expressions and the operator
// documents (operatorDocs) name is exported by one of them, and that the
// exported names follow the Prometheus conventions.
func TestMonitoringMetricsExist(t *testing.T) {
	refs := map[string][]string{} // metric name -> where it is referenced
	for where, exprs := range map[string][]string{dashboardFile: dashboardExprs(t), alertsFile: alertExprs(t)} {
		if len(exprs) == 0 {
			t.Fatalf("%s: no expressions found", where)
		}
		for _, e := range exprs {
			names := promqlMetrics(e)
			if len(names) == 0 {
				t.Errorf("%s: no metric in %q", where, e)
			}
			for _, n := range names {
				refs[n] = append(refs[n], where)
			}
		}
	}

	for _, doc := range operatorDocs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		names := docMetric.FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Fatalf("%s: no metric named", doc)
		}
		for _, n := range names {
			refs[n] = append(refs[n], doc)
		}
	}

	// One process holds one demo at a time (quickfix keeps a process-wide
	// registry of sessions): the single gateway first, then the cluster.
	fams := map[string]string{}
	scrape := func(t *testing.T, c *http.Client, u, token string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s/metrics: %v", u, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s/metrics: %d %v %s", u, resp.StatusCode, err, body)
		}
		for n, typ := range metricFamilies(body) {
			fams[n] = typ
		}
	}
	var missing []string
	complete := func() bool {
		missing = missing[:0]
		for n := range refs {
			if !exported(fams, n) {
				missing = append(missing, n)
			}
		}
		return len(missing) == 0
	}
	t.Run("demo", func(t *testing.T) {
		// The demo configuration with TLS on the HTTP listener (the
		// certificate's expiry is a metric). Every series exists from
		// the start: one scrape once ready.
		cfg, err := configs.LoadDemo()
		if err != nil {
			t.Fatal(err)
		}
		pki := netsectest.NewPKI(t, "monitoring")
		pair := pki.Server("gateway")
		cfg.Gateway.HTTP = "127.0.0.1:0"
		cfg.Gateway.TLS = &netsec.ServerTLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile}
		d, err := system.NewDemo(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("demo: %v", err)
			}
		})
		tr := &http.Transport{TLSClientConfig: pki.ClientConfig(tls.VersionTLS13, tls.VersionTLS13)}
		t.Cleanup(tr.CloseIdleConnections)
		c := &http.Client{Transport: tr}
		waitFor(t, "/readyz", func() bool {
			resp, err := c.Get(d.BaseURL + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		scrape(t, c, d.BaseURL, d.OperatorToken)
	})
	t.Run("cluster", func(t *testing.T) {
		nodes, ops := startDemoClusterOps(t)
		// A node's cluster series appear once it started: scrape until
		// every name is there, or report the missing.
		deadline := time.Now().Add(60 * time.Second)
		for {
			for _, u := range nodes {
				scrape(t, http.DefaultClient, u, ops)
			}
			if complete() || time.Now().After(deadline) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	complete()
	sort.Strings(missing)
	for _, n := range missing {
		t.Errorf("%s is referenced by %s but no gateway exports it", n, strings.Join(slices.Compact(refs[n]), ", "))
	}

	t.Run("conventions", func(t *testing.T) {
		for n, typ := range fams {
			switch {
			case strings.HasPrefix(n, "go_"), strings.HasPrefix(n, "process_"), strings.HasPrefix(n, "promhttp_"):
				continue // the Go collector's, named by client_golang
			case !strings.HasPrefix(n, "gateway_"):
				t.Errorf("%s: not under the gateway_ prefix", n)
			case typ == "counter" && !strings.HasSuffix(n, "_total"):
				t.Errorf("%s: a counter whose name does not end in _total", n)
			case typ != "counter" && strings.HasSuffix(n, "_total"):
				t.Errorf("%s: a %s whose name ends in _total", n, typ)
			case nonBaseUnit.MatchString(n):
				t.Errorf("%s: not in base units (seconds, bytes)", n)
			case typ == "histogram" && !strings.HasSuffix(n, "_seconds") && !strings.HasSuffix(n, "_bytes"):
				t.Errorf("%s: a histogram without its unit (_seconds, _bytes)", n)
			}
		}
	})
}

// nonBaseUnit matches metric names in units other than seconds and bytes.
var nonBaseUnit = regexp.MustCompile(`_(milliseconds|microseconds|nanoseconds|millis|micros|nanos|ms|us|ns|minutes|hours|days|kilobytes|megabytes|kb|mb|bits|percent)(_|$)`)

// exported reports whether name is a family of fams, or the _bucket, _sum
// or _count series of a histogram (or summary) family.
func exported(fams map[string]string, name string) bool {
	if _, ok := fams[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		if typ := fams[base]; typ == "histogram" || (typ == "summary" && suffix != "_bucket") {
			return true
		}
	}
	return false
}

// metricFamilies returns the families of a text exposition, name to type,
// from its # TYPE lines.
func metricFamilies(body []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	return out
}

// dashboardExprs returns every PromQL query of the dashboard: the panels'
// targets (rows' nested panels too) and the template variables' queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatalf("%s: %v", dashboardFile, err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("%s: panel %q has a target without expr", dashboardFile, p.Title)
				}
				out = append(out, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			// label_values(metric, label): the metric.
			m := regexp.MustCompile(`^label_values\(\s*([^,]+),`).FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("%s: template query %q is not label_values(metric, label)", dashboardFile, v.Definition)
				continue
			}
			out = append(out, m[1])
		}
	}
	return out
}

// alertRule is one rule of the alert rules.
type alertRule struct {
	Alert  string            `yaml:"alert"`
	Expr   string            `yaml:"expr"`
	Labels map[string]string `yaml:"labels"`
}

// alertRules returns every rule of the alert rules, checking that each
// has a known severity.
func alertRules(t *testing.T) []alertRule {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: alert %s: severity %q, want critical, warning or info", alertsFile, r.Alert, s)
			}
			out = append(out, r)
		}
	}
	return out
}

// alertExprs returns the expressions of every rule of the alert rules.
func alertExprs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range alertRules(t) {
		out = append(out, r.Expr)
	}
	return out
}

// TestAlertsDocumented: docs/OPERATIONS.md's table of alerts lists every
// rule of the alert rules with its severity, and no other; and each
// critical one has its "what to do" entry (a bold "**Name.**" item, or
// "**A / B.**" for two).
func TestAlertsDocumented(t *testing.T) {
	rules := map[string]string{} // alert -> severity
	for _, r := range alertRules(t) {
		rules[r.Alert] = r.Labels["severity"]
	}
	doc, err := os.ReadFile("docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(\\w+)` \\| (\\w+) \\|").FindAllStringSubmatch(string(doc), -1) {
		table[m[1]] = m[2]
	}
	todo := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^- \*\*([A-Za-z /]+)\.\*\*`).FindAllStringSubmatch(string(doc), -1) {
		for _, n := range strings.Split(m[1], " / ") {
			todo[n] = true
		}
	}
	for a, sev := range rules {
		switch got, ok := table[a]; {
		case !ok:
			t.Errorf("alert %s (%s) is not in docs/OPERATIONS.md's table", a, sev)
		case got != sev:
			t.Errorf("alert %s: docs/OPERATIONS.md says %s, %s says %s", a, got, alertsFile, sev)
		}
		if sev == "critical" && !todo[a] {
			t.Errorf("critical alert %s has no \"what to do\" entry in docs/OPERATIONS.md", a)
		}
	}
	for a := range table {
		if _, ok := rules[a]; !ok {
			t.Errorf("docs/OPERATIONS.md lists alert %s, which %s lacks", a, alertsFile)
		}
	}
}

var (
	promqlStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlVars     = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promqlIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "atan2": true}
)

// promqlMetrics returns the metric names a PromQL expression (with
// Grafana variables) selects: the identifiers left once strings, label
// matchers, ranges, grouping labels and variables are removed, other than
// keywords, function names (followed by a parenthesis) and the letters of
// numbers and durations.
func promqlMetrics(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	s = promqlVars.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		id := s[loc[0]:loc[1]]
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // 5m, 1e3, 0.5e-3
		}
		if promqlKeywords[strings.ToLower(id)] || strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") {
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func TestPromQLMetrics(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{name: "selector", expr: `gateway_feed_source_up == 0`, want: []string{"gateway_feed_source_up"}},
		{name: "matchers and grouping", expr: `max by (instance, feed) (gateway_feed_source_up{instance=~"$instance", feed!="x"}) == 0`,
			want: []string{"gateway_feed_source_up"}},
		{name: "histogram quantile", expr: `histogram_quantile(0.99, sum by (le) (rate(gateway_journal_fsync_seconds_bucket[5m]))) > 0.05`,
			want: []string{"gateway_journal_fsync_seconds_bucket"}},
		{name: "set operators and on", expr: `(a_metric == 0 and max_over_time(a_metric[15m]) == 1) unless on (instance) b_metric == 0`,
			want: []string{"a_metric", "b_metric"}},
		{name: "offset and grafana interval", expr: `rate(c_total[$__rate_interval]) > 3 * rate(c_total[1h] offset 5m)`, want: []string{"c_total"}},
		{name: "numbers", expr: `x_seconds - time() < 7 * 86400 + 1e3`, want: []string{"x_seconds"}},
		{name: "label string", expr: `y{account="gateway_not_a_metric"} == 1`, want: []string{"y"}},
		{name: "group_left", expr: `a * on (instance) group_left (node) b`, want: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := promqlMetrics(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("promqlMetrics(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}

// TestPromtoolRules checks the alert rules with Prometheus's own promtool
// (Debian's prometheus package): syntax and expressions, then the unit
// tests of alerts_test.yml. Skipped without promtool, failed under CI=true.
func TestPromtoolRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		msg := "promtool not found on $PATH (install it with: apt-get install -y prometheus)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, args := range [][]string{{"check", "rules", alertsFile}, {"test", "rules", alertTestFile}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		out, err := exec.CommandContext(ctx, promtool, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// startDemoClusterOps runs `gateway demo -cluster 3` until the test ends
// and returns the base URLs of its nodes and its edge and the operator
// token, once every node answers /readyz and one of them leads.
func startDemoClusterOps(t *testing.T) (nodes map[string]string, ops string) {
	t.Helper()
	nodes, _, ops = startDemoCluster(t)
	waitFor(t, "a leader and every node ready", func() bool {
		leaders := 0
		for _, u := range nodes {
			code, body := get(t, u+"/readyz")
			if code != http.StatusOK {
				return false
			}
			var r struct {
				Role string `json:"role"`
			}
			if json.Unmarshal(body, &r) == nil && r.Role == "leader" {
				leaders++
			}
		}
		return leaders == 1
	})
	return nodes, ops
}
