package sigv4

// Scopes a Key can have.
const (
	ScopeRead      = "read"
	ScopeReadWrite = "read-write"
)

// Key is one configured access key ([[s3.keys]] in the node's config).
// Verify only uses AccessKey and SecretKey; Scope and Buckets are carried
// to the handler in Auth.Key, which decides what the key may do.
type Key struct {
	AccessKey string
	SecretKey string
	Scope     string   // ScopeRead or ScopeReadWrite
	Buckets   []string // empty: every bucket
}
