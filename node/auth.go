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
	write  bool
}

func newAuthenticator(tokens []Token) *authenticator {
	a := &authenticator{}
	for _, t := range tokens {
		a.tokens = append(a.tokens, tokenDigest{
			name:   t.Name,
			digest: sha256.Sum256([]byte(t.Token)),
			write:  t.Scope == ScopeReadWrite,
		})
	}
	return a
}

// enabled reports whether requests need a token.
func (a *authenticator) enabled() bool { return len(a.tokens) > 0 }

// check returns nil when the request may proceed: errUnauthorized when the
// token is missing or unknown, errForbidden when a read token asks to write,
// errBadRequest when the request carries several Authorization headers.
// It also returns the token's name for logs.
func (a *authenticator) check(r *http.Request, write bool) (string, error) {
	if !a.enabled() {
		return "", nil
	}
	if len(r.Header.Values("Authorization")) > 1 {
		// Proxies and servers disagree on which of several wins; trust none.
		return "", fmt.Errorf("%w: more than one Authorization header", errBadRequest)
	}
	secret, ok := bearerToken(r.Header.Get("Authorization"))
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
	if write && !t.write {
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
