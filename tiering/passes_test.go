package tiering

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"strata/blockstore"
)

// TestPassesPassThrough runs a scrub pass of the real HDD tier through the
// tiered store; a backend without passes answers ErrNoPasses, and a closed
// store ErrClosed.
func TestPassesPassThrough(t *testing.T) {
	e := openReal(t, t.TempDir())
	ctx := context.Background()
	if _, err := e.s.Put(ctx, "k", bytes.NewReader(randBytes(1, 5000)), 5000, blockstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := e.s.StartPass(blockstore.PassScrub)
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.s.WaitPass(ctx, blockstore.PassScrub, st.ID)
	if err != nil || done.Running || done.Scrub == nil || done.Scrub.Records == 0 {
		t.Fatalf("scrub through tiering: %+v, %v", done, err)
	}
	if got, err := e.s.Pass(blockstore.PassScrub, 0); err != nil || got.ID != st.ID {
		t.Fatalf("Pass: %+v, %v", got, err)
	}
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.StartPass(blockstore.PassCompact); !errors.Is(err, ErrClosed) {
		t.Fatalf("StartPass after Close: %v", err)
	}
	fake := openEnv(t, smallOpts(t, newFakeBackend(64<<10)))
	if _, err := fake.s.StartPass(blockstore.PassCompact); !errors.Is(err, ErrNoPasses) {
		t.Fatalf("StartPass over a backend without passes: %v", err)
	}
}
