package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"strata/blockstore"
)

// The admin listener's pass routes (SetPasses), authorized as every
// AdminPrefix route is (handleAdmin): GET with a read token, POST with an
// admin-scope one (or from loopback when no admin token is configured).
//
//	POST /admin/compact   start a compaction pass now: 202 and the pass
//	POST /admin/scrub     start a scrub pass now: 202 and the pass
//	GET  /admin/compact   the running pass, else the last one (?id=N: that
//	GET  /admin/scrub     pass; &wait=DURATION: answer once it finished or
//	                      after at most DURATION, capped at a minute)
//
// A POST while a pass of that kind runs (the background loop's, or one
// started before) starts nothing: 409 with code "pass_running" and the
// running pass under "pass", so a caller can follow that one instead.
const (
	AdminCompactPath = AdminPrefix + "compact"
	AdminScrubPath   = AdminPrefix + "scrub"
)

// maxPassWait caps GET's wait parameter.
const maxPassWait = time.Minute

// PassRunner runs the local store's compaction and scrub passes on demand:
// *tiering.Store (over *blockstore.Store) implements it. In cluster mode
// it is the local store, not the coordinator: passes are per node.
type PassRunner interface {
	StartPass(kind blockstore.PassKind) (blockstore.PassStatus, error)
	Pass(kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error)
	WaitPass(ctx context.Context, kind blockstore.PassKind, id uint64) (blockstore.PassStatus, error)
}

// SetPasses serves AdminCompactPath and AdminScrubPath from p (in cluster
// mode, the local store). Without it they are served by the attached
// Store when it is a PassRunner (Tiered's is); otherwise they answer 503
// "starting" while no store is attached, 404 after.
func (s *Server) SetPasses(p PassRunner) { s.passes.Store(&p) }

// passRunner is SetPasses's runner, else the attached store if it is one.
func (s *Server) passRunner() (PassRunner, error) {
	if pp := s.passes.Load(); pp != nil {
		return *pp, nil
	}
	st := s.currentStore()
	if st == nil {
		return nil, errStarting
	}
	if p, ok := st.(PassRunner); ok {
		return p, nil
	}
	return nil, errNoRoute
}

// Pass results, in PassReport.Result.
const (
	PassResultNone     = "none"     // no pass of the kind ran since the node started
	PassResultRunning  = "running"  // the pass is running
	PassResultOK       = "ok"       // it completed and found nothing wrong
	PassResultProblems = "problems" // it completed: a scrub found corruption or read errors, or compaction had to keep a volume
	PassResultFailed   = "failed"   // it stopped before completing (Error says why)
)

// PassReport is a pass as the pass routes answer it (JSON).
type PassReport struct {
	Kind       string     `json:"kind"`
	ID         uint64     `json:"id"`
	Trigger    string     `json:"trigger,omitempty"` // "background" or "request"
	Running    bool       `json:"running"`
	Result     string     `json:"result"`
	Error      string     `json:"error,omitempty"`
	Started    *time.Time `json:"started,omitempty"`
	Finished   *time.Time `json:"finished,omitempty"`
	DoneBytes  int64      `json:"done_bytes"`
	TotalBytes int64      `json:"total_bytes"`
	// Progress is DoneBytes over TotalBytes (1 for a pass with nothing to do).
	Progress float64           `json:"progress"`
	Compact  *CompactPassStats `json:"compact,omitempty"`
	Scrub    *ScrubPassStats   `json:"scrub,omitempty"`
}

// CompactPassStats is what a finished compaction pass did.
type CompactPassStats struct {
	Volumes            []uint32 `json:"volumes"`        // compacted and removed
	Failed             []uint32 `json:"failed_volumes"` // left in place (see the node's log)
	RecordsCopied      int64    `json:"records_copied"`
	BytesCopied        int64    `json:"bytes_copied"`
	BytesReclaimed     int64    `json:"bytes_reclaimed"`
	TombstonesDropped  int64    `json:"tombstones_dropped"`
	ManifestsRewritten int64    `json:"manifests_rewritten"`
	CopiesLost         int64    `json:"copies_lost"`
}

// ScrubPassStats is what a finished scrub pass found.
type ScrubPassStats struct {
	Disks       int      `json:"disks"`
	Resumed     bool     `json:"resumed"`
	Volumes     int      `json:"volumes"`
	Records     int64    `json:"records"`
	Bytes       int64    `json:"bytes"`
	Corruptions int      `json:"corruptions"`
	Marked      int      `json:"marked"`
	ReadErrors  int      `json:"read_errors"`
	Problems    []string `json:"problems,omitempty"` // the first 100, in plain words
}

// passConflict is the 409 answer of a POST while a pass runs.
type passConflict struct {
	Error string     `json:"error"`
	Code  string     `json:"code"`
	Pass  PassReport `json:"pass"`
}

// ReportPass turns a store's PassStatus into its PassReport.
func ReportPass(st blockstore.PassStatus) PassReport {
	r := PassReport{
		Kind: string(st.Kind), ID: st.ID, Trigger: st.Trigger, Running: st.Running, Error: st.Err,
		DoneBytes: st.DoneBytes, TotalBytes: st.TotalBytes, Progress: 1,
	}
	if st.TotalBytes > 0 {
		r.Progress = min(1, float64(st.DoneBytes)/float64(st.TotalBytes))
	}
	stamp := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	r.Started, r.Finished = stamp(st.Started), stamp(st.Finished)
	if c := st.Compact; c != nil {
		r.Compact = &CompactPassStats{
			Volumes: c.Volumes, Failed: c.Failed, RecordsCopied: c.RecordsCopied, BytesCopied: c.BytesCopied,
			BytesReclaimed: c.BytesReclaimed, TombstonesDropped: c.TombstonesDropped,
			ManifestsRewritten: c.ManifestsRewritten, CopiesLost: c.Lost,
		}
	}
	if sc := st.Scrub; sc != nil {
		r.Scrub = &ScrubPassStats{
			Disks: sc.Disks, Resumed: sc.Resumed, Volumes: sc.Volumes, Records: sc.Records, Bytes: sc.Bytes,
			Corruptions: sc.Corruptions, Marked: sc.Marked, ReadErrors: sc.ReadErrors,
		}
		for _, p := range sc.Problems {
			r.Scrub.Problems = append(r.Scrub.Problems, p.String())
		}
	}
	switch {
	case st.ID == 0:
		r.Result, r.Progress = PassResultNone, 0
	case st.Running:
		r.Result = PassResultRunning
	case st.Err != "":
		r.Result = PassResultFailed
	case r.Compact != nil && len(r.Compact.Failed) > 0,
		r.Scrub != nil && (r.Scrub.Corruptions > 0 || r.Scrub.ReadErrors > 0):
		r.Result = PassResultProblems
	default:
		r.Result = PassResultOK
	}
	return r
}

// passKindOf maps a pass route to its kind.
func passKindOf(path string) (blockstore.PassKind, bool) {
	switch path {
	case AdminCompactPath:
		return blockstore.PassCompact, true
	case AdminScrubPath:
		return blockstore.PassScrub, true
	}
	return "", false
}

// handlePasses serves a pass route (already authorized).
func (s *Server) handlePasses(w http.ResponseWriter, r *http.Request, kind blockstore.PassKind) {
	p, err := s.passRunner()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch r.Method {
	case http.MethodPost:
		st, err := p.StartPass(kind)
		if errors.Is(err, blockstore.ErrPassRunning) {
			writeJSON(w, http.StatusConflict, passConflict{
				Error: fmt.Sprintf("a %s pass is already running; nothing new was started", kind),
				Code:  "pass_running",
				Pass:  ReportPass(st),
			})
			return
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.log.Info("admin: pass started", "kind", kind, "id", st.ID, "remote", r.RemoteAddr)
		w.Header().Set("Location", fmt.Sprintf("%s?id=%d", r.URL.Path, st.ID))
		writeJSON(w, http.StatusAccepted, ReportPass(st))
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		var id uint64
		if v := q.Get("id"); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				s.writeError(w, r, fmt.Errorf("%w: id %q", errBadRequest, v))
				return
			}
			id = n
		}
		var wait time.Duration
		if v := q.Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				s.writeError(w, r, fmt.Errorf("%w: wait %q", errBadRequest, v))
				return
			}
			wait = min(d, maxPassWait)
		}
		st, err := p.Pass(kind, id)
		if err == nil && st.Running && wait > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), wait)
			st, err = p.WaitPass(ctx, kind, st.ID)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
				err = nil // still running: answer how far it is
				st, err = p.Pass(kind, st.ID)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ReportPass(st))
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		s.writeError(w, r, errMethod)
	}
}
