package metrics

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fullMetrics returns a Metrics with every source watched, as a server
// with a database, Redis and a waiting room has it.
func fullMetrics() *Metrics {
	m := New()
	m.WatchHasher(fakeHasher{})
	m.WatchStreams(func() int { return 0 })
	m.WatchBuildInfo("dev", "unknown")
	m.WatchDBPools(func() map[string]sql.DBStats { return nil })
	m.WatchRedisCacheErrors(func() uint64 { return 0 })
	m.WatchOnSale(OnSaleConfig{})
	return m
}

// selectorRE finds a metric name, optionally followed by label matchers.
var selectorRE = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_:])((?:boxoffice|go|process|promhttp)_[a-zA-Z0-9_]+)(\{)?`)

// matcherRE matches one label matcher at the start of its input.
var matcherRE = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*,?`)

// checkQueries reports (to errorf) every metric the text names that the
// server does not export, and every label matcher on a label the metric
// does not have. It returns how many metric names it checked.
func checkQueries(errorf func(string, ...any), where, text string, families map[string][]string) (names int) {
	for _, loc := range selectorRE.FindAllStringSubmatchIndex(text, -1) {
		name := text[loc[2]:loc[3]]
		labels, ok := families[name]
		base := name
		if !ok {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, found := strings.CutSuffix(name, suffix); found {
					if labels, ok = families[b]; ok {
						base = b
						break
					}
				}
			}
		}
		if !ok {
			errorf("%s: %s is not a metric the server exports", where, name)
			continue
		}
		names++
		if loc[4] < 0 {
			continue
		}
		allowed := append([]string{"job", "instance", "__name__"}, labels...)
		if base != name && strings.HasSuffix(name, "_bucket") {
			allowed = append(allowed, "le")
		}
		rest := text[loc[5]:]
		for {
			mm := matcherRE.FindStringSubmatch(rest)
			if mm == nil {
				break
			}
			if !slices.Contains(allowed, mm[1]) {
				errorf("%s: %s has no label %q (it has %v)", where, name, mm[1], labels)
			}
			rest = rest[len(mm[0]):]
		}
		if !strings.HasPrefix(strings.TrimSpace(rest), "}") {
			errorf("%s: cannot parse the matchers of %s: %.60q", where, name, rest)
		}
	}
	return names
}

// exprs returns every PromQL query of a Grafana dashboard: panel targets
// and template variable queries.
func exprs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "definition" || k == "query") {
				out = append(out, s)
				continue
			}
			out = append(out, exprs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, exprs(x)...)
		}
	}
	return out
}

func TestDashboardQueriesNameExportedMetrics(t *testing.T) {
	families := fullMetrics().families()
	paths, _ := filepath.Glob("../../deploy/grafana/*.json")
	if len(paths) == 0 {
		t.Fatal("no dashboards in deploy/grafana")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		qs := exprs(d)
		names := 0
		for _, q := range qs {
			names += checkQueries(t.Errorf, filepath.Base(p), q, families)
		}
		if len(qs) < 30 || names < 50 {
			t.Errorf("%s: only %d queries naming %d metrics; did the parse miss them?", p, len(qs), names)
		}
		// Every panel has a unique id and a title.
		ids := map[float64]bool{}
		for _, x := range d["panels"].([]any) {
			pn := x.(map[string]any)
			id, _ := pn["id"].(float64)
			if ids[id] || pn["title"] == "" {
				t.Errorf("%s: panel %v (%v) has a duplicate id or no title", p, id, pn["title"])
			}
			ids[id] = true
		}
	}
}

func TestAlertRulesNameExportedMetrics(t *testing.T) {
	families := fullMetrics().families()
	for _, p := range []string{"../../deploy/prometheus/boxoffice-rules.yml", "../../deploy/prometheus/boxoffice-rules.test.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := checkQueries(t.Errorf, filepath.Base(p), string(b), families); n < 20 {
			t.Errorf("%s names only %d metrics; did the parse miss them?", p, n)
		}
	}
}

func TestCheckQueriesCatchesMistakes(t *testing.T) {
	families := fullMetrics().families()
	check := func(q string) []string {
		var errs []string
		checkQueries(func(f string, args ...any) { errs = append(errs, fmt.Sprintf(f, args...)) }, "test", q, families)
		return errs
	}
	for _, bad := range []string{
		`rate(boxoffice_http_requests_total[5m])`,
		`boxoffice_http_request_duration_seconds_count{code="5xx"}`,
		`boxoffice_queue_waiting{tier="x"}`,
		`boxoffice_queue_waiting{event_id=~"$event" garbage}`,
	} {
		if errs := check(bad); len(errs) == 0 {
			t.Errorf("%s passed the check", bad)
		}
	}
	for _, good := range []string{
		`histogram_quantile(0.99, sum by (le) (rate(boxoffice_http_request_duration_seconds_bucket{job=~"$job", route!="/api/v1/events/{id}/queue/stream", le="0.5"}[5m])))`,
		`max by (event_id) (boxoffice_queue_waiting{event_id=~"$event"}) and go_goroutines`,
		`boxoffice_redis_errors_total{op="cache"}`,
	} {
		if errs := check(good); len(errs) > 0 {
			t.Errorf("%s failed the check: %v", good, errs)
		}
	}
}
