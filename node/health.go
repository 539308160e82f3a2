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
	body.Writable, body.WriteReason = writability(store)
	body.FailedDisks = failedDisks(store)
	if body.Reason != "" {
		body.Status = "not_ready"
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// writability reports whether store takes new blobs, and if not a
// statusOf code saying why. No store yet: not writable, "starting".
func writability(store Store) (writable bool, reason string) {
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
func newWritableGauge(store func() Store) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_writable",
		Help: "1 while the store accepts new blobs, 0 when it cannot (no space, read-only, starting); reads are served either way.",
	}, func() float64 {
		if ok, _ := writability(store()); ok {
			return 1
		}
		return 0
	})
}
