package errorfs

import (
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// OnIndex fails the n-th (0-based) op of kind that reaches it with err.
func OnIndex(kind OpKind, n int, err error) Injector {
	var seen atomic.Int64
	return InjectorFunc(func(op Op) Fault {
		if op.Kind != kind {
			return Fault{}
		}
		if seen.Add(1)-1 == int64(n) {
			return Fault{Err: err}
		}
		return Fault{}
	})
}

// TearWrite tears the n-th (0-based) write that reaches it: only the first
// prefix bytes reach the file, then the write fails with EIO.
func TearWrite(n int, prefix int) Injector {
	var seen atomic.Int64
	return InjectorFunc(func(op Op) Fault {
		if op.Kind != OpWrite {
			return Fault{}
		}
		if seen.Add(1)-1 == int64(n) {
			return Fault{Err: EIO, TornPrefix: prefix}
		}
		return Fault{}
	})
}

// PathMatch passes to inj only ops whose Path matches glob (filepath.Match
// syntax). A glob without a path separator is also tried against the base
// name, so "*.vol" matches "/data/hdd0/000001.vol".
func PathMatch(glob string, inj Injector) Injector {
	baseOnly := !strings.Contains(glob, string(filepath.Separator))
	return InjectorFunc(func(op Op) Fault {
		if ok, _ := filepath.Match(glob, op.Path); ok {
			return inj.Inject(op)
		}
		if baseOnly {
			if ok, _ := filepath.Match(glob, filepath.Base(op.Path)); ok {
				return inj.Inject(op)
			}
		}
		return Fault{}
	})
}

// Any shows every op to every injector (so all of them count it) and
// returns the first fault, in argument order.
func Any(injs ...Injector) Injector {
	return InjectorFunc(func(op Op) Fault {
		var first Fault
		for _, inj := range injs {
			if inj == nil {
				continue
			}
			if f := inj.Inject(op); f.Err != nil && first.Err == nil {
				first = f
			}
		}
		return first
	})
}

// Toggle is an injector tests flip at runtime: fail every op of a kind
// (Set), delegate to another injector (SetInjector), or nothing (Clear).
// It is safe for concurrent use.
type Toggle struct {
	mu    sync.RWMutex
	errs  [numOpKinds]error
	inner Injector
}

// NewToggle returns a Toggle that injects nothing until Set.
func NewToggle() *Toggle { return &Toggle{} }

// Set makes every later op of kind fail with err; a nil err stops that.
func (t *Toggle) Set(kind OpKind, err error) {
	if kind < 0 || kind >= numOpKinds {
		return
	}
	t.mu.Lock()
	t.errs[kind] = err
	t.mu.Unlock()
}

// SetInjector makes inj decide for ops that no Set kind fails; nil removes it.
func (t *Toggle) SetInjector(inj Injector) {
	t.mu.Lock()
	t.inner = inj
	t.mu.Unlock()
}

// Clear removes every fault set on t.
func (t *Toggle) Clear() {
	t.mu.Lock()
	t.errs = [numOpKinds]error{}
	t.inner = nil
	t.mu.Unlock()
}

// Inject implements Injector.
func (t *Toggle) Inject(op Op) Fault {
	t.mu.RLock()
	var err error
	if op.Kind >= 0 && op.Kind < numOpKinds {
		err = t.errs[op.Kind]
	}
	inner := t.inner
	t.mu.RUnlock()
	if err != nil {
		return Fault{Err: err}
	}
	if inner != nil {
		return inner.Inject(op)
	}
	return Fault{}
}
