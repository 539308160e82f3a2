package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The operator's observability files (docs/operations.md, Metrics).
const (
	dashboardPath  = "../../docs/grafana-dashboard.json"
	alertsPath     = "../../docs/prometheus-alerts.yml"
	alertTestsPath = "../../docs/prometheus-alerts.test.yml"
	operationsPath = "../../docs/operations.md"
)

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	Title      string           `json:"title"`
	UID        string           `json:"uid"`
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// TestDashboardShape: the dashboard is JSON Grafana imports: a uid, unique
// panel ids, panels inside the 24-column grid, each query panel on the
// ${datasource} variable with at least one query, unique refIds.
func TestDashboardShape(t *testing.T) {
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Fatal("dashboard without title or uid")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["instance"] {
		t.Fatalf("template variables %v, want datasource and instance", vars)
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource is not ${datasource}", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || refs[q.RefID] {
				t.Errorf("panel %q: empty query or refId %q used twice", p.Title, q.RefID)
			}
			refs[q.RefID] = true
			queries++
		}
	}
	if queries < 20 {
		t.Errorf("only %d queries", queries)
	}
}

// promtool runs promtool, skipping when it is not installed.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Skip("promtool not on PATH (Debian package prometheus): alerting rules not checked")
	}
	cmd := exec.CommandContext(t.Context(), "promtool", args...)
	cmd.Dir = "../../docs"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAlertRulesCheck: `promtool check rules` accepts the rules.
func TestAlertRulesCheck(t *testing.T) {
	promtool(t, "check", "rules", "prometheus-alerts.yml")
}

// TestAlertRulesFire: `promtool test rules` runs the alert unit tests
// (docs/prometheus-alerts.test.yml): each alert fires on the series that
// should fire it, with its labels and annotations, and not before.
func TestAlertRulesFire(t *testing.T) {
	promtool(t, "test", "rules", "prometheus-alerts.test.yml")
}

// metricRef finds the metric names a query or rule uses (the families a
// node exports: strata_, and the Go client's process_ and go_).
var metricRef = regexp.MustCompile(`\b(?:strata|process|go)_[a-z0-9_]+`)

// usedMetrics is every metric name the dashboard and the rules use.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{} // name -> where
	for _, p := range readDashboard(t).Panels {
		for _, q := range p.Targets {
			for _, m := range metricRef.FindAllString(q.Expr, -1) {
				used[m] = append(used[m], "dashboard panel "+p.Title)
			}
		}
	}
	rules, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(rules)) {
		if e, ok := strings.CutPrefix(strings.TrimSpace(line), "expr:"); ok {
			for _, m := range metricRef.FindAllString(e, -1) {
				used[m] = append(used[m], "alert rule: "+strings.TrimSpace(e))
			}
		}
	}
	return used
}

// scrapeNames is every sample name on a /metrics page.
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// TestE2EObservabilityNamesExist: every metric the dashboard and the
// alerting rules use is on a real node's /metrics, so neither can drift
// from what the node exports: the union of a node alone with an SSD cache
// after a PUT and a GET, and a cluster node that took a write while its
// peer was down (so that per-target hint series exist).
func TestE2EObservabilityNamesExist(t *testing.T) {
	alone := startNode(t, nodeOptions{}) // killed at cleanup
	for _, method := range []string{http.MethodPut, http.MethodGet} {
		req, err := http.NewRequestWithContext(t.Context(), method, alone.base+"/blobs/observed", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodGet {
			req.Body, req.ContentLength = nil, 0
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %s", method, resp.Status)
		}
	}
	have := scrapeNames(t, alone.base+"/metrics")

	c := newTestCluster(t, clusterOptions{nodes: 2, replicas: 2, writeQuorum: 1, readQuorum: 1})
	n, peer := c.nodes[0], c.nodes[1]
	if err := peer.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-peer.done
	c.put(n, "observed", []byte("hello")) // W=1: n alone, and a hint for peer
	c.eventually(30*time.Second, "a pending hint on /metrics", func() error {
		names := scrapeNames(t, n.admin+"/metrics")
		if !names["strata_hints_pending"] {
			return errors.New("no strata_hints_pending series yet")
		}
		for name := range names {
			have[name] = true
		}
		return nil
	})
	used := usedMetrics(t)
	if len(used) < 20 {
		t.Fatalf("only %d metric names found in the dashboard and rules: is the extraction broken?", len(used))
	}
	var missing []string
	for name, where := range used {
		if !have[name] {
			missing = append(missing, name+" (in "+where[0]+")")
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("metrics used but not on the node's /metrics:\n%s", strings.Join(missing, "\n"))
	}
}

// docLink is a reference to a section of the runbook.
var docLink = regexp.MustCompile(`docs/operations\.md#([a-z0-9-]+)`)

// TestRunbookLinksResolve: every docs/operations.md#section the alerts,
// their tests and the dashboard point at is a heading of the runbook.
func TestRunbookLinksResolve(t *testing.T) {
	doc, err := os.ReadFile(operationsPath)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for line := range strings.Lines(string(doc)) {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			anchors[githubAnchor(strings.TrimLeft(h, "#"))] = true
		}
	}
	links := 0
	for _, path := range []string{alertsPath, alertTestsPath, dashboardPath} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range docLink.FindAllStringSubmatch(string(data), -1) {
			links++
			if !anchors[m[1]] {
				t.Errorf("%s links docs/operations.md#%s: no such heading", path, m[1])
			}
		}
	}
	if links == 0 {
		t.Fatal("no runbook links found")
	}
}

// githubAnchor is the anchor GitHub gives a Markdown heading: lower case,
// spaces to hyphens, punctuation other than hyphens dropped.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}
