package node

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestNextPieceSize(t *testing.T) {
	const progress = 30 * time.Second
	cases := []struct {
		name string
		n    int
		took time.Duration
		want int
	}{
		{"instant", 64 << 10, 0, maxWritePiece},
		{"memory speed", 64 << 10, 20 * time.Microsecond, maxWritePiece},
		{"1 MiB/s: 7.5 s of it", 1 << 20, time.Second, 7.5 * (1 << 20)}, // capped below
		{"64 KiB/s", 64 << 10, time.Second, 480 << 10},
		{"1 KiB/s", 64 << 10, 64 * time.Second, minWritePiece},
		{"stalled then moved", 64 << 10, time.Hour, minWritePiece},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := min(c.want, maxWritePiece)
			if got := nextPieceSize(c.n, c.took, progress); got != want {
				t.Fatalf("nextPieceSize(%d, %v) = %d, want %d", c.n, c.took, got, want)
			}
		})
	}
}

// deadlineRecorder is a ResponseWriter that records the size of each Write
// and takes write deadlines, as a connection does.
type deadlineRecorder struct {
	h         http.Header
	writes    []int
	deadlines int
}

func (d *deadlineRecorder) Header() http.Header { return d.h }
func (d *deadlineRecorder) WriteHeader(int)     {}
func (d *deadlineRecorder) Write(p []byte) (int, error) {
	d.writes = append(d.writes, len(p))
	return len(p), nil
}
func (d *deadlineRecorder) SetWriteDeadline(time.Time) error { d.deadlines++; return nil }

// A large body goes out in pieces under a deadline each: the first is
// minWritePiece, later ones grow with the client's rate (instant here) up
// to maxWritePiece; without deadlines every piece is minWritePiece.
func TestBlobWriterPieces(t *testing.T) {
	body := make([]byte, 9<<20+5)
	d := &deadlineRecorder{h: http.Header{}}
	rr := &readRecorder{lastTier: "ram"}
	var bw blobWriter
	bw.init(d, http.NewResponseController(d), rr, time.Hour, &sync.Pool{})
	if n, err := bw.Write(body); n != len(body) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	want := []int{minWritePiece, maxWritePiece, maxWritePiece, len(body) - minWritePiece - 2*maxWritePiece}
	if len(d.writes) != len(want) {
		t.Fatalf("writes %v, want %v", d.writes, want)
	}
	for i := range want {
		if d.writes[i] != want[i] {
			t.Fatalf("writes %v, want %v", d.writes, want)
		}
	}
	if d.deadlines == 0 {
		t.Fatal("no write deadline set")
	}

	d2 := &deadlineRecorder{h: http.Header{}}
	var plain blobWriter
	plain.init(d2, nil, rr, time.Hour, &sync.Pool{})
	if _, err := plain.Write(body[:1<<20]); err != nil {
		t.Fatal(err)
	}
	if len(d2.writes) != 16 || d2.writes[0] != minWritePiece {
		t.Fatalf("without deadlines: %d writes, first %d; want 16 of %d", len(d2.writes), d2.writes[0], minWritePiece)
	}
}
