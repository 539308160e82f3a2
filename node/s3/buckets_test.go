package s3_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"strata/node/s3/s3test"
)

func TestBucketNameRules(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"my.bucket-1", true},
		{strings.Repeat("a", 63), true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"Upper", false},
		{"under_score", false},
		{".leading", false},
		{"trailing-", false},
		{"two..dots", false},
		{"dot.-hyphen", false},
		{"192.168.1.1", false},
		{"xn--punycode", false},
	} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(tc.name)})
		if tc.ok && err != nil {
			t.Errorf("CreateBucket %q: %v", tc.name, err)
		}
		if !tc.ok && apiCode(err) != "InvalidBucketName" {
			t.Errorf("CreateBucket %q: want InvalidBucketName, got %v", tc.name, err)
		}
	}
}

func TestBucketLifecycle(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "alpha")
	mustCreateBucket(t, c, "beta")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketAlreadyOwnedByYou", 409)
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("gamma"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
	wantCode(t, err, "InvalidLocationConstraint", 400)

	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatalf("HeadBucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("missing")})
	wantCode(t, err, "", 404)

	list, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list.Buckets {
		names = append(names, aws.ToString(b.Name))
		if b.CreationDate == nil || b.CreationDate.IsZero() {
			t.Errorf("bucket %s without creation date", aws.ToString(b.Name))
		}
	}
	if strings.Join(names, ",") != "alpha,beta" {
		t.Fatalf("ListBuckets = %v", names)
	}
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	if err != nil || loc.LocationConstraint != "" {
		t.Fatalf("GetBucketLocation = %v, %v", loc, err)
	}
	_, err = c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("missing")})
	wantCode(t, err, "NoSuchBucket", 404)

	mustPut(t, c, "alpha", "k", []byte("v"))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketNotEmpty", 409)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")}); err != nil {
		t.Fatalf("DeleteBucket of an empty bucket: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "", 404)
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "NoSuchBucket", 404)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchBucket", 404)

	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("beta")})
	if err != nil || v.Status != "" {
		t.Fatalf("GetBucketVersioning = %v, %v", v, err)
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("beta")})
	if err != nil || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl {
		t.Fatalf("GetBucketAcl = %+v, %v", acl, err)
	}
}

// Unsupported operations answer NotImplemented, never a wrong success.
func TestNotImplemented(t *testing.T) {
	n := s3test.Start(t, s3test.Options{})
	c := rwClient(t, n)
	ctx := context.Background()
	mustCreateBucket(t, c, "bkt")
	mustPut(t, c, "bkt", "k", []byte("v"))
	for name, call := range map[string]func() error{
		"PutBucketVersioning": func() error {
			_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("bkt"),
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
			return err
		},
		"PutObjectTagging": func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bkt"), Key: aws.String("k"),
				Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
			return err
		},
		"GetBucketPolicy": func() error {
			_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("bkt")})
			return err
		},
		"PutBucketAcl": func() error {
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("bkt"), ACL: types.BucketCannedACLPublicRead})
			return err
		},
		"GetBucketLifecycleConfiguration": func() error {
			_, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("bkt")})
			return err
		},
		"ListObjectVersions": func() error {
			_, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("bkt")})
			return err
		},
	} {
		err := call()
		if apiCode(err) != "NotImplemented" || httpStatus(err) != 501 {
			t.Errorf("%s: want 501 NotImplemented, got %v", name, err)
		}
	}
}
