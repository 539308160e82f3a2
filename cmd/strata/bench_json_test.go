package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// documentedField is one row of docs/bench-json.md's tables.
type documentedField struct {
	path     string // e.g. "series[].read.p50_us", maps as "tier_reads.*"
	required bool
}

var docRow = regexp.MustCompile("^\\| `([^`]+)` \\| [^|]+ \\| (yes|no) \\|")

// readBenchJSONDoc parses the field tables of docs/bench-json.md, with the
// shared layouts (OP, SOP) expanded at each place they appear.
func readBenchJSONDoc(t *testing.T) map[string]documentedField {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "bench-json.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	expand := map[string][]string{
		"OP":  {"read", "write", "total", "scenario.phases[].read", "scenario.phases[].write"},
		"SOP": {"series[].read", "series[].write"},
	}
	fields := map[string]documentedField{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := docRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		head, rest, _ := strings.Cut(m[1], ".")
		paths := []string{m[1]}
		if prefixes, ok := expand[head]; ok {
			paths = nil
			for _, p := range prefixes {
				paths = append(paths, p+"."+rest)
			}
		}
		for _, p := range paths {
			fields[p] = documentedField{path: p, required: m[2] == "yes"}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fields) < 50 {
		t.Fatalf("read only %d fields from docs/bench-json.md; has its table layout changed?", len(fields))
	}
	return fields
}

// checkAgainstDoc walks a decoded JSON value: every field it holds must be
// documented, and every object must hold its documented required fields.
func checkAgainstDoc(t *testing.T, doc map[string]documentedField, path string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if _, isMap := doc[join(path, "*")]; isMap {
			for _, child := range v {
				checkAgainstDoc(t, doc, join(path, "*"), child)
			}
			return
		}
		for k, child := range v {
			p := join(path, k)
			if _, ok := doc[p]; !ok {
				t.Errorf("field %s is not documented in docs/bench-json.md", p)
				continue
			}
			checkAgainstDoc(t, doc, p, child)
		}
		for _, f := range doc {
			if f.required && parentPath(f.path) == path {
				if _, ok := v[f.path[len(path)+min(len(path), 1):]]; !ok {
					t.Errorf("required field %s is missing", f.path)
				}
			}
		}
	case []any:
		for _, e := range v {
			checkAgainstDoc(t, doc, path+"[]", e)
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return ""
	}
	return p[:i]
}

// TestBenchJSONSchema runs benches that between them fill every part of
// the document (a verification failure, a scenario, an open loop with not
// found reads) and holds their --json output to docs/bench-json.md: it
// decodes strictly into benchResult, has the current schema_version, and
// has every field documented and every required field present.
func TestBenchJSONSchema(t *testing.T) {
	doc := readBenchJSONDoc(t)
	corrupt, corruptAddr := newFakeNode(t)
	corrupt.corruptGets = true
	_, addr := newFakeNode(t)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "verify failures", args: []string{"--addr", corruptAddr, "--verify", "--keys", "5", "--ops", "50"}, wantCode: exitError},
		{name: "scenario", args: []string{"--addr", addr, "--scenario", "read-under-write", "--verify", "--read-keys", "10", "--read-size", "1KiB",
			"--write-size", "16KiB", "--write-concurrency", "1", "--read-concurrency", "2", "--rate", "500", "--duration", "200ms"}},
		{name: "open loop, not found", args: []string{"--addr", addr, "--no-prefill", "--key-prefix", "other/", "--read-ratio", "0.8",
			"--rate", "1000", "--warmup", "50ms", "--duration", "300ms"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := append([]string{"bench", "--size", "1KiB", "--concurrency", "2", "--duration", "1m", "--seed", "4", "--json", jsonPath}, tc.args...)
			if slices.Contains(tc.args, "--scenario") {
				args = append([]string{"bench", "--seed", "4", "--json", jsonPath}, tc.args...)
			}
			code, out, errOut := cliRun(t, "", args...)
			if code != tc.wantCode {
				t.Fatalf("bench: exit %d, want %d\n%s\n%s", code, tc.wantCode, out, errOut)
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			var res benchResult
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("strict decode: %v", err)
			}
			if res.SchemaVersion != benchSchemaVersion || benchSchemaVersion != 1 {
				t.Errorf("schema_version %d, want %d (docs/bench-json.md documents 1)", res.SchemaVersion, benchSchemaVersion)
			}
			var generic any
			if err := json.Unmarshal(b, &generic); err != nil {
				t.Fatal(err)
			}
			checkAgainstDoc(t, doc, "", generic)
			if len(res.Series) == 0 {
				t.Error("no series")
			}
		})
	}
}
