package node

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"strata/blockstore"
)

// The hand-built PUT answer is byte for byte what encoding/json and
// Info.ETag make of the same blob.
func TestPutAnswerMatchesEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		info blockstore.Info
	}{
		{"plain", blockstore.Info{Key: "photos/2024/a.jpg", Size: 1024, Version: 0x01a2354451480000, ModTime: time.Unix(1700000000, 123456789)}},
		{"escapes", blockstore.Info{Key: "a\"b\\c<d>&e\u2028\u2029\x7f\xff\x01\t\n", Size: 0, Version: 1, ModTime: time.Unix(0, 1)}},
		{"unicode", blockstore.Info{Key: "日本/ключ/🙂", Size: 5 << 30, Version: ^uint64(0), ModTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}},
		{"zero time", blockstore.Info{Key: "k", Size: 1, Version: 42}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkPutAnswer(t, tc.info)
		})
	}
}

func checkPutAnswer(t *testing.T, info blockstore.Info) {
	t.Helper()
	want, err := json.Marshal(blobJSONOf(info))
	if err != nil {
		t.Fatal(err)
	}
	if got := appendBlobJSON(nil, info); string(got) != string(want) {
		t.Fatalf("JSON\n got %s\nwant %s", got, want)
	}
	if got := string(appendETag(nil, info.Version)); got != info.ETag() {
		t.Fatalf("ETag %s, want %s", got, info.ETag())
	}
	w := httptest.NewRecorder()
	writePutAnswer(w, info)
	if w.Code != http.StatusCreated || w.Body.String() != string(want)+"\n" {
		t.Fatalf("answer %d %q", w.Code, w.Body)
	}
	h := w.Header()
	if h.Get("ETag") != info.ETag() || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", h)
	}
	if lm := h.Get("Last-Modified"); info.ModTime.IsZero() != (lm == "") || (lm != "" && lm != info.ModTime.UTC().Format(http.TimeFormat)) {
		t.Fatalf("Last-Modified %q for %v", lm, info.ModTime)
	}
}

func FuzzPutAnswerJSON(f *testing.F) {
	f.Add("k", int64(1), uint64(7), int64(1700000000123456789))
	f.Add("a\"<>&\u2028\xff\x00", int64(0), uint64(0), int64(0))
	f.Fuzz(func(t *testing.T, key string, size int64, version uint64, nanos int64) {
		checkPutAnswer(t, blockstore.Info{Key: key, Size: size, Version: version, ModTime: time.Unix(0, nanos)})
	})
}
