package s3_test

import (
	"context"
	"net/url"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"strata/node/s3/s3test"
)

var listKeys = []string{"a", "b/1", "b/2", "b/c/3", "c d", "d/1", "d/2", "e+f", "z"}

func listFixture(t *testing.T) *s3.Client {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	mustCreateBucket(t, c, "bkt")
	mustCreateBucket(t, c, "other")
	for _, k := range listKeys {
		mustPut(t, c, "bkt", k, []byte(k))
	}
	mustPut(t, c, "other", "a", []byte("x")) // not in bkt's listing
	return c
}

func TestListObjectsV2(t *testing.T) {
	c := listFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name           string
		in             s3.ListObjectsV2Input
		keys, prefixes []string
		truncated      bool
	}{
		{"all", s3.ListObjectsV2Input{}, listKeys, nil, false},
		{"prefix", s3.ListObjectsV2Input{Prefix: aws.String("b/")}, []string{"b/1", "b/2", "b/c/3"}, nil, false},
		{"delimiter", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, []string{"a", "c d", "e+f", "z"}, []string{"b/", "d/"}, false},
		{"prefix and delimiter", s3.ListObjectsV2Input{Prefix: aws.String("b/"), Delimiter: aws.String("/")}, []string{"b/1", "b/2"}, []string{"b/c/"}, false},
		{"start-after", s3.ListObjectsV2Input{StartAfter: aws.String("d/1")}, []string{"d/2", "e+f", "z"}, nil, false},
		{"max-keys", s3.ListObjectsV2Input{MaxKeys: aws.Int32(2)}, []string{"a", "b/1"}, nil, true},
		{"max-keys with prefixes", s3.ListObjectsV2Input{MaxKeys: aws.Int32(2), Delimiter: aws.String("/")}, []string{"a"}, []string{"b/"}, true},
		{"max-keys 0", s3.ListObjectsV2Input{MaxKeys: aws.Int32(0)}, nil, nil, false},
		{"start-after inside a prefix", s3.ListObjectsV2Input{StartAfter: aws.String("b/1"), Delimiter: aws.String("/")}, []string{"c d", "e+f", "z"}, []string{"b/", "d/"}, false},
		{"start-after a prefix", s3.ListObjectsV2Input{StartAfter: aws.String("b/"), Delimiter: aws.String("/")}, []string{"c d", "e+f", "z"}, []string{"d/"}, false},
	} {
		tc.in.Bucket = aws.String("bkt")
		out, err := c.ListObjectsV2(ctx, &tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var keys, prefixes []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
			if aws.ToString(o.ETag) != `"`+md5Hex([]byte(aws.ToString(o.Key)))+`"` || aws.ToInt64(o.Size) != int64(len(aws.ToString(o.Key))) {
				t.Errorf("%s: %s has ETag %s size %d", tc.name, aws.ToString(o.Key), aws.ToString(o.ETag), aws.ToInt64(o.Size))
			}
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		if !slices.Equal(keys, tc.keys) || !slices.Equal(prefixes, tc.prefixes) || aws.ToBool(out.IsTruncated) != tc.truncated ||
			int(aws.ToInt32(out.KeyCount)) != len(keys)+len(prefixes) {
			t.Errorf("%s: keys %v prefixes %v truncated %v count %d; want %v %v %v", tc.name, keys, prefixes,
				aws.ToBool(out.IsTruncated), aws.ToInt32(out.KeyCount), tc.keys, tc.prefixes, tc.truncated)
		}
		if tc.truncated && aws.ToString(out.NextContinuationToken) == "" {
			t.Errorf("%s: truncated without a continuation token", tc.name)
		}
	}
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), ContinuationToken: aws.String("!!not-a-token")})
	wantCode(t, err, "InvalidArgument", 400)
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("missing")})
	wantCode(t, err, "NoSuchBucket", 404)
}

func TestListObjectsV2Pagination(t *testing.T) {
	c := listFixture(t)
	ctx := context.Background()
	for _, delim := range []string{"", "/"} {
		var keys, prefixes []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(1), Delimiter: aws.String(delim)})
		pages := 0
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
			for _, cp := range out.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(cp.Prefix))
			}
		}
		want, wantPrefixes := listKeys, []string(nil)
		if delim == "/" {
			want, wantPrefixes = []string{"a", "c d", "e+f", "z"}, []string{"b/", "d/"}
		}
		if !slices.Equal(keys, want) || !slices.Equal(prefixes, wantPrefixes) || pages != len(want)+len(wantPrefixes) {
			t.Fatalf("delimiter %q: %d pages, keys %v, prefixes %v", delim, pages, keys, prefixes)
		}
	}
}

func TestListObjectsEncodingAndV1(t *testing.T) {
	c := listFixture(t)
	ctx := context.Background()
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bkt"), EncodingType: "url", Prefix: aws.String("c ")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "c%20d" || aws.ToString(out.Prefix) != "c%20" {
		t.Fatalf("encoding-type=url: %+v", out.Contents)
	}
	if k, _ := url.QueryUnescape(aws.ToString(out.Contents[0].Key)); k != "c d" {
		t.Fatalf("encoded key does not unescape: %q", k)
	}
	// v1: marker and NextMarker.
	var keys []string
	marker := ""
	for range 20 {
		v1, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("bkt"), MaxKeys: aws.Int32(4), Marker: aws.String(marker)})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range v1.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(v1.IsTruncated) {
			break
		}
		marker = aws.ToString(v1.NextMarker)
	}
	if !slices.Equal(keys, listKeys) {
		t.Fatalf("ListObjects v1 pages: %v", keys)
	}
}
