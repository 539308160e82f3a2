package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"strata/blockstore"
	"strata/node"
	"strata/node/nodetest"
	s3h "strata/node/s3"
	"strata/node/s3/s3test"
	"strata/node/s3/sigv4"
)

func TestPutGetMetadata(t *testing.T) {
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			n := s3test.Start(t, store(t))
			c := rwClient(t, n)
			ctx := context.Background()
			mustCreateBucket(t, c, "bkt")
			body := randomBytes(3<<20+17, 1) // several chunks in the tiered store
			expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			put, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bkt"), Key: aws.String("dir/obj name+ü"), Body: bytes.NewReader(body),
				ContentType: aws.String("application/x-test"), ContentEncoding: aws.String("identity"),
				ContentDisposition: aws.String(`attachment; filename="x"`), CacheControl: aws.String("max-age=60"),
				ContentLanguage: aws.String("fr"), Expires: aws.Time(expires),
				Metadata: map[string]string{"color": "blue", "Mixed-Case": "v 1"},
			})
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if want := `"` + md5Hex(body) + `"`; aws.ToString(put.ETag) != want {
				t.Fatalf("ETag %s, want %s", aws.ToString(put.ETag), want)
			}
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj name+ü")})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(get.Body)
			get.Body.Close()
			if !bytes.Equal(got, body) {
				t.Fatalf("GetObject: %d bytes back, want %d", len(got), len(body))
			}
			for _, out := range []struct {
				what                                string
				etag, ctype, enc, disp, cache, lang *string
				meta                                map[string]string
				length                              *int64
				exp                                 *string
			}{
				{"get", get.ETag, get.ContentType, get.ContentEncoding, get.ContentDisposition, get.CacheControl, get.ContentLanguage, get.Metadata, get.ContentLength, get.ExpiresString},
			} {
				if aws.ToString(out.etag) != aws.ToString(put.ETag) || aws.ToString(out.ctype) != "application/x-test" ||
					aws.ToString(out.enc) != "identity" || aws.ToString(out.disp) != `attachment; filename="x"` ||
					aws.ToString(out.cache) != "max-age=60" || aws.ToString(out.lang) != "fr" ||
					out.meta["color"] != "blue" || out.meta["mixed-case"] != "v 1" || aws.ToInt64(out.length) != int64(len(body)) {
					t.Fatalf("%s: headers %+v", out.what, out)
				}
				if e, err := time.Parse(time.RFC1123, aws.ToString(out.exp)); err != nil || !e.Equal(expires) {
					t.Fatalf("%s: Expires %q", out.what, aws.ToString(out.exp))
				}
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj name+ü")})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(head.ETag) != aws.ToString(put.ETag) || aws.ToInt64(head.ContentLength) != int64(len(body)) ||
				head.Metadata["color"] != "blue" || aws.ToString(head.CacheControl) != "max-age=60" || head.LastModified == nil {
				t.Fatalf("HeadObject: %+v", head)
			}
			// Ranges: inside, suffix, open-ended, across a chunk boundary.
			for _, tc := range []struct {
				rng        string
				first, end int
			}{
				{"bytes=0-9", 0, 10},
				{"bytes=-5", len(body) - 5, len(body)},
				{fmt.Sprintf("bytes=%d-", len(body)-100), len(body) - 100, len(body)},
				{"bytes=1048570-1048590", 1048570, 1048591},
			} {
				out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj name+ü"), Range: aws.String(tc.rng)})
				if err != nil {
					t.Fatalf("Range %s: %v", tc.rng, err)
				}
				b, _ := io.ReadAll(out.Body)
				out.Body.Close()
				if !bytes.Equal(b, body[tc.first:tc.end]) {
					t.Fatalf("Range %s: wrong bytes (%d)", tc.rng, len(b))
				}
				if want := fmt.Sprintf("bytes %d-%d/%d", tc.first, tc.end-1, len(body)); aws.ToString(out.ContentRange) != want {
					t.Fatalf("Range %s: Content-Range %q, want %q", tc.rng, aws.ToString(out.ContentRange), want)
				}
			}
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("dir/obj name+ü"), Range: aws.String(fmt.Sprintf("bytes=%d-", len(body)))})
			wantCode(t, err, "InvalidRange", 416)
		})
	}
}

func TestGetConditionsAndOverrides(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	put := mustPut(t, c, "bkt", "k", []byte("hello"))
	etag := aws.ToString(put.ETag)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	mod := *head.LastModified
	get := func(in *s3.GetObjectInput) error {
		in.Bucket, in.Key = aws.String("bkt"), aws.String("k")
		out, err := c.GetObject(ctx, in)
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	if err := get(&s3.GetObjectInput{IfMatch: aws.String(etag)}); err != nil {
		t.Fatalf("If-Match hit: %v", err)
	}
	wantCode(t, get(&s3.GetObjectInput{IfMatch: aws.String(`"0000"`)}), "PreconditionFailed", 412)
	wantCode(t, get(&s3.GetObjectInput{IfNoneMatch: aws.String(etag)}), "", 304)
	wantCode(t, get(&s3.GetObjectInput{IfModifiedSince: aws.Time(mod.Add(time.Hour))}), "", 304)
	wantCode(t, get(&s3.GetObjectInput{IfUnmodifiedSince: aws.Time(mod.Add(-time.Hour))}), "PreconditionFailed", 412)
	if err := get(&s3.GetObjectInput{IfModifiedSince: aws.Time(mod.Add(-time.Hour))}); err != nil {
		t.Fatalf("If-Modified-Since before: %v", err)
	}

	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
		ResponseContentType: aws.String("text/x-over"), ResponseContentDisposition: aws.String("inline"),
		ResponseCacheControl: aws.String("no-cache"), ResponseContentLanguage: aws.String("de")})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if aws.ToString(out.ContentType) != "text/x-over" || aws.ToString(out.ContentDisposition) != "inline" ||
		aws.ToString(out.CacheControl) != "no-cache" || aws.ToString(out.ContentLanguage) != "de" {
		t.Fatalf("overrides not applied: %+v", out)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey", 404)
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("missing")})
	wantCode(t, err, "", 404)

	// Conditional writes: If-None-Match "*" refuses to overwrite.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed", 412)
	if got := mustGet(t, c, "bkt", "k"); string(got) != "hello" {
		t.Fatalf("a refused conditional PUT changed the object: %q", got)
	}
}

func TestDeleteObjects(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	for i := range 5 {
		mustPut(t, c, "bkt", fmt.Sprintf("k%d", i), []byte("v"))
	}
	// DeleteObject of a missing key is a success, as in S3.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("never")}); err != nil {
		t.Fatalf("DeleteObject of a missing key: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k0")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("k1")}, {Key: aws.String("k2")}, {Key: aws.String("nope")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 3 || len(out.Errors) != 0 {
		t.Fatalf("DeleteObjects: %+v", out)
	}
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bkt"), Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String("k3")}, {Key: aws.String(strings.Repeat("x", 1100))}}, Quiet: aws.Bool(true),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 0 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "KeyTooLongError" {
		t.Fatalf("quiet DeleteObjects: %+v", out)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || aws.ToString(list.Contents[0].Key) != "k4" {
		t.Fatalf("left after deletes: %+v", list.Contents)
	}
}

func TestKeyTooLong(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	mustCreateBucket(t, c, "bkt")
	// "bkt/" + 1020 bytes is the longest blob key.
	mustPut(t, c, "bkt", strings.Repeat("k", 1020), []byte("v"))
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(strings.Repeat("k", 1021)), Body: strings.NewReader("v")})
	wantCode(t, err, "KeyTooLongError", 400)
}

func TestCopyObject(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "src")
	mustCreateBucket(t, c, "dst")
	body := randomBytes(100<<10, 2)
	const srcKey = "a dir/ü+%.bin"
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), Body: bytes.NewReader(body),
		ContentType: aws.String("image/x"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	source := "src/" + strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(srcKey, "%", "%25"), " ", "%20"), "+", "%2B")
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String(source)})
	if err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if aws.ToString(cp.CopyObjectResult.ETag) != aws.ToString(put.ETag) {
		t.Fatalf("copy ETag %s, source %s", aws.ToString(cp.CopyObjectResult.ETag), aws.ToString(put.ETag))
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	if err != nil || aws.ToString(head.ContentType) != "image/x" || head.Metadata["k"] != "v" {
		t.Fatalf("COPY directive kept no metadata: %+v, %v", head, err)
	}
	if got := mustGet(t, c, "dst", "copy"); !bytes.Equal(got, body) {
		t.Fatal("copy has other bytes")
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String(source),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/plain"), Metadata: map[string]string{"new": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2")})
	if err != nil || aws.ToString(head.ContentType) != "text/plain" || head.Metadata["new"] != "1" || head.Metadata["k"] != "" {
		t.Fatalf("REPLACE directive: %+v, %v", head, err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: aws.String(source), CopySourceIfMatch: aws.String(`"00"`)})
	wantCode(t, err, "PreconditionFailed", 412)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("dst/copy")})
	wantCode(t, err, "InvalidRequest", 400)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy4"), CopySource: aws.String("src/missing")})
	wantCode(t, err, "NoSuchKey", 404)
	// A read-only source key is enough for the source, not for the destination.
	ro := client(t, n, s3test.ReadKey, s3test.ReadSecret)
	_, err = ro.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy5"), CopySource: aws.String(source)})
	wantCode(t, err, "AccessDenied", 403)
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy5")}); httpStatus(err) != 404 {
		t.Fatalf("a refused copy stored something: %v", err)
	}
}

// optsStore records the PutOptions of each Put.
type optsStore struct {
	*nodetest.MemStore
	mu   sync.Mutex
	opts map[string]blockstore.PutOptions
}

func (s *optsStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts blockstore.PutOptions) (blockstore.Info, error) {
	s.mu.Lock()
	s.opts[key] = opts
	s.mu.Unlock()
	return s.MemStore.Put(ctx, key, r, size, opts)
}

// A PUT with Content-MD5 is hashed once: the verifier checks the body
// against it as it streams and the store keeps that digest (PutOptions.MD5)
// instead of hashing again; without one the store hashes (WantMD5). Either
// way the ETag is the content's MD5, and a wrong Content-MD5 stores nothing.
func TestContentMD5IsTheETagHashedOnce(t *testing.T) {
	st := &optsStore{MemStore: nodetest.NewMemStore(0), opts: map[string]blockstore.PutOptions{}}
	n := s3test.Start(t, s3test.Options{Store: st})
	c := rwClient(t, n)
	mustCreateBucket(t, c, "bkt")
	body := randomBytes(300<<10, 5)
	sum := md5.Sum(body)
	for _, tc := range []struct {
		name, contentMD5 string
		wantGiven        bool
	}{
		{"with", base64.StdEncoding.EncodeToString(sum[:]), true},
		{"without", "", false},
	} {
		in := &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String(tc.name), Body: bytes.NewReader(body)}
		if tc.contentMD5 != "" {
			in.ContentMD5 = aws.String(tc.contentMD5)
		}
		out, err := c.PutObject(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: PutObject: %v", tc.name, err)
		}
		if aws.ToString(out.ETag) != `"`+md5Hex(body)+`"` {
			t.Fatalf("%s: ETag %s", tc.name, aws.ToString(out.ETag))
		}
		st.mu.Lock()
		opts := st.opts["bkt/"+tc.name]
		st.mu.Unlock()
		if given := opts.MD5 != nil; given != tc.wantGiven || opts.WantMD5 == tc.wantGiven || (given && !bytes.Equal(opts.MD5, sum[:])) {
			t.Fatalf("%s: store asked for MD5 %x, WantMD5 %v", tc.name, opts.MD5, opts.WantMD5)
		}
	}
	other := md5.Sum([]byte("other"))
	_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("wrong"), Body: bytes.NewReader(body),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(other[:]))})
	wantCode(t, err, "BadDigest", 400)
	if _, err := st.Stat(context.Background(), "bkt/wrong"); err == nil {
		t.Fatal("a body failing its Content-MD5 was stored")
	}
}

// [s3] etag: under "md5" a single PUT's ETag is its content's MD5; under
// "version" the store hashes nothing (unless the client sent Content-MD5,
// which is verified and kept) and the ETag is the blob API's version ETag.
// Either ETag is what HEAD shows and what conditional GETs match. A copy
// of an object with a known MD5 keeps it without hashing again.
func TestETagModes(t *testing.T) {
	ctx := context.Background()
	body := randomBytes(200<<10, 9)
	sum := md5.Sum(body)
	for _, tc := range []struct {
		mode, contentMD5 string
		wantHash, isMD5  bool
	}{
		{s3h.ETagMD5, "", true, true},
		{s3h.ETagMD5, base64.StdEncoding.EncodeToString(sum[:]), false, true},
		{s3h.ETagVersion, "", false, false},
		{s3h.ETagVersion, base64.StdEncoding.EncodeToString(sum[:]), false, true},
	} {
		name := fmt.Sprintf("%s/content-md5=%v", tc.mode, tc.contentMD5 != "")
		st := &optsStore{MemStore: nodetest.NewMemStore(0), opts: map[string]blockstore.PutOptions{}}
		n := s3test.Start(t, s3test.Options{Store: st, Handler: func(o *s3h.Options) { o.ETag = tc.mode }})
		c := rwClient(t, n)
		mustCreateBucket(t, c, "bkt")
		in := &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: bytes.NewReader(body)}
		if tc.contentMD5 != "" {
			in.ContentMD5 = aws.String(tc.contentMD5)
		}
		out, err := c.PutObject(ctx, in)
		if err != nil {
			t.Fatalf("%s: PutObject: %v", name, err)
		}
		etag := aws.ToString(out.ETag)
		if isMD5 := etag == `"`+md5Hex(body)+`"`; isMD5 != tc.isMD5 {
			t.Fatalf("%s: ETag %s, want the content MD5: %v", name, etag, tc.isMD5)
		}
		st.mu.Lock()
		opts := st.opts["bkt/k"]
		st.mu.Unlock()
		if opts.WantMD5 != tc.wantHash {
			t.Fatalf("%s: store asked to hash: %v, want %v", name, opts.WantMD5, tc.wantHash)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
		if err != nil || aws.ToString(head.ETag) != etag {
			t.Fatalf("%s: HEAD ETag %s (%v), PUT answered %s", name, aws.ToString(head.ETag), err, etag)
		}
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfMatch: aws.String(etag)})
		if err != nil {
			t.Fatalf("%s: GET If-Match its ETag: %v", name, err)
		}
		got.Body.Close()
		_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), IfNoneMatch: aws.String(etag)})
		if httpStatus(err) != http.StatusNotModified {
			t.Fatalf("%s: GET If-None-Match its ETag: %v, want 304", name, err)
		}
		cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("bkt"), Key: aws.String("copy"), CopySource: aws.String("bkt/k")})
		if err != nil {
			t.Fatalf("%s: CopyObject: %v", name, err)
		}
		st.mu.Lock()
		copyOpts := st.opts["bkt/copy"]
		st.mu.Unlock()
		if tc.isMD5 && (aws.ToString(cp.CopyObjectResult.ETag) != `"`+md5Hex(body)+`"` || !bytes.Equal(copyOpts.MD5, sum[:])) {
			t.Fatalf("%s: copy of an object with an MD5: ETag %s, store given MD5 %x", name, aws.ToString(cp.CopyObjectResult.ETag), copyOpts.MD5)
		}
		if !tc.isMD5 && (copyOpts.WantMD5 || copyOpts.MD5 != nil) {
			t.Fatalf("%s: copy of an object without an MD5 hashed it", name)
		}
	}
	if _, err := s3h.New(s3h.Options{Store: nodetest.NewMemStore(0), Verifier: &sigv4.Verifier{}, Node: &node.Server{}, ETag: "sha1"}); err == nil {
		t.Fatal("s3.New accepted ETag \"sha1\"")
	}
}
