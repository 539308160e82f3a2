package ioengine_test

import (
	"errors"
	"io/fs"
	"testing"

	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

func readAll(t *testing.T, fsys ioengine.FS, name string) (string, error) {
	t.Helper()
	f, err := fsys.OpenFile(name, ioengine.FlagReadOnly)
	if err != nil {
		return "", err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && size > 0 {
		t.Fatal(err)
	}
	return string(b), nil
}

const noFault errorfs.OpKind = -1

// WriteFileAtomic leaves the new file after a crash once it returned, and
// the old one, with no temporary file, when a step fails.
func TestWriteFileAtomic(t *testing.T) {
	cases := []struct {
		name   string
		fail   errorfs.OpKind
		want   string
		wantOK bool
	}{
		{"written", noFault, "new", true},
		{"sync fails", errorfs.OpSync, "old", false},
		{"rename fails", errorfs.OpRename, "old", false},
		{"directory sync fails", errorfs.OpSyncDir, "new", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mfs := memfs.New(memfs.Options{})
			if err := mfs.MkdirAll("/d"); err != nil {
				t.Fatal(err)
			}
			if err := ioengine.WriteFileAtomic(mfs, "/d/f", []byte("old"), ioengine.FlagCreate); err != nil {
				t.Fatal(err)
			}
			var inj errorfs.Injector = errorfs.InjectorFunc(func(errorfs.Op) errorfs.Fault { return errorfs.Fault{} })
			if c.fail != noFault {
				inj = errorfs.OnIndex(c.fail, 0, errorfs.EIO)
			}
			err := ioengine.WriteFileAtomic(errorfs.Wrap(mfs, inj), "/d/f", []byte("new"), ioengine.FlagCreate)
			if (err == nil) != c.wantOK {
				t.Fatalf("WriteFileAtomic: %v, want ok %v", err, c.wantOK)
			}
			if got, err := readAll(t, mfs, "/d/f"); err != nil || got != c.want {
				t.Fatalf("file holds %q (%v), want %q", got, err, c.want)
			}
			if _, err := readAll(t, mfs, "/d/f.tmp"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("temporary file left behind: %v", err)
			}
			if c.wantOK {
				if got, err := readAll(t, mfs.CrashClone(), "/d/f"); err != nil || got != "new" {
					t.Fatalf("after a crash the file holds %q (%v), want the new bytes", got, err)
				}
			}
		})
	}
}
