// Package s3 serves the S3 API over a node.Store, so the clients people
// already use (awscli, rclone, s3cmd, boto3, the AWS and MinIO SDKs) work
// against a Strata node, alone or in a cluster (the same Store seam the
// blob API uses).
//
// # Basics
//
// New builds a Handler from Options: the Store, a Verifier (sigv4.Verifier
// over the [[s3.keys]] of the config, NewVerifier), the Node whose
// admission budgets and per-key locks it shares (*node.Server), the
// virtual-host Domain and the Region. cmd/strata serves it on its own
// listener ([s3] listen, --s3-listen) with node.Server.ServeExtra, and runs
// RunExpiry beside it.
//
// An object (bucket B, key K) is the blob "B/K": the blob API and a
// cluster see S3 objects as ordinary blobs. The handler keeps its own state
// under node.ReservedPrefix (".s3/"), which the blob API refuses to write:
//
//	.s3/buckets/<name>            the bucket registry (creation time, owner)
//	.s3/uploads/<id>              a multipart upload (key, metadata, time)
//	.s3/uploads/<id>/<nnnnn>      its parts, one blob each
//
// Requests are routed path-style ("/bucket/key") always, and
// virtual-host-style ("bucket.<domain>/key") when Domain is set. Errors are
// S3 XML (Code, Message, Resource, RequestId) with S3's statuses; every
// answer carries x-amz-request-id and x-amz-id-2. errorOf is the one place
// that maps errors (the sigv4 and blockstore sentinels among them) to S3
// codes.
//
// # Promises
//
//   - Every request is authenticated (AWS Signature V4, header or
//     presigned); an anonymous one is AccessDenied. The key's scope (read
//     or read-write) and bucket list are checked before anything reaches
//     the store, so a refused request changes nothing.
//   - PutObject, UploadPart, CopyObject and CompleteMultipartUpload answer
//     only after the store's Put or Compose returned: the object is durable
//     (on W replicas in a cluster). Bodies stream through the verifier into
//     the store; a body that fails its signature, its x-amz-content-sha256,
//     Content-MD5 or checksum, or ends short, fails before its last byte is
//     handed over, so nothing is stored.
//   - Memory is bounded per request: bodies stream, listings ask the store
//     for pages of at most 1000 keys, XML request bodies are read up to
//     2 MiB, ListMultipartUploads gathers at most 10000 uploads.
//   - S3 requests take the node's admission slots (limits.max_uploads for
//     writes, limits.max_reads for reads: 503 SlowDown past them) and the
//     blob API's per-key write locks, so conditional writes are atomic
//     across both APIs. strata_s3_requests_total{op,code} and
//     strata_s3_request_duration_seconds{op} count every operation.
//   - CompleteMultipartUpload checks the parts (ascending, ETags matching,
//     all but the last at least 5 MiB) and composes them (node.Composer):
//     no byte is copied. Its ETag is S3's: md5 of the parts' MD5s, "-N",
//     kept in the object's metadata. A single PUT's ETag is its MD5. A
//     part re-uploaded after its ETag was checked fails the Complete
//     (InvalidPart: the Compose pins the part versions). A Complete
//     retried after a compose that reached fewer than W homes (503, the
//     parts consumed there) is finished: the object with the ETag the
//     listed parts make is composed again at its version.
//   - A body is hashed with MD5 once: with Content-MD5 the verifier checks
//     it as the body streams and the store keeps it (PutOptions.MD5);
//     without, the store hashes the content (PutOptions.WantMD5).
//   - CopyObject and UploadPartCopy stream the source from the store into
//     the destination's Put inside the node; the copy is a single-part
//     object whose ETag is its MD5.
//   - Bytes that fail their checksum are never sent: a read failure before
//     the first byte is an error answer, after it the connection is aborted.
//   - Sweep (run by RunExpiry) aborts multipart uploads older than
//     MultipartExpiry and removes parts whose upload is gone.
//   - Operations this package does not implement (versioning, object lock,
//     tagging, policies, lifecycle, website, CORS, ACL changes, ...) answer
//     501 NotImplemented, never a wrong success. GetBucketAcl and
//     GetObjectAcl answer the one fixed ACL (the owner has FULL_CONTROL;
//     access is the keys' scopes), GetBucketVersioning answers "never
//     enabled", which tools such as rclone and the aws cli ask for.
//
// # Caveats
//
//   - One tenant: every key sees the same buckets (a key's bucket list only
//     narrows it); there is no per-bucket owner beyond the creating key,
//     which is recorded.
//   - DeleteBucket holds the bucket's registry key exclusive while it
//     checks emptiness and deletes the entry; PutObject, CopyObject and
//     CompleteMultipartUpload hold it shared while they write into the
//     bucket, so on one node they wait for each other. The locks are the
//     node's, so across a cluster two more checks close the race: a write
//     checks its bucket again once its object is durable and, finding it
//     deleted, withdraws the object (a tombstone just after its version)
//     and answers NoSuchBucket; DeleteBucket lists the bucket again after
//     deleting the entry and, finding an object, puts the entry back and
//     answers BucketNotEmpty. Whichever check runs last sees the other's
//     effect, so no acknowledged object outlives its bucket (both may
//     fail, leaving the bucket in place; the clients retry). This holds
//     as far as the cluster's Stat and List see every durable write.
//   - A Range of several ranges is answered with the whole object (as S3
//     does); GetObject with partNumber is NotImplemented.
//   - Objects written through the blob API have no MD5: their S3 ETag is
//     the blob API's version ETag.
package s3
