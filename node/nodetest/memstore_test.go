package nodetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"strings"
	"testing"

	"strata/blockstore"
)

func put(t *testing.T, m *MemStore, key, body string, opts blockstore.PutOptions) blockstore.Info {
	t.Helper()
	info, err := m.Put(context.Background(), key, strings.NewReader(body), int64(len(body)), opts)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return info
}

func TestMemStoreMetaAndMD5(t *testing.T) {
	m := NewMemStore(0)
	meta := map[string]string{"X-Amz-Meta-Color": "blue", "Content-Encoding": "gzip"}
	info := put(t, m, "a", "hello", blockstore.PutOptions{Meta: meta, WantMD5: true})
	want := md5.Sum([]byte("hello"))
	if !bytes.Equal(info.MD5, want[:]) {
		t.Fatalf("put md5 %x, want %x", info.MD5, want)
	}
	meta["X-Amz-Meta-Color"] = "red" // the store kept its own copy
	st, err := m.Stat(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if st.Meta["X-Amz-Meta-Color"] != "blue" || st.Meta["Content-Encoding"] != "gzip" || len(st.Meta) != 2 {
		t.Fatalf("stat meta %v", st.Meta)
	}
	if !bytes.Equal(st.MD5, want[:]) {
		t.Fatalf("stat md5 %x", st.MD5)
	}
	st.Meta["X-Amz-Meta-Color"] = "green"
	if st2, _ := m.Stat(context.Background(), "a"); st2.Meta["X-Amz-Meta-Color"] != "blue" {
		t.Fatalf("a caller's edit reached the store: %v", st2.Meta)
	}
	if info := put(t, m, "b", "x", blockstore.PutOptions{}); info.MD5 != nil || info.Meta != nil {
		t.Fatalf("no md5/meta asked, got %x %v", info.MD5, info.Meta)
	}
}

func TestMemStoreMetaRefused(t *testing.T) {
	m := NewMemStore(0)
	for _, meta := range []map[string]string{
		{"x-amz-meta-lower": "v"},
		{"X-Amz-Meta-A": "line\nbreak"},
		{"": "v"},
		{"X-Amz-Meta-Big": strings.Repeat("v", blockstore.MaxMetaBytes)},
	} {
		_, err := m.Put(context.Background(), "k", strings.NewReader("x"), 1, blockstore.PutOptions{Meta: meta})
		if !errors.Is(err, blockstore.ErrInvalidArgument) {
			t.Errorf("meta %q: err %v, want ErrInvalidArgument", meta, err)
		}
	}
	if m.Len() != 0 {
		t.Fatalf("a refused put stored something")
	}
}

func TestMemStoreCompose(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		parts   []string
		key     string
		opts    blockstore.ComposeOptions
		want    string
		wantErr error
	}{
		{name: "three parts", parts: []string{"p1", "p2", "p3"}, key: "obj", want: "aaabbc"},
		{name: "reordered", parts: []string{"p3", "p1"}, key: "obj", want: "caaa"},
		{name: "no parts", key: "obj", wantErr: blockstore.ErrInvalidArgument},
		{name: "twice", parts: []string{"p1", "p1"}, key: "obj", wantErr: blockstore.ErrInvalidArgument},
		{name: "missing", parts: []string{"p1", "nope"}, key: "obj", wantErr: blockstore.ErrNotFound},
		{name: "key is a part", parts: []string{"p1", "obj"}, key: "obj", wantErr: blockstore.ErrInvalidArgument},
		{name: "composed part", parts: []string{"p1", "composed"}, key: "obj", wantErr: blockstore.ErrInvalidArgument},
		{name: "bad md5", parts: []string{"p1"}, key: "obj", opts: blockstore.ComposeOptions{MD5: []byte{1}}, wantErr: blockstore.ErrInvalidArgument},
		{name: "bad meta", parts: []string{"p1"}, key: "obj", opts: blockstore.ComposeOptions{Meta: map[string]string{"bad name": "v"}}, wantErr: blockstore.ErrInvalidArgument},
		{name: "bad key", parts: []string{"p1"}, key: "", wantErr: blockstore.ErrInvalidKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemStore(0)
			put(t, m, "p1", "aaa", blockstore.PutOptions{})
			put(t, m, "p2", "bb", blockstore.PutOptions{})
			put(t, m, "p3", "c", blockstore.PutOptions{})
			put(t, m, "obj", "old", blockstore.PutOptions{})
			put(t, m, "c1", "c", blockstore.PutOptions{})
			if _, err := m.Compose(ctx, "composed", []string{"c1"}, blockstore.ComposeOptions{}); err != nil {
				t.Fatal(err)
			}
			info, err := m.Compose(ctx, tc.key, tc.parts, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				if m.Len() != 5 {
					t.Fatalf("a failed compose changed the store: %d blobs", m.Len())
				}
				if b, _ := m.Bytes("obj"); string(b) != "old" {
					t.Fatalf("target changed to %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Size != int64(len(tc.want)) {
				t.Fatalf("size %d", info.Size)
			}
			o, err := m.Open(ctx, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			got, _ := io.ReadAll(o)
			if string(got) != tc.want {
				t.Fatalf("content %q, want %q", got, tc.want)
			}
			for _, p := range tc.parts {
				if _, ok := m.Bytes(p); ok {
					t.Fatalf("part %q still visible", p)
				}
			}
		})
	}
}

func TestMemStoreComposeKeepsOptions(t *testing.T) {
	ctx := context.Background()
	m := NewMemStore(0)
	put(t, m, "p1", "aaa", blockstore.PutOptions{Meta: map[string]string{"X-Amz-Meta-Part": "1"}})
	sum := md5.Sum([]byte("etag source"))
	info, err := m.Compose(ctx, "obj", []string{"p1"}, blockstore.ComposeOptions{
		ContentType: "text/plain", Meta: map[string]string{"X-Strata-S3-Etag": "abc-1"}, MD5: sum[:],
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Stat(ctx, "obj")
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []blockstore.Info{info, st} {
		if i.ContentType != "text/plain" || i.Meta["X-Strata-S3-Etag"] != "abc-1" || len(i.Meta) != 1 || !bytes.Equal(i.MD5, sum[:]) {
			t.Fatalf("info %+v", i)
		}
	}
}

func TestMemStoreComposeTooLarge(t *testing.T) {
	m := NewMemStore(4)
	put(t, m, "p1", "aaa", blockstore.PutOptions{})
	put(t, m, "p2", "bb", blockstore.PutOptions{})
	if _, err := m.Compose(context.Background(), "obj", []string{"p1", "p2"}, blockstore.ComposeOptions{}); !errors.Is(err, blockstore.ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	if m.Len() != 2 {
		t.Fatalf("parts gone")
	}
}
