package ioengine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"strata/internal/poll"
	"strata/ioengine"
	"strata/ioengine/errorfs"
	"strata/ioengine/memfs"
)

func TestHandleStats(t *testing.T) {
	toggle := errorfs.NewToggle()
	dev, err := ioengine.NewDevice(errorfs.Wrap(memfs.New(memfs.Options{}), toggle), "/hdd0",
		ioengine.DeviceOptions{Name: "hdd0", MaxInFlight: 4})
	if err != nil {
		t.Fatal(err)
	}
	h, err := dev.Open("vol", ioengine.FlagCreate|ioengine.FlagDirect)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	buf := dev.Buffers().Get(8192)
	defer dev.Buffers().Put(buf)

	for range 3 {
		if _, err := h.WriteAt(ctx, ioengine.ClassWrite, buf.B, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Sync(ctx, ioengine.ClassWrite); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := h.ReadAt(ctx, ioengine.ClassRead, buf.B[:4096], 4096); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.ReadAt(ctx, ioengine.ClassBackground, buf.B[:4096], 8192); err == nil {
		t.Fatal("read past EOF succeeded") // io.EOF: not counted as an error
	}
	if err := h.Allocate(ctx, ioengine.ClassBackground, 0, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := h.Truncate(ctx, ioengine.ClassBackground, 8192); err != nil {
		t.Fatal(err)
	}
	toggle.Set(errorfs.OpRead, errorfs.EIO)
	if _, err := h.ReadAt(ctx, ioengine.ClassRead, buf.B[:4096], 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("injected read: %v", err)
	}
	toggle.Clear()
	if _, err := h.ReadAt(ctx, ioengine.Class(7), buf.B, 0); !errors.Is(err, ioengine.ErrInvalidClass) {
		t.Fatalf("bad class: %v", err)
	}

	s := dev.Stats()
	if s.Name != "hdd0" || s.Dir != "/hdd0" || !s.Direct || s.Alignment != 4096 || s.InFlight != 0 || s.Queued != 0 {
		t.Fatalf("device stats %+v", s)
	}
	if s.SyncLatency.Count != 1 {
		t.Errorf("sync latency count %d, want the 1 fdatasync", s.SyncLatency.Count)
	}
	want := [3]ioengine.ClassStats{
		ioengine.ClassRead:       {ReadOps: 6, ReadBytes: 5 * 4096, Errors: 1},
		ioengine.ClassWrite:      {WriteOps: 3, WriteBytes: 3 * 8192, SyncOps: 1},
		ioengine.ClassBackground: {ReadOps: 1, OtherOps: 2},
	}
	for c, w := range want {
		got := s.Classes[c]
		ops := got.ReadOps + got.WriteOps + got.SyncOps + got.OtherOps
		if got.ReadOps != w.ReadOps || got.ReadBytes != w.ReadBytes || got.WriteOps != w.WriteOps ||
			got.WriteBytes != w.WriteBytes || got.SyncOps != w.SyncOps || got.OtherOps != w.OtherOps ||
			got.Errors != w.Errors {
			t.Errorf("class %v: got %+v, want %+v", ioengine.Class(c), got, w)
		}
		if got.Latency.Count != ops || got.QueueWait.Count != ops {
			t.Errorf("class %v: latency count %d, wait count %d, want %d", ioengine.Class(c), got.Latency.Count, got.QueueWait.Count, ops)
		}
	}

	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadAt(ctx, ioengine.ClassRead, buf.B, 0); !errors.Is(err, ioengine.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := h.Close(); !errors.Is(err, ioengine.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}

// TestHandleCancelWhileQueued holds the only slot with a write blocked inside
// the FS, then checks a queued read returns ctx.Err() and leaves nothing queued.
func TestHandleCancelWhileQueued(t *testing.T) {
	entered, unblock := make(chan struct{}), make(chan struct{})
	blockWrites := errorfs.InjectorFunc(func(op errorfs.Op) errorfs.Fault {
		if op.Kind == errorfs.OpWrite && op.Path == "/d/slow" {
			close(entered)
			<-unblock
		}
		return errorfs.Fault{}
	})
	dev, err := ioengine.NewDevice(errorfs.Wrap(memfs.New(memfs.Options{}), blockWrites), "/d",
		ioengine.DeviceOptions{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := dev.Open("slow", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	other, err := dev.Open("other", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	writeDone := make(chan error, 1)
	go func() {
		_, err := slow.WriteAt(context.Background(), ioengine.ClassWrite, []byte("x"), 0)
		writeDone <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	readDone := make(chan error, 1)
	go func() {
		_, err := other.ReadAt(ctx, ioengine.ClassRead, make([]byte, 1), 0)
		readDone <- err
	}()
	poll.Until(t, "the read queued behind the write", func() bool { return dev.Stats().Queued == 1 })
	cancel()
	if err := <-readDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued read: %v, want context.Canceled", err)
	}
	if s := dev.Stats(); s.Queued != 0 || s.InFlight != 1 {
		t.Fatalf("after cancel: queued %d in flight %d", s.Queued, s.InFlight)
	}
	close(unblock)
	if err := <-writeDone; err != nil {
		t.Fatal(err)
	}
	if s := dev.Stats(); s.Queued != 0 || s.InFlight != 0 {
		t.Fatalf("at rest: queued %d in flight %d", s.Queued, s.InFlight)
	}
	if s := dev.Stats().Classes[ioengine.ClassRead]; s.ReadOps != 0 || s.Errors != 0 {
		t.Fatalf("a cancelled read was counted: %+v", s)
	}
}

func TestNewDeviceRemovesStaleProbes(t *testing.T) {
	m := memfs.New(memfs.Options{})
	if err := m.MkdirAll("/d"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"/d/.ioengine-probe-0123456789abcdef", "/d/keep"} {
		f, err := m.OpenFile(name, ioengine.FlagCreate)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if _, err := ioengine.NewDevice(m, "/d", ioengine.DeviceOptions{}); err != nil {
		t.Fatal(err)
	}
	if names, err := m.ReadDir("/d"); err != nil || len(names) != 1 || names[0] != "keep" {
		t.Fatalf("dir after NewDevice: %v %v", names, err)
	}
}

// TestDevicePriorityEndToEnd holds the only slot with a blocked write, queues
// background, write and read operations in that order, and checks the FS
// sees them in priority order once the slot frees.
func TestDevicePriorityEndToEnd(t *testing.T) {
	entered, unblock := make(chan struct{}), make(chan struct{})
	seen := make(chan string, 4)
	recorder := errorfs.InjectorFunc(func(op errorfs.Op) errorfs.Fault {
		switch {
		case op.Path == "/d/slow" && op.Kind == errorfs.OpWrite:
			close(entered)
			<-unblock
		case op.Path == "/d/h" && op.Kind != errorfs.OpOpen:
			seen <- op.Kind.String()
		}
		return errorfs.Fault{}
	})
	dev, err := ioengine.NewDevice(errorfs.Wrap(memfs.New(memfs.Options{}), recorder), "/d",
		ioengine.DeviceOptions{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := dev.Open("slow", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	h, err := dev.Open("h", ioengine.FlagCreate)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 4)
	go func() {
		_, err := slow.WriteAt(ctx, ioengine.ClassWrite, []byte("x"), 0)
		done <- err
	}()
	<-entered
	queued := []func() error{
		func() error { return h.Sync(ctx, ioengine.ClassBackground) },
		func() error { _, err := h.WriteAt(ctx, ioengine.ClassWrite, []byte("w"), 0); return err },
		func() error {
			_, err := h.ReadAt(ctx, ioengine.ClassRead, make([]byte, 1), 0)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return err
		},
	}
	for i, op := range queued {
		go func() { done <- op() }()
		poll.Until(t, fmt.Sprintf("%d operations queued", i+1), func() bool { return dev.Stats().Queued == i+1 })
	}
	close(unblock)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	close(seen)
	var order []string
	for s := range seen {
		order = append(order, s)
	}
	if got := strings.Join(order, ","); got != "read,write,sync" {
		t.Fatalf("FS saw %s, want read,write,sync", got)
	}
}
