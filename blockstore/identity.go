package blockstore

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"strata/ioengine"
)

// IdentityFileName is the file in every data directory that says which
// disk it is and which node owns it.
const IdentityFileName = "strata-disk.id"

// identityFormat is the version of the identity file's JSON body.
const identityFormat = 1

// maxIdentityIDLen bounds node and disk ids; maxIdentityFileLen the file.
const (
	maxIdentityIDLen   = 128
	maxIdentityFileLen = 4096
)

// diskIdentity is the content of an identity file:
//
//	{"format":1,"node_id":"...","disk_id":"...","created_at":"..."}\n
//	crc32c 1a2b3c4d\n
//
// The second line is the CRC32C (hex) of the first line's bytes, so a torn
// or damaged file is told from a file of another disk.
type diskIdentity struct {
	Format    int       `json:"format"`
	NodeID    string    `json:"node_id"`
	DiskID    string    `json:"disk_id"`
	CreatedAt time.Time `json:"created_at"`
}

var errBadIdentity = errors.New("malformed identity file")

func encodeIdentity(id diskIdentity) []byte {
	body, _ := json.Marshal(id) // plain struct: cannot fail
	return fmt.Appendf(body, "\ncrc32c %08x\n", crc32c(body))
}

func decodeIdentity(b []byte) (diskIdentity, error) {
	var id diskIdentity
	body, tail, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return id, fmt.Errorf("%w: no checksum line", errBadIdentity)
	}
	sum, ok := strings.CutPrefix(string(tail), "crc32c ")
	if !ok || len(sum) != 9 || sum[8] != '\n' {
		return id, fmt.Errorf("%w: bad checksum line", errBadIdentity)
	}
	if got := fmt.Sprintf("%08x", crc32c(body)); sum[:8] != got {
		return id, fmt.Errorf("%w: checksum %s, file says %q", errBadIdentity, got, sum[:8])
	}
	if err := json.Unmarshal(body, &id); err != nil {
		return id, fmt.Errorf("%w: %w", errBadIdentity, err)
	}
	if id.Format != identityFormat {
		return id, fmt.Errorf("%w: format %d, want %d", errBadIdentity, id.Format, identityFormat)
	}
	if !validIdentityID(id.NodeID) || !validIdentityID(id.DiskID) {
		return id, fmt.Errorf("%w: empty or invalid node or disk id", errBadIdentity)
	}
	return id, nil
}

func validIdentityID(s string) bool {
	return s != "" && len(s) <= maxIdentityIDLen && !strings.ContainsFunc(s, unicode.IsControl)
}

// newRandomID returns 128 random bits as text, for node and disk ids.
func newRandomID() string { return strings.ToLower(rand.Text()) }

// readIdentity reads dir's identity file; ok is false when there is none.
func readIdentity(fsys ioengine.FS, dir string) (id diskIdentity, ok bool, err error) {
	path := filepath.Join(dir, IdentityFileName)
	size, err := fsys.Stat(path)
	if errors.Is(err, errNotExist) {
		return id, false, nil
	}
	if err != nil {
		return id, false, err
	}
	if size <= 0 || size > maxIdentityFileLen {
		return id, false, fmt.Errorf("%w: %d bytes", errBadIdentity, size)
	}
	f, err := fsys.OpenFile(path, ioengine.FlagReadOnly)
	if err != nil {
		return id, false, err
	}
	defer f.Close()
	buf := make([]byte, size)
	if n, err := f.ReadAt(buf, 0); n != len(buf) {
		return id, false, fmt.Errorf("read %s: %d of %d bytes: %w", path, n, size, err)
	}
	id, err = decodeIdentity(buf)
	return id, err == nil, err
}

// writeIdentity writes dir's identity file the safe way: a temporary
// name, write, fsync, rename, fsync the directory.
func writeIdentity(fsys ioengine.FS, dir string, flags ioengine.OpenFlag, id diskIdentity) error {
	return ioengine.WriteFileAtomic(fsys, filepath.Join(dir, IdentityFileName), encodeIdentity(id), flags)
}
