package node

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// readyzBody is the JSON answer of /readyz. Ready means "serves reads":
// a node whose disks are full or read-only still serves what it holds, so
// a load balancer keeps sending it reads. Writable says whether it also
// takes new blobs, the same way whether the disk filled while running or
// was full at start.
type readyzBody struct {
	Status string `json:"status"`           // "ready" or "not_ready"
	Reason string `json:"reason,omitempty"` // why not ready, a statusOf code
	// Writable is whether PUTs can succeed now; WriteReason, a statusOf
	// code ("no_space", "read_only"), says why not.
	Writable    bool   `json:"writable"`
	WriteReason string `json:"write_reason,omitempty"`
	// FailedDisks lists the data directories whose disks the store took
	// out of service after too many I/O errors ([] when none, or when the
	// store cannot tell). The node stays ready while another disk serves.
	FailedDisks []string `json:"failed_disks"`
	// ReadOnly is read_only: the node refuses client writes (Writable is
	// then false, WriteReason "read_only") and takes replica traffic.
	ReadOnly bool `json:"read_only"`
	// Listeners are the blob listeners' bound addresses.
	Listeners listenerAddrs `json:"listeners"`
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, errMethod)
		return
	}
	body := readyzBody{Status: "ready"}
	store := s.currentStore()
	switch {
	case !s.ready.Load():
		body.Reason = "shutting_down"
	case store == nil:
		body.Reason = "starting"
	default:
		if err := store.Healthy(); err != nil {
			_, body.Reason, _ = statusOf(err)
		}
	}
	body.Writable, body.WriteReason = s.writability()
	body.FailedDisks = failedDisks(store)
	body.ReadOnly = s.cfg.ReadOnly
	body.Listeners = s.boundAddrs()
	if body.Reason != "" {
		body.Status = "not_ready"
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// writability reports whether the node takes client writes, and if not a
// statusOf code saying why: "read_only" in read-only mode, else what the
// store says. No store yet: not writable, "starting".
func (s *Server) writability() (writable bool, reason string) {
	if s.cfg.ReadOnly {
		return false, "read_only"
	}
	store := s.currentStore()
	if store == nil {
		return false, "starting"
	}
	if err := store.Writable(); err != nil {
		_, reason, _ = statusOf(err)
		return false, reason
	}
	return true, ""
}

// failedDisksReporter is the optional Store method behind "failed_disks"
// in /readyz and strata_failed_disks.
type failedDisksReporter interface {
	FailedDisks() []string
}

// failedDisks is what store reports as failed disks, never nil.
func failedDisks(store Store) []string {
	if r, ok := store.(failedDisksReporter); ok {
		if dirs := r.FailedDisks(); dirs != nil {
			return dirs
		}
	}
	return []string{}
}

// newFailedDisksGauge exports the number of failed disks as
// strata_failed_disks.
func newFailedDisksGauge(store func() Store) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_failed_disks",
		Help: "Data disks taken out of service after too many I/O errors (their blobs are served by other replicas); /readyz lists them.",
	}, func() float64 { return float64(len(failedDisks(store()))) })
}

// newWritableGauge exports writability as strata_writable, 1 or 0.
func newWritableGauge(writability func() (bool, string)) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_writable",
		Help: "1 while the node accepts new blobs, 0 when it cannot (no space, read-only disk or read_only mode, starting); reads are served either way.",
	}, func() float64 {
		if ok, _ := writability(); ok {
			return 1
		}
		return 0
	})
}

// newReadOnlyGauge exports read_only as strata_read_only, 1 or 0.
func newReadOnlyGauge(readOnly bool) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "strata_read_only",
		Help: "1 when the node was started read-only (read_only): it serves reads, refuses client writes with 503 and still takes replica traffic.",
	})
	if readOnly {
		g.Set(1)
	}
	return g
}
