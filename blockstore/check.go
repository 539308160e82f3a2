package blockstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CheckOptions configures Check.
type CheckOptions struct {
	// Repair rebuilds the index from the volumes when the check found a
	// problem the rebuild fixes (the existing rebuild path: index.db is
	// moved aside as index.db.fsck-<unix>, then Open rebuilds it and seals
	// torn tails at their last valid record), then checks again. Repair is
	// refused while a data directory's identity is in doubt (fix the mount
	// first): a rebuild would then forget the blobs of the missing disk.
	Repair bool
	// MaxProblems bounds CheckReport.Problems (the count stays exact);
	// default 1000.
	MaxProblems int
}

// Problem is one thing Check found, in plain words.
type Problem struct {
	Dir    string `json:"dir,omitempty"`    // data or index directory, when it is about one
	Volume uint32 `json:"volume,omitempty"` // volume id, 0 when not about a volume
	Offset int64  `json:"offset"`           // byte offset in the volume
	Key    string `json:"key,omitempty"`
	What   string `json:"what"`
}

func (p Problem) String() string {
	s := ""
	if p.Dir != "" {
		s += p.Dir + ": "
	}
	if p.Volume != 0 {
		s += fmt.Sprintf("volume %d at offset %d: ", p.Volume, p.Offset)
	}
	if p.Key != "" {
		s += fmt.Sprintf("key %q: ", p.Key)
	}
	return s + p.What
}

// CheckReport is what Check found.
type CheckReport struct {
	Volumes      int   `json:"volumes"`       // volume files read
	Records      int64 `json:"records"`       // key records that decode (blobs, manifests, tombstones)
	IndexEntries int64 `json:"index_entries"` // keys in the index
	// Unindexed counts records past their volume's watermark that the
	// index lacks: written before a crash, replayed by the next Open.
	// Not a problem.
	Unindexed int64 `json:"unindexed"`
	// Dropped counts keys whose newest record on disk the index lacks
	// because Drop forgot them (rebalancing). Not a problem.
	Dropped     int64 `json:"dropped"`
	TornTails   int   `json:"torn_tails"`
	Corruptions int   `json:"corruptions"`
	// ProblemCount is the number of problems; Problems lists the first
	// CheckOptions.MaxProblems of them.
	ProblemCount int       `json:"problem_count"`
	Problems     []Problem `json:"problems"`
	// Repaired says a repair ran (CheckOptions.Repair and a problem it
	// fixes); After is the check that followed it. RepairRefused says
	// why a repair was needed but not run.
	Repaired      bool         `json:"repaired"`
	RepairRefused string       `json:"repair_refused,omitempty"`
	After         *CheckReport `json:"after,omitempty"`
}

// Clean reports whether the check found no problem (after the repair, if
// one ran).
func (r *CheckReport) Clean() bool {
	if r.After != nil {
		return r.After.Clean()
	}
	return r.ProblemCount == 0
}

// checker collects what a check finds. Memory is bounded by the number of
// keys: per key only the newest record seen on disk (version, location,
// kind), never the records themselves.
type checker struct {
	report  CheckReport
	max     int
	newest  map[string]checkSeen
	known   map[uint32]volumeRecord // the index's volumes; nil without an index
	rebuild bool                    // the index is missing or unusable: nothing to compare with
	// identityDoubt: a data directory's identity is in doubt; a rebuild
	// could forget a disk's blobs, so repair is refused.
	identityDoubt bool
}

type checkSeen struct {
	e       indexEntry
	unindex bool // past its volume's watermark: the index may lack it yet
}

// problem records one problem; a nil checker (a normal Open) ignores it.
func (c *checker) problem(vol uint32, off int64, key, what string) {
	if c == nil {
		return
	}
	c.add(Problem{Volume: vol, Offset: off, Key: key, What: what})
}

func (c *checker) add(p Problem) {
	c.report.ProblemCount++
	if len(c.report.Problems) < c.max {
		c.report.Problems = append(c.report.Problems, p)
	}
}

// scanned takes the ops a volume scan produced, instead of the index.
func (c *checker) scanned(v *volume, ops []indexOp) {
	wm := int64(0)
	if r, ok := c.known[v.id]; ok {
		wm = r.watermark
	}
	for _, op := range ops {
		if op.kind != opKey {
			continue
		}
		if !op.e.corrupt() {
			c.report.Records++
		}
		cur, ok := c.newest[op.key]
		if !ok || op.e.newer(&cur.e) {
			e := op.e
			e.contentType = "" // only version, location and kind are compared
			c.newest[op.key] = checkSeen{e: e, unindex: !c.knows(v.id) || op.e.loc.offset >= wm}
		}
	}
}

func (c *checker) knows(vol uint32) bool {
	_, ok := c.known[vol]
	return ok
}

// Check verifies a stopped store: it takes the directory locks (a running
// store makes it fail with ErrLocked), reads every record of every volume
// with recovery's scanner (checksums; torn tails; corruption in the
// middle), and compares the volumes with the index both ways: entries that
// point at missing, corrupt or mismatched records, and newest records on
// disk that the index lacks or holds older. It also checks the identity
// files and the index's own state. Without Repair it changes nothing on
// disk. The error is for a check that could not run (locked, unreadable
// directory); what the check found is in the report.
func Check(ctx context.Context, opts Options, copts CheckOptions) (CheckReport, error) {
	if err := opts.normalize(); err != nil {
		return CheckReport{}, err
	}
	if copts.MaxProblems <= 0 {
		copts.MaxProblems = 1000
	}
	c, err := check(ctx, opts, copts.MaxProblems)
	if err != nil || !copts.Repair || c.report.ProblemCount == 0 {
		return c.report, err
	}
	rep := c.report
	if c.identityDoubt {
		rep.RepairRefused = "a data directory's identity is in doubt: mount the right disk (or restore its identity file) first; a rebuild now could forget the blobs of a missing disk"
		return rep, nil
	}
	if err := rebuildIndex(ctx, opts); err != nil {
		return rep, fmt.Errorf("blockstore: repair: %w", err)
	}
	rep.Repaired = true
	after, err := check(ctx, opts, copts.MaxProblems)
	rep.After = &after.report
	return rep, err
}

// rebuildIndex moves index.db aside and opens the store, which rebuilds
// the index from the volumes and seals torn tails (recovery), then closes it.
func rebuildIndex(ctx context.Context, opts Options) error {
	path := filepath.Join(opts.IndexDir, IndexFileName)
	if _, err := opts.IndexFS.Stat(path); err == nil {
		aside := fmt.Sprintf("%s.fsck-%d", path, opts.Now().Unix())
		if err := opts.IndexFS.Rename(path, aside); err != nil {
			return fmt.Errorf("moving the index aside: %w", err)
		}
		if err := opts.IndexFS.SyncDir(opts.IndexDir); err != nil {
			return fmt.Errorf("moving the index aside: %w", err)
		}
		opts.Logger.Info("blockstore: index moved aside for a rebuild", "path", path, "moved_to", aside)
	} else if !errors.Is(err, errNotExist) {
		return err
	}
	s, err := Open(ctx, opts)
	if err != nil {
		return err
	}
	return s.Close()
}

// check runs one read-only pass.
func check(ctx context.Context, opts Options, maxProblems int) (c *checker, err error) {
	c = &checker{max: maxProblems, newest: make(map[string]checkSeen)}
	c.report.Problems = []Problem{} // "problems": [] in JSON, never null
	s := &Store{opts: opts, log: opts.Logger, volumes: make(map[uint32]*volume), check: c}
	s.clock.now = opts.Now
	defer func() {
		s.closeFiles()
		s.releaseDirs()
	}()
	for i, dir := range opts.DataDirs {
		if _, err := opts.FS.Stat(dir); err != nil {
			return c, fmt.Errorf("blockstore: data dir %s: %w", dir, err)
		}
		d, err := s.openDataDir(i, dir)
		if err != nil {
			return c, err
		}
		s.dirs = append(s.dirs, d)
	}
	ix, release, err := c.openIndex(s)
	if err != nil {
		return c, err
	}
	defer release()
	s.index = ix
	c.checkIdentities(s)
	var vols [][]*volume
	for _, d := range s.dirs {
		vs, err := s.openVolumes(d)
		if err != nil {
			return c, err
		}
		// A compacted volume a crash left behind holds nothing the index
		// needs; the next Open removes it.
		if vs, err = s.finishRemovals(d, vs, c.known); err != nil {
			return c, err
		}
		vols = append(vols, vs)
	}
	for _, vs := range vols {
		for i, v := range vs {
			c.report.Volumes++
			r, ok := c.known[v.id]
			if !ok {
				r = volumeRecord{state: volOpen}
				if c.known != nil {
					c.problem(v.id, 0, "", "volume is not known to the index (--repair rebuilds the index)")
				}
			}
			limit := v.size
			if r.state != volOpen {
				limit = min(limit, r.end)
			}
			end, clean, err := s.scanVolume(ctx, v, 0, limit, mayTear(r, ok, i, len(vs), v.size, opts.VolumeSize))
			if err != nil {
				return c, fmt.Errorf("blockstore: reading volume %s: %w", v.path(), err)
			}
			if !clean {
				c.problem(v.id, end, "", "torn tail: bytes of an unacknowledged write after the last valid record (--repair seals the volume there)")
			}
		}
	}
	c.report.TornTails = int(s.stats.tornTails.Load())
	c.report.Corruptions = int(s.stats.corruptions.Load())
	if c.known == nil {
		return c, nil
	}
	for id, r := range c.known {
		if _, ok := s.volume(id); !ok && r.state != volCompacted {
			c.problem(id, 0, "", "volume named by the index is missing from every data directory")
		}
	}
	if err := c.compareIndex(ctx, s); err != nil {
		return c, err
	}
	return c, nil
}

// openIndex takes the index directory's lock and opens index.db read-only.
// A missing or unreadable index is a problem, not an error: the check
// goes on with the volumes alone.
func (c *checker) openIndex(s *Store) (*index, func(), error) {
	cfg := s.indexConfig()
	ix := &index{pending: make(map[string]indexEntry), maxQueue: scanBatch}
	release := func() {}
	if cfg.lockDir {
		if _, err := cfg.fs.Stat(cfg.dir); err != nil {
			return nil, nil, fmt.Errorf("blockstore: index dir %s: %w", cfg.dir, err)
		}
		lock, err := prepareDir(cfg.fs, cfg.dir)
		if err != nil {
			return nil, nil, fmt.Errorf("blockstore: index dir %s: %w", cfg.dir, err)
		}
		release = func() { lock.Close() }
	}
	path := filepath.Join(cfg.dir, IndexFileName)
	indexProblem := func(what string) {
		c.add(Problem{Dir: cfg.dir, What: what})
	}
	if _, err := cfg.fs.Stat(path); errors.Is(err, os.ErrNotExist) {
		indexProblem("index.db is missing (--repair rebuilds it from the volumes)")
		return ix, release, nil
	}
	db, err := openBolt(path, cfg.perm, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		indexProblem(fmt.Sprintf("index.db is unreadable (%v); --repair rebuilds it from the volumes", err))
		return ix, release, nil
	}
	ix.db = db
	release0 := release
	release = func() { db.Close(); release0() }
	known, _, err := ix.loadState()
	if err != nil {
		indexProblem(fmt.Sprintf("index.db's volume records are unreadable (%v); --repair rebuilds it", err))
		return ix, release, nil
	}
	if marked, err := ix.rebuildMarked(); err != nil || marked {
		indexProblem("index.db is from an interrupted rebuild (the next start rebuilds it; so does --repair)")
		return ix, release, nil
	}
	c.known = known
	return ix, release, nil
}

// checkIdentities reports identity files that are missing, damaged, or
// name another node or disk than the index expects.
func (c *checker) checkIdentities(s *Store) {
	var nodeID string
	var known map[string]string
	if s.index.db != nil && c.known != nil {
		var err error
		if nodeID, known, err = s.index.loadDisks(); err != nil {
			c.add(Problem{Dir: s.opts.IndexDir, What: fmt.Sprintf("index.db's disk records are unreadable (%v)", err)})
		}
	}
	byPath := make(map[string]string, len(known))
	for disk, dir := range known {
		byPath[dir] = disk
	}
	seen := map[string]bool{}
	for _, d := range s.dirs {
		dir := filepath.Clean(d.dev.Dir())
		doubt := func(what string) {
			c.identityDoubt = true
			c.add(Problem{Dir: dir, What: what})
		}
		id, ok, err := readIdentity(d.dev.FS(), dir)
		switch {
		case err != nil:
			doubt(fmt.Sprintf("identity file %s is unreadable (%v): check the disk mounted here", IdentityFileName, err))
		case !ok:
			doubt(fmt.Sprintf("identity file %s is missing: is the disk mounted?", IdentityFileName))
		case nodeID != "" && id.NodeID != nodeID:
			doubt(fmt.Sprintf("holds disk %s of node %q, but the index belongs to node %q: is the right disk mounted?", id.DiskID, id.NodeID, nodeID))
		case byPath[dir] != "" && byPath[dir] != id.DiskID && known[id.DiskID] == "":
			doubt(fmt.Sprintf("holds disk %s, but the index expects disk %s here: is the right disk mounted?", id.DiskID, byPath[dir]))
		}
		if ok {
			seen[id.DiskID] = true
		} else if want := byPath[dir]; want != "" {
			seen[want] = true // reported above
		}
	}
	for disk, dir := range known {
		if !seen[disk] {
			c.add(Problem{Dir: dir, What: fmt.Sprintf("the index knows disk %s here, but it is not among the directories checked", disk)})
		}
	}
}

// compareIndex checks every index entry against its record, then every
// key's newest record on disk against the index.
func (c *checker) compareIndex(ctx context.Context, s *Store) error {
	live := liveDelta{}
	err := s.index.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			c.report.IndexEntries++
			key := string(k)
			e, err := decodeEntry(v)
			if err != nil {
				c.add(Problem{Key: key, What: fmt.Sprintf("index entry does not decode (%v)", err)})
				return nil
			}
			c.checkEntry(ctx, s, key, e)
			live.install(&e, nil)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("blockstore: reading the index: %w", err)
	}
	if err := c.compareLive(s, live); err != nil {
		return err
	}
	dropped := func(key string) (v uint64) {
		s.index.db.View(func(tx *bolt.Tx) error { v = droppedVersion(tx, key); return nil })
		return v
	}
	for key, seen := range c.newest {
		e, ok, err := s.index.lookup(key)
		if err != nil {
			return err
		}
		if ok && !seen.e.newer(&e) {
			continue
		}
		if seen.unindex {
			c.report.Unindexed++
			continue
		}
		if seen.e.version <= dropped(key) {
			c.report.Dropped++
			continue
		}
		l := seen.e.loc
		what := "record on disk at version %d is missing from the index (--repair rebuilds the index)"
		args := []any{seen.e.version}
		if ok {
			what = "record on disk at version %d is newer than the index's version %d (--repair rebuilds the index)"
			args = append(args, e.version)
		}
		c.problem(l.volume, l.offset, key, fmt.Sprintf(what, args...))
	}
	return nil
}

// compareLive checks the index's live bytes per volume (garbage
// accounting) against what its entries add up to. An index without the
// counts (written before they were kept) is not checked.
func (c *checker) compareLive(s *Store, want liveDelta) error {
	return s.index.db.View(func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketLive)
		if lb == nil {
			return nil
		}
		stored := map[uint32]int64{}
		lb.ForEach(func(k, v []byte) error {
			if n, m := binary.Uvarint(v); len(k) == 4 && m > 0 {
				stored[binary.BigEndian.Uint32(k)] = int64(n)
			}
			return nil
		})
		for _, vol := range slices.Sorted(maps.Keys(stored)) {
			if _, ok := want[vol]; !ok {
				want[vol] = 0
			}
		}
		for _, vol := range slices.Sorted(maps.Keys(want)) {
			if r, ok := c.known[vol]; ok && r.state == volCompacted {
				continue
			}
			if got := stored[vol]; got != want[vol] {
				c.problem(vol, 0, "", fmt.Sprintf("the index counts %d live bytes in the volume, its entries add up to %d (garbage accounting is off; --repair rebuilds the index)", got, want[vol]))
			}
		}
		return nil
	})
}

// checkEntry checks that e's record exists and is the one e describes.
func (c *checker) checkEntry(ctx context.Context, s *Store, key string, e indexEntry) {
	seen, ok := c.newest[key]
	if ok && seen.e.loc == e.loc && seen.e.version == e.version {
		return // the scan decoded it (or reported it corrupt)
	}
	l := e.loc
	if e.tombstone() && l.length == 0 {
		return // a tombstone with no location to check
	}
	if e.corrupt() {
		c.problem(l.volume, l.offset, key, fmt.Sprintf("indexed as corrupt at version %d: repair it from a replica", e.version))
		return
	}
	bad := func(format string, args ...any) {
		c.problem(l.volume, l.offset, key, fmt.Sprintf("index entry (version %d, %d bytes): ", e.version, l.length)+fmt.Sprintf(format, args...))
	}
	v, ok := s.volume(l.volume)
	switch {
	case !ok:
		bad("points at volume %d, which is missing", l.volume)
		return
	case l.length <= 0 || l.offset < 0 || l.offset+l.length > v.size:
		bad("points past the end of the volume (%d bytes)", v.size)
		return
	}
	sc := &scanReader{h: v.h, limit: v.size, align: int64(v.h.Alignment()), window: int(alignUp(l.length, formatAlign))}
	b, err := sc.at(ctx, l.offset, int(l.length))
	if err != nil {
		bad("record unreadable (%v)", err)
		return
	}
	rec, st, err := decodeRecord(b)
	switch {
	case st != headerValid:
		bad("the record there fails its checksum or does not decode (%v)", err)
	case string(rec.key) != key:
		bad("the record there is of key %q", rec.key)
	case rec.version != e.version:
		bad("the record there is at version %d", rec.version)
	case int64(rec.recordLen()) != l.length:
		bad("the record there is %d bytes long", rec.recordLen())
	case ok && seen.e.newer(&e):
		// Reported as "newer on disk" by compareIndex.
	}
}
