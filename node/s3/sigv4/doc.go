// Package sigv4 verifies AWS Signature Version 4 on S3 requests. It is pure:
// no store, no network, no clock of its own (Verifier.Now).
//
// # Basics
//
// A Verifier holds a key lookup, a clock, the allowed clock skew and the
// region. Verify checks one request and returns an Auth: the key that
// signed it and a Body to read instead of r.Body. Verify accepts
//
//   - the Authorization header (AWS4-HMAC-SHA256), with the payload named
//     by x-amz-content-sha256: a hex SHA-256 of the body, UNSIGNED-PAYLOAD,
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD (aws-chunked, every chunk signed
//     in a chain from the request's signature),
//     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (the same plus a signed
//     trailer) and STREAMING-UNSIGNED-PAYLOAD-TRAILER (aws-chunked without
//     chunk signatures, protected by the checksum in its trailer);
//   - presigned URLs (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
//     X-Amz-Expires up to 7 days, X-Amz-SignedHeaders, X-Amz-Signature),
//     refused once expired.
//
// Content-MD5 and x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}
// (as headers, or as trailers named by x-amz-trailer) are checked against
// the body when present. A request dated further than MaxSkew (15 minutes)
// from Now is refused with ErrSkew. Every x-amz-* header a request carries
// must be signed. The credential scope must name the service "s3" and the
// configured region or us-east-1.
//
// # Errors
//
// errors.go holds the sentinels callers branch on (ErrMissingAuth,
// ErrUnknownKey, ErrSignature, ErrSkew, ErrExpired, ErrBadDigest,
// ErrMalformed, ErrUnsupported), each documented with the S3 error code it
// stands for; DigestError says which digest a body failed. A request with
// no signature at all gets ErrMissingAuth together with an anonymous Auth,
// so a handler may serve it; every other error comes without an Auth.
//
// # The body
//
// Auth.Body never completes a read of a body that does not match, and
// never buffers a whole body. In the signed aws-chunked modes each chunk
// is verified before any of its bytes are returned. Digests of the whole
// body (hex SHA-256, Content-MD5, checksums, a trailer's checksum) are
// known only at its end: bytes are returned as they arrive, but the last
// byte is held back until every check, the final chunk and the trailer
// signature passed. A consumer that reads exactly DecodedLength bytes
// therefore gets ErrBadDigest, ErrSignature or ErrMalformed instead of a
// clean read of a tampered body, and must discard what it read. Errors
// are sticky.
//
// An aws-chunked body buffers one chunk at a time, growing with the bytes
// that arrived: at most MaxChunkSize bytes (16 MiB by default; larger
// chunks are refused with ErrMalformed), which ChunkBufferBytes reports
// for a memory budget. SDKs send 64 KiB chunks. Trailer lines may end in
// LF alone, as minio-go writes them.
//
// # Canonical form
//
// The canonical URI is the decoded path encoded by S3's rules (every byte
// but A-Z a-z 0-9 - _ . ~ and '/' as %XX), so it is never encoded twice;
// when the client's own escaping on the wire differs (an escaped '/'),
// that form is tried second. Query parameters are decoded as net/url
// does for the handler and re-encoded, so what is verified is what the
// handler reads. Header values are trimmed, runs of spaces collapsed and
// repeated headers joined with ','; host is r.Host.
//
// # Caveats
//
// Verify checks who signed a request, not what the key may do: Auth.Key
// carries Scope and Buckets for the handler to enforce. An aws-chunked
// body's Content-Encoding names "aws-chunked", which is framing: the
// handler drops it before storing the object's Content-Encoding.
// Signature Version 2 and SigV4A (ECDSA) are refused with ErrUnsupported.
// DecodedLength is the client's claim: the handler refuses one above its
// object size limit before reading. Signing derives a key per access key,
// day, region and service; derived keys are cached (at most 1024, tied to
// the secret they came from), so a request costs one SHA-256 of its
// canonical form and one HMAC, plus one SHA-256 and one HMAC per chunk.
package sigv4
