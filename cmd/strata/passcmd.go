package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"

	"strata/node"
)

// exitPassRunning is `strata compact` and `strata scrub` without --wait
// when a pass of that kind was already running: nothing new was started.
const exitPassRunning = 3

// passCommand is what `strata compact` and `strata scrub` share: start a
// pass on a running node through its admin listener (POST
// /admin/compact or /admin/scrub) and, with --wait, follow it (GET
// ?id=N&wait=...) until it is done.
type passCommand struct {
	name string // "compact" or "scrub"
	path string // node.AdminCompactPath or node.AdminScrubPath
	noun string // "compaction" or "scrub"
}

// passPollWait is how long one GET of a running pass waits for its end
// before it answers the progress so far (a progress line each time).
const passPollWait = 5 * time.Second

func (pc passCommand) run(ctx context.Context, s stdio, args []string, description string) int {
	fs := newFlagSet(pc.name, "", description)
	mk := adminClientFlags(fs, "addr")
	wait := fs.Bool("wait", false, "wait until the pass is done, printing progress on stderr; the exit code says how it ended")
	timeout := fs.Duration("timeout", 0, "with --wait, give up waiting after this `duration` (the pass goes on); 0 = as long as it takes")
	asJSON := fs.Bool("json", false, "print the pass (as the node's admin route answers it) as JSON instead of words")
	pos, code, ok := fs.parse(args, s)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fs.usageError(s.err, "unexpected argument %q", pos[0])
	}
	if *timeout < 0 {
		return fs.usageError(s.err, "--timeout must not be negative")
	}
	c, err := mk()
	if err != nil {
		return fs.usageError(s.err, "%v", err)
	}
	defer c.close()
	p, running, err := pc.start(ctx, c)
	if err != nil {
		return fail(s, pc.name, err)
	}
	if running {
		fmt.Fprintf(s.err, "%s: a %s pass is already running (pass %d, %s, started %s); nothing new was started\n",
			pc.name, pc.noun, p.ID, triggerWords(p.Trigger), stampWords(p.Started))
		if !*wait {
			pc.print(s, p, *asJSON)
			return exitPassRunning
		}
		fmt.Fprintf(s.err, "%s: waiting for that pass instead\n", pc.name)
	} else if *wait {
		fmt.Fprintf(s.err, "%s: pass %d started\n", pc.name, p.ID)
	}
	if !*wait {
		if !*asJSON {
			fmt.Fprintf(s.out, "%s: pass %d started (strata %s --wait follows a pass; GET %s?id=%d shows it)\n", pc.name, p.ID, pc.name, pc.path, p.ID)
			return exitOK
		}
		pc.print(s, p, true)
		return exitOK
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	last := ""
	for p.Running {
		if line := progressWords(p); line != last {
			fmt.Fprintf(s.err, "%s: pass %d: %s\n", pc.name, p.ID, line)
			last = line
		}
		var next node.PassReport
		err := c.adminJSON(ctx, http.MethodGet, fmt.Sprintf("%s?id=%d&wait=%s", pc.path, p.ID, passPollWait), http.StatusOK, &next)
		switch {
		case err != nil && ctx.Err() != nil:
			return fail(s, pc.name, fmt.Errorf("gave up waiting for pass %d (it goes on on the node; GET %s?id=%d shows it): %w", p.ID, pc.path, p.ID, ctx.Err()))
		case isNotFound(err):
			return fail(s, pc.name, fmt.Errorf("the node no longer knows pass %d (did it restart?): %w", p.ID, err))
		case err != nil:
			return fail(s, pc.name, fmt.Errorf("following pass %d: %w", p.ID, err))
		}
		p = next
	}
	pc.print(s, p, *asJSON)
	return pc.exitCode(s, p)
}

// start POSTs the pass route. running is true when the node answered 409:
// p is then the pass that was already running.
func (pc passCommand) start(ctx context.Context, c *client) (p node.PassReport, running bool, err error) {
	req, err := c.newRequest(ctx, http.MethodPost, c.base.String()+pc.path, nil)
	if err != nil {
		return p, false, err
	}
	resp, err := c.do(req, http.StatusAccepted, http.StatusConflict)
	if err != nil {
		var se *statusError
		switch {
		case errors.As(err, &se) && se.code == http.StatusNotFound:
			return p, false, fmt.Errorf("%w (is --addr the node's admin listener, not its blob listener?)", err)
		case errors.As(err, &se) && se.code == http.StatusForbidden:
			return p, false, fmt.Errorf("%w (starting a pass needs an admin-scope token, or a read-write one from the node's own host when it has no admin token)", err)
		case errors.Is(err, syscall.ECONNREFUSED):
			return p, false, fmt.Errorf("%w (is the node running? a cluster node started without admin_listen has its admin listener at its listen port + 1000)", err)
		}
		return p, false, err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 1<<20)
	if resp.StatusCode == http.StatusConflict {
		var conflict struct {
			Pass node.PassReport `json:"pass"`
		}
		if err := json.NewDecoder(body).Decode(&conflict); err != nil {
			return p, false, fmt.Errorf("%s: %w", pc.path, err)
		}
		return conflict.Pass, true, nil
	}
	if err := json.NewDecoder(body).Decode(&p); err != nil {
		return p, false, fmt.Errorf("%s: %w", pc.path, err)
	}
	return p, false, nil
}

// exitCode is 0 for a pass that completed with nothing wrong, 1 otherwise,
// with the reason in plain words on stderr.
func (pc passCommand) exitCode(s stdio, p node.PassReport) int {
	switch p.Result {
	case node.PassResultOK:
		return exitOK
	case node.PassResultFailed:
		return fail(s, pc.name, fmt.Errorf("pass %d did not complete: %s", p.ID, p.Error))
	case node.PassResultProblems:
		switch {
		case p.Scrub != nil:
			return fail(s, pc.name, fmt.Errorf("pass %d found %d corrupt records and %d failed reads (the node's log and `strata stat` say where; a cluster repairs current versions from replicas)",
				p.ID, p.Scrub.Corruptions, p.Scrub.ReadErrors))
		case p.Compact != nil:
			return fail(s, pc.name, fmt.Errorf("pass %d left %d volumes in place (%v): a record in them could not be moved; see the node's log", p.ID, len(p.Compact.Failed), p.Compact.Failed))
		}
	}
	return fail(s, pc.name, fmt.Errorf("pass %d ended with result %q", p.ID, p.Result))
}

// print writes the pass: JSON, or a few lines of words.
func (pc passCommand) print(s stdio, p node.PassReport, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(s.out).Encode(p)
		return
	}
	w := s.out
	fmt.Fprintf(w, "%s pass %d (%s): %s\n", pc.noun, p.ID, triggerWords(p.Trigger), p.Result)
	fmt.Fprintf(w, "  started:  %s\n", stampWords(p.Started))
	if p.Finished != nil {
		fmt.Fprintf(w, "  finished: %s (%s)\n", stampWords(p.Finished), p.Finished.Sub(*p.Started).Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  progress: %s\n", progressWords(p))
	if p.Error != "" {
		fmt.Fprintf(w, "  error:    %s\n", p.Error)
	}
	if c := p.Compact; c != nil {
		fmt.Fprintf(w, "  volumes compacted: %d %v\n", len(c.Volumes), c.Volumes)
		if len(c.Failed) > 0 {
			fmt.Fprintf(w, "  volumes kept:      %d %v\n", len(c.Failed), c.Failed)
		}
		fmt.Fprintf(w, "  copied:            %d records, %d bytes\n", c.RecordsCopied, c.BytesCopied)
		fmt.Fprintf(w, "  reclaimed:         %d bytes\n", c.BytesReclaimed)
		fmt.Fprintf(w, "  tombstones dropped: %d\n", c.TombstonesDropped)
	}
	if sc := p.Scrub; sc != nil {
		resumed := ""
		if sc.Resumed {
			resumed = " (resumed an interrupted pass)"
		}
		fmt.Fprintf(w, "  disks:       %d%s\n", sc.Disks, resumed)
		fmt.Fprintf(w, "  verified:    %d records, %d bytes in %d volumes\n", sc.Records, sc.Bytes, sc.Volumes)
		fmt.Fprintf(w, "  corrupt:     %d (%d current versions marked corrupt)\n", sc.Corruptions, sc.Marked)
		fmt.Fprintf(w, "  read errors: %d\n", sc.ReadErrors)
		for _, prob := range sc.Problems {
			fmt.Fprintf(w, "  - %s\n", prob)
		}
	}
}

func progressWords(p node.PassReport) string {
	return fmt.Sprintf("%.1f%% (%d of %d bytes)", 100*p.Progress, p.DoneBytes, p.TotalBytes)
}

func triggerWords(trigger string) string {
	if trigger == "background" {
		return "started by the node's background loop"
	}
	return "started on request"
}

func stampWords(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
