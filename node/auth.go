package node

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
)

// authenticator checks bearer tokens. Secrets are kept only as SHA-256
// digests and compared in constant time against every configured token, so
// neither the content nor the length of a secret leaks through timing.
type authenticator struct {
	tokens []tokenDigest // empty: auth is off (loopback only)
}

type tokenDigest struct {
	name   string
	digest [sha256.Size]byte
	access access
}

// access is what a request needs and a token allows; each level allows
// the ones below it.
type access uint8

const (
	accessRead  access = iota // GET, HEAD, list
	accessWrite               // the blob API's PUT and DELETE, pprof
	accessAdmin               // the admin routes that change the node
)

// accessFor is the level of a blob request: write or read.
func accessFor(write bool) access {
	if write {
		return accessWrite
	}
	return accessRead
}

func scopeAccess(scope string) access {
	switch scope {
	case ScopeAdmin:
		return accessAdmin
	case ScopeReadWrite:
		return accessWrite
	}
	return accessRead
}

func newAuthenticator(tokens []Token) *authenticator {
	a := &authenticator{}
	for _, t := range tokens {
		a.tokens = append(a.tokens, tokenDigest{
			name:   t.Name,
			digest: sha256.Sum256([]byte(t.Token)),
			access: scopeAccess(t.Scope),
		})
	}
	return a
}

// enabled reports whether requests need a token.
func (a *authenticator) enabled() bool { return len(a.tokens) > 0 }

// hasAdmin reports whether an admin token is configured.
func (a *authenticator) hasAdmin() bool {
	for _, t := range a.tokens {
		if t.access >= accessAdmin {
			return true
		}
	}
	return false
}

// check returns nil when the request may proceed: errUnauthorized when the
// token is missing or unknown, errForbidden when the token's scope is below
// need, errBadRequest when the request carries several Authorization
// headers. It also returns the token's name for logs.
func (a *authenticator) check(r *http.Request, need access) (string, error) {
	if !a.enabled() {
		return "", nil
	}
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		// Proxies and servers disagree on which of several wins; trust none.
		return "", fmt.Errorf("%w: more than one Authorization header", errBadRequest)
	}
	header := ""
	if len(values) == 1 {
		header = values[0]
	}
	return a.checkHeader(header, need)
}

// checkHeader is check for a request with at most one Authorization
// header, whose value is header ("" when there is none).
func (a *authenticator) checkHeader(header string, need access) (string, error) {
	if !a.enabled() {
		return "", nil
	}
	secret, ok := bearerToken(header)
	if !ok {
		return "", errUnauthorized
	}
	got := sha256.Sum256([]byte(secret))
	match := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(got[:], a.tokens[i].digest[:]) == 1 {
			match = i // no early exit: every token costs the same
		}
	}
	if match < 0 {
		return "", errUnauthorized
	}
	t := a.tokens[match]
	if t.access < need {
		return t.name, errForbidden
	}
	return t.name, nil
}

// bearerToken extracts the credentials of an "Authorization: Bearer x" header
// (the scheme is case-insensitive, RFC 9110 section 11.1).
func bearerToken(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.TrimSpace(rest)
	return token, token != ""
}
