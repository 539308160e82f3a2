package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"strata/node/s3/sigv4"
)

// fakeS3 is just enough of an S3 endpoint for the bench's S3 target: every
// request verified by the node's own SigV4 verifier, path-style buckets
// and objects in memory, S3 XML errors.
type fakeS3 struct {
	v        *sigv4.Verifier
	mu       sync.Mutex
	buckets  map[string]bool
	objects  map[string][]byte // "bucket/key"
	payloads map[string]int    // PUT bodies by how they were signed: "unsigned", "sha256"
}

func newFakeS3(access, secret string) *fakeS3 {
	return &fakeS3{
		v: &sigv4.Verifier{Keys: func(k string) (sigv4.Key, bool) {
			return sigv4.Key{AccessKey: access, SecretKey: secret, Scope: sigv4.ScopeReadWrite}, k == access
		}},
		buckets: map[string]bool{}, objects: map[string][]byte{}, payloads: map[string]int{},
	}
}

func s3Fail(w http.ResponseWriter, status int, code string, err error) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%v</Message></Error>", code, err)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth, err := f.v.Verify(r)
	switch {
	case errors.Is(err, sigv4.ErrSignature):
		s3Fail(w, http.StatusForbidden, "SignatureDoesNotMatch", err)
		return
	case errors.Is(err, sigv4.ErrUnknownKey):
		s3Fail(w, http.StatusForbidden, "InvalidAccessKeyId", err)
		return
	case err != nil:
		s3Fail(w, http.StatusForbidden, "AccessDenied", err)
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	if key == "" {
		switch {
		case r.Method == http.MethodGet && r.URL.Query().Has("location"):
			if !f.buckets[bucket] {
				s3Fail(w, http.StatusNotFound, "NoSuchBucket", errors.New(bucket))
				return
			}
			fmt.Fprint(w, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>`)
		case r.Method == http.MethodPut:
			f.buckets[bucket] = true
		default:
			s3Fail(w, http.StatusNotImplemented, "NotImplemented", errors.New(r.Method))
		}
		return
	}
	if !f.buckets[bucket] {
		s3Fail(w, http.StatusNotFound, "NoSuchBucket", errors.New(bucket))
		return
	}
	name := bucket + "/" + key
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(auth.Body)
		if err != nil {
			s3Fail(w, http.StatusBadRequest, "BadDigest", err)
			return
		}
		if auth.ContentSHA256 == sigv4.UnsignedPayload {
			f.payloads["unsigned"]++
		} else {
			f.payloads["sha256"]++
		}
		f.objects[name] = body
	case http.MethodGet:
		b, ok := f.objects[name]
		if !ok {
			s3Fail(w, http.StatusNotFound, "NoSuchKey", errors.New(key))
			return
		}
		_, _ = w.Write(b)
	case http.MethodDelete:
		delete(f.objects, name)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Fail(w, http.StatusNotImplemented, "NotImplemented", errors.New(r.Method))
	}
}

// TestBenchS3 runs short benches through the S3 target against a fake
// endpoint that verifies every signature and payload hash: the bucket is
// created, every PUT is signed as --s3-payload says, every GET verifies,
// and a wrong secret fails the run at once with the S3 error code.
func TestBenchS3(t *testing.T) {
	const access, secret = "bench-access", "bench-secret-0123456789"
	for _, tc := range []struct {
		name        string
		args        []string
		wantPayload string
	}{
		{name: "unsigned payload, verified reads", args: []string{"--verify"}, wantPayload: "unsigned"},
		{name: "signed payload", args: []string{"--s3-payload", "signed"}, wantPayload: "sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeS3(access, secret)
			srv := httptest.NewServer(fake)
			defer srv.Close()
			jsonPath := filepath.Join(t.TempDir(), "bench.json")
			args := append([]string{"bench", "--addr", srv.URL, "--s3-bucket", "bench-bucket",
				"--s3-access-key", access, "--s3-secret-key", secret,
				"--size", "100B:2,70KiB:1", "--keys", "20", "--read-ratio", "0.5", "--ops", "200",
				"--duration", "1m", "--concurrency", "4", "--seed", "5", "--json", jsonPath}, tc.args...)
			code, out, errOut := cliRun(t, "", args...)
			if code != exitOK {
				t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
			}
			if !strings.Contains(out, "mode=s3 addr="+srv.URL+" bucket=bench-bucket") {
				t.Errorf("text output does not say the S3 target:\n%s", out)
			}
			b, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(access)) {
				t.Errorf("the JSON holds the key: %s", b)
			}
			var res benchResult
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			var raw any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			checkAgainstDoc(t, readBenchJSONDoc(t), "", raw)
			if res.Config.Mode != "s3" || res.Config.S3Bucket != "bench-bucket" || res.Config.S3Payload == "" {
				t.Errorf("config mode=%q s3_bucket=%q s3_payload=%q", res.Config.Mode, res.Config.S3Bucket, res.Config.S3Payload)
			}
			if res.Total.Ops != 200 || res.Total.Errors != 0 || res.Read.Ops == 0 || res.Write.Ops == 0 {
				t.Errorf("ops=%d errors=%d reads=%d writes=%d, want 200 mixed ops and no errors", res.Total.Ops, res.Total.Errors, res.Read.Ops, res.Write.Ops)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if !fake.buckets["bench-bucket"] {
				t.Error("the bucket was not created")
			}
			if len(fake.objects) != 20 {
				t.Errorf("%d objects stored, want the 20 keys", len(fake.objects))
			}
			for name := range fake.objects {
				if !strings.HasPrefix(name, "bench-bucket/bench/") {
					t.Errorf("object %q is not under the bucket and the key prefix", name)
				}
			}
			for mode, n := range fake.payloads {
				if mode != tc.wantPayload && n > 0 {
					t.Errorf("%d PUTs signed %s, want all %s", n, mode, tc.wantPayload)
				}
			}
			if fake.payloads[tc.wantPayload] == 0 {
				t.Errorf("no PUT signed %s: %v", tc.wantPayload, fake.payloads)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		fake := newFakeS3(access, secret)
		srv := httptest.NewServer(fake)
		defer srv.Close()
		code, out, errOut := cliRun(t, "", "bench", "--addr", srv.URL, "--s3-bucket", "b",
			"--s3-access-key", access, "--s3-secret-key", secret+"x", "--ops", "10", "--keys", "5")
		if code != exitError || !strings.Contains(errOut, "SignatureDoesNotMatch") {
			t.Errorf("exit %d, stderr %q; want exit %d naming SignatureDoesNotMatch\n%s", code, errOut, exitError, out)
		}
		if len(fake.buckets)+len(fake.objects) != 0 {
			t.Errorf("a refused run changed the endpoint: %v %v", fake.buckets, fake.objects)
		}
	})
}

// TestBenchS3Keys puts and gets keys that need escaping through the target
// directly: the path is escaped once and signed as sent, so the verifier
// accepts it and the endpoint sees the key as it was given.
func TestBenchS3Keys(t *testing.T) {
	fake := newFakeS3("k", "s")
	srv := httptest.NewServer(fake)
	defer srv.Close()
	for _, payload := range []string{s3PayloadUnsigned, s3PayloadSigned} {
		cfg := benchConfig{Addr: srv.URL, Concurrency: 1, S3Bucket: "b", S3Region: "us-east-1", S3Payload: payload}
		f := addS3BenchFlags(newFlagSet("bench", "", ""))
		*f.bucket, *f.accessKey, *f.secretKey, *f.payload = "b", "k", "s", payload
		if err := f.apply(&cfg, map[string]bool{}); err != nil {
			t.Fatal(err)
		}
		target, err := newS3Target(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := target.ready(ctx); err != nil {
			t.Fatal(err)
		}
		pool := newPayloadPool(4096, 1)
		for _, key := range []string{"plain", "dir/sub/x", "with space", "a+b=c&d", "100%", "ünï/日本", "~tilde_-.", "q?x#y", ""} {
			key = payload + "/" + key
			body := &payloadReader{pool: pool, off: 7, n: 3000}
			want, _ := io.ReadAll(&payloadReader{pool: pool, off: 7, n: 3000})
			if err := target.put(ctx, key, body, 3000, "application/octet-stream"); err != nil {
				t.Errorf("put %q: %v", key, err)
				continue
			}
			if got := fake.objects["b/"+key]; !bytes.Equal(got, want) {
				t.Errorf("put %q: endpoint holds %d bytes under %q, want the 3000 sent", key, len(got), "b/"+key)
			}
			var got bytes.Buffer
			if _, _, err := target.get(ctx, key, func(r io.Reader) (int64, error) { return io.Copy(&got, r) }); err != nil || !bytes.Equal(got.Bytes(), want) {
				t.Errorf("get %q: %v, %d bytes", key, err, got.Len())
			}
			if err := target.delete(ctx, key); err != nil {
				t.Errorf("delete %q: %v", key, err)
			}
			if _, _, err := target.get(ctx, key, func(r io.Reader) (int64, error) { return io.Copy(io.Discard, r) }); !isNotFound(err) || !strings.Contains(err.Error(), "NoSuchKey") {
				t.Errorf("get %q after delete: %v, want not found (NoSuchKey)", key, err)
			}
		}
		_ = target.close()
	}
}

func TestBenchS3Flags(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	keys := []string{"--s3-access-key", "a", "--s3-secret-key", "s"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"key without bucket", []string{"--s3-access-key", "a"}, "--s3-access-key needs --s3-bucket"},
		{"payload without bucket", []string{"--s3-payload", "signed"}, "--s3-payload needs --s3-bucket"},
		{"no keys", []string{"--s3-bucket", "b"}, "needs --s3-access-key and --s3-secret-key"},
		{"unknown payload", append([]string{"--s3-bucket", "b", "--s3-payload", "chunked"}, keys...), `--s3-payload "chunked" is unknown`},
		{"signed with verify", append([]string{"--s3-bucket", "b", "--s3-payload", "signed", "--verify"}, keys...), "does not work with --verify"},
		{"with embedded", append([]string{"--s3-bucket", "b", "--embedded", t.TempDir()}, keys...), "--s3-bucket and --embedded exclude each other"},
		{"with token", append([]string{"--s3-bucket", "b", "--token", "t"}, keys...), "--token is for the native API"},
		{"empty region", append([]string{"--s3-bucket", "b", "--s3-region", ""}, keys...), "--s3-region must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := cliRun(t, "", append([]string{"bench"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q", code, errOut, exitUsage, tc.want)
			}
		})
	}
}
