package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestBenchDeviceModelUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"needs --embedded", []string{"--device-model", "hdd"}, "--device-model needs --embedded"},
		{"unknown preset", []string{"--embedded", dir, "--device-model", "tape"}, "unknown preset"},
		{"unknown key", []string{"--embedded", dir, "--device-model", "hdd:heads=2"}, "unknown key"},
		{"figure out of range", []string{"--embedded", dir, "--device-model", "hdd:rpm=0"}, "rpm 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := cliRun(t, "", append([]string{"bench", "--ops", "1"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q (stdout %q); want usage error mentioning %q", code, errOut, out, tc.want)
			}
		})
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Fatalf("a refused run created %d entries in the data directory", len(names))
	}
}

// TestBenchDeviceModelEmbedded runs an embedded bench on a fast modelled
// head with no caches: every GET must reach the head, the header and the
// JSON name the model, and the report counts the head's work.
func TestBenchDeviceModelEmbedded(t *testing.T) {
	noCaches := filepath.Join(t.TempDir(), "strata.toml")
	if err := os.WriteFile(noCaches, []byte("ram_cache_size = \"0\"\nssd_cache_size = \"0\"\nvolume_size = \"64MiB\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A head fast enough for a unit test: ~70 µs per random request.
	const spec = "hdd:seek=20us,settle=10us,rpm=100000,mbps=10000,span=64MiB"
	jsonPath := filepath.Join(t.TempDir(), "bench.json")
	code, out, errOut := cliRun(t, "", "bench", "--embedded", filepath.Join(t.TempDir(), "d"), "--config", noCaches,
		"--device-model", spec, "--verify", "--size", "4KiB", "--keys", "50", "--read-ratio", "0.8",
		"--ops", "200", "--duration", "1m", "--concurrency", "4", "--seed", "5", "--json", jsonPath)
	if code != exitOK {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, " device-model=hdd:seek=20µs,settle=10µs,rpm=100000,mbps=10000,span=64MiB,") {
		t.Errorf("header does not name the model:\n%s", out)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var res benchResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	checkAgainstDoc(t, readBenchJSONDoc(t), "", generic) // config.device_model is documented
	if !strings.HasPrefix(res.Config.DeviceModel, "hdd:seek=20µs,") {
		t.Errorf("JSON config.device_model = %q", res.Config.DeviceModel)
	}
	m := regexp.MustCompile(`device model hdd: head busy .*: (\d+) reads \(.*\), (\d+) writes .*, (\d+) syncs`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no device model report in:\n%s", out)
	}
	reads, _ := strconv.ParseInt(m[1], 10, 64)
	writes, _ := strconv.ParseInt(m[2], 10, 64)
	syncs, _ := strconv.ParseInt(m[3], 10, 64)
	// Concurrent misses for one key share a read, so a few GETs may ride
	// on another's; with no caches nothing else serves them.
	if gets := res.Read.Ops; reads < gets/2 || writes == 0 || syncs == 0 {
		t.Fatalf("head saw %d reads, %d writes, %d syncs for %d GETs and %d PUTs (+50 prefill): the HDD tier did not run on the model",
			reads, writes, syncs, gets, res.Write.Ops)
	}
}
