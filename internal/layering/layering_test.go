package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "strata"

// rank orders the top-level packages lowest first. A package may import
// only packages of a lower rank (or its own subpackages).
var rank = map[string]int{
	"ioengine":   0,
	"blockstore": 1,
	"tiering":    2,
	"node":       3,
	"cmd":        4,
}

// topLevel returns the first path element of a module-relative path.
func topLevel(rel string) string {
	first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	return first
}

func TestImportsPointDown(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); strings.HasPrefix(name, ".") || name == "testdata" || name == "strata-data" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		from, ok := rank[topLevel(rel)]
		if !ok {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := topLevel(strings.TrimPrefix(p, module+"/"))
			to, ok := rank[target]
			if !ok || target == topLevel(rel) {
				continue
			}
			if to >= from {
				t.Errorf("%s imports %s: %s may only import packages below it (ioengine <- blockstore <- tiering <- node <- cmd)", rel, p, topLevel(rel))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no Go files checked; is the module root right?")
	}
}

func TestTopLevel(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ioengine/fs.go", "ioengine"},
		{"ioengine/memfs/fs.go", "ioengine"},
		{"cmd/strata/main.go", "cmd"},
		{"doc.go", "doc.go"},
	} {
		if got := topLevel(tc.in); got != tc.want {
			t.Errorf("topLevel(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
