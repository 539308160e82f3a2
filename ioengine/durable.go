package ioengine

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// WriteFileAtomic replaces path with data the crash-safe way: write a
// temporary file next to it, fsync it, rename it over path, fsync the
// directory. A crash leaves either the old file or the new one, never a
// mix; a failure removes the temporary file. flags are the creation flags
// of the temporary file (FlagCreate with the wanted WithPerm).
func WriteFileAtomic(fsys FS, path string, data []byte, flags OpenFlag) error {
	tmp := path + ".tmp"
	if err := fsys.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	f, err := fsys.OpenFile(tmp, flags)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, werr := f.WriteAt(data, 0)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = fsys.Rename(tmp, path)
	}
	if werr != nil {
		if rmErr := fsys.Remove(tmp); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			werr = errors.Join(werr, rmErr)
		}
		return fmt.Errorf("write %s: %w", path, werr)
	}
	dir := filepath.Dir(path)
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// MkdirAllDurable creates dir (and missing parents) and makes its entry
// durable: it fsyncs dir's parent, where a new directory's name lives, and
// dir itself. Done whether or not dir already existed, which is cheap and
// covers a crash right after an earlier MkdirAll.
func MkdirAllDurable(fsys FS, dir string) error {
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	clean := filepath.Clean(dir)
	if parent := filepath.Dir(clean); parent != clean {
		if err := fsys.SyncDir(parent); err != nil {
			return err
		}
	}
	return fsys.SyncDir(clean)
}
