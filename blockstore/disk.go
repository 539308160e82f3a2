package blockstore

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"strata/ioengine"
)

// Index records of the disks the store knows.
var (
	bucketDisks = []byte("disks")   // disk id -> data directory path
	metaNodeID  = []byte("node-id") // the node the data directories belong to
	// metaRebuilding is set while a rebuild or a scan of unknown volumes
	// runs: an index left with it is rebuilt from scratch.
	metaRebuilding = []byte("rebuild-in-progress")
)

// rebuildMarked reports whether a rebuild was interrupted.
func (ix *index) rebuildMarked() (marked bool, err error) {
	err = ix.db.View(func(tx *bolt.Tx) error {
		marked = tx.Bucket(bucketMeta).Get(metaRebuilding) != nil
		return nil
	})
	return marked, err
}

// markRebuild sets or clears the rebuild marker (a synced bbolt commit).
func (ix *index) markRebuild(on bool) error {
	return ix.update(func(tx *bolt.Tx) error {
		if on {
			return tx.Bucket(bucketMeta).Put(metaRebuilding, []byte{1})
		}
		return tx.Bucket(bucketMeta).Delete(metaRebuilding)
	})
}

// prepareDir creates dir if needed, makes its entry durable in its parent
// and locks it for the life of the store.
func prepareDir(fsys ioengine.FS, dir string) (io.Closer, error) {
	if err := ioengine.MkdirAllDurable(fsys, dir); err != nil {
		return nil, err
	}
	lock, err := fsys.Lock(dir)
	if errors.Is(err, ioengine.ErrLocked) {
		return nil, fmt.Errorf("%w: %s (is another strata process, or another store in this one, using it?): %w", ErrLocked, dir, err)
	}
	return lock, err
}

// openDataDir prepares and locks data directory i and opens its device.
func (s *Store) openDataDir(i int, dir string) (*dataDir, error) {
	lock, err := prepareDir(s.opts.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("blockstore: data dir %s: %w", dir, err)
	}
	dev, err := ioengine.NewDevice(s.opts.FS, dir, ioengine.DeviceOptions{
		Name:        fmt.Sprintf("data%d", i),
		MaxInFlight: s.opts.MaxInFlight,
		Logger:      s.opts.Logger,
	})
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("blockstore: data dir %s: %w", dir, err)
	}
	d := &dataDir{idx: i, dev: dev, lock: lock}
	d.app = newAppender(s, d)
	return d, nil
}

// releaseDirs drops the directory locks (after the files are closed).
func (s *Store) releaseDirs() {
	for _, d := range s.dirs {
		if d.lock != nil {
			d.lock.Close()
			d.lock = nil
		}
	}
}

// checkIdentities makes sure every data directory holds the disk the index
// expects, writes identity files for directories that have none and that
// the index does not know (a first start, or a new disk), and records
// the node id and the disks in the index.
//
// The identity file is written before the index records the disk, so a
// crash in between leaves a disk the next start simply adopts.
func (s *Store) checkIdentities() error {
	nodeID, known, err := s.index.loadDisks()
	if err != nil {
		return fmt.Errorf("blockstore: reading known disks from the index: %w", err)
	}
	byPath := make(map[string]string, len(known))
	for disk, dir := range known {
		byPath[dir] = disk
	}
	if s.opts.NodeID != "" {
		if nodeID != "" && nodeID != s.opts.NodeID {
			return fmt.Errorf("%w: the index in %s belongs to node %q, but the configured node id is %q: check node_id and index_dir",
				ErrDiskIdentity, s.opts.IndexDir, nodeID, s.opts.NodeID)
		}
		nodeID = s.opts.NodeID
	}
	ids := make([]diskIdentity, len(s.dirs))
	has := make([]bool, len(s.dirs))
	for i, d := range s.dirs {
		id, ok, err := readIdentity(d.dev.FS(), d.dev.Dir())
		if err != nil {
			return fmt.Errorf("%w: data dir %s: identity file %s unreadable (%w): check the disk mounted there",
				ErrDiskIdentity, d.dev.Dir(), IdentityFileName, err)
		}
		ids[i], has[i] = id, ok
		if ok && nodeID == "" {
			nodeID = id.NodeID // a rebuilt index adopts the disks' node
		}
	}
	if nodeID == "" {
		nodeID = newRandomID()
	}
	seen := map[string]string{}
	for i, d := range s.dirs {
		dir := filepath.Clean(d.dev.Dir())
		want, isKnown := byPath[dir]
		// A known disk found under another known path (mounts swapped) is
		// fine: volume ids are store-wide. An unknown disk where the index
		// expects one is not.
		switch {
		case !has[i] && isKnown:
			return fmt.Errorf("%w: data dir %s has no identity file (the index knows disk %s there): is the disk mounted?",
				ErrDiskIdentity, dir, want)
		case !has[i]:
			id := diskIdentity{Format: identityFormat, NodeID: nodeID, DiskID: newRandomID(), CreatedAt: s.opts.Now().UTC()}
			if err := writeIdentity(d.dev.FS(), dir, s.opts.createFlags(), id); err != nil {
				return fmt.Errorf("blockstore: data dir %s: %w", dir, err)
			}
			ids[i] = id
			s.log.Info("blockstore: data directory initialised", "dir", dir, "disk_id", id.DiskID, "node_id", nodeID)
		case ids[i].NodeID != nodeID:
			return fmt.Errorf("%w: data dir %s holds disk %s of node %q, not of this node %q: is the right disk mounted?",
				ErrDiskIdentity, dir, ids[i].DiskID, ids[i].NodeID, nodeID)
		case isKnown && ids[i].DiskID != want && known[ids[i].DiskID] == "":
			return fmt.Errorf("%w: data dir %s holds disk %s, but the index expects disk %s there: is the right disk mounted?",
				ErrDiskIdentity, dir, ids[i].DiskID, want)
		}
		if other, dup := seen[ids[i].DiskID]; dup {
			return fmt.Errorf("%w: data dirs %s and %s hold the same disk %s: check for bind mounts or copied directories",
				ErrDiskIdentity, other, dir, ids[i].DiskID)
		}
		seen[ids[i].DiskID] = dir
		d.diskID = ids[i].DiskID
		if prev, ok := known[ids[i].DiskID]; ok && prev != dir {
			s.log.Warn("blockstore: disk moved to another directory", "disk_id", ids[i].DiskID, "was", prev, "now", dir)
		}
	}
	for disk, dir := range known {
		if _, ok := seen[disk]; !ok {
			s.log.Error("blockstore: a disk the index knows is not configured; its blobs will read as missing", "disk_id", disk, "dir", dir)
		}
	}
	s.nodeID = nodeID
	disks := make(map[string]string, len(s.dirs))
	for _, d := range s.dirs {
		disks[d.diskID] = filepath.Clean(d.dev.Dir())
	}
	if err := s.index.storeDisks(nodeID, disks); err != nil {
		return fmt.Errorf("blockstore: recording disks in the index: %w", err)
	}
	return nil
}

// loadDisks returns the node id and the disks (id -> directory) the index
// knows; both empty for a new or rebuilt index.
func (ix *index) loadDisks() (nodeID string, disks map[string]string, err error) {
	disks = map[string]string{}
	err = ix.db.View(func(tx *bolt.Tx) error {
		if mb := tx.Bucket(bucketMeta); mb != nil {
			nodeID = string(mb.Get(metaNodeID))
		}
		db := tx.Bucket(bucketDisks)
		if db == nil {
			return nil
		}
		return db.ForEach(func(k, v []byte) error {
			disks[string(k)] = string(v)
			return nil
		})
	})
	return nodeID, disks, err
}

// storeDisks records the node id and adds or updates the given disks.
func (ix *index) storeDisks(nodeID string, disks map[string]string) error {
	return ix.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(metaNodeID, []byte(nodeID)); err != nil {
			return err
		}
		db, err := tx.CreateBucketIfNotExists(bucketDisks)
		if err != nil {
			return err
		}
		for disk, dir := range disks {
			if string(db.Get([]byte(disk))) == dir {
				continue
			}
			if err := db.Put([]byte(disk), []byte(dir)); err != nil {
				return err
			}
		}
		return nil
	})
}
