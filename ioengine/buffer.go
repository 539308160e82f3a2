package ioengine

import "sync"

// Size classes of BufferPool. Requests up to smallClass bytes share the small
// pool, up to largeClass the large pool; anything bigger is allocated aligned
// and dropped on Put.
const (
	smallClass = 64 << 10
	largeClass = 1 << 20
)

// Buffer is an aligned byte slice from a BufferPool. B starts at an aligned
// address; its length is the requested size rounded up to the alignment.
// Callers may reslice B (e.g. to a shorter length) but must not append past
// its capacity and must not use B after Put.
type Buffer struct {
	B []byte

	full  []byte // whole aligned region of this buffer's class
	class int    // 0 = not pooled, else smallClass or largeClass
	align int    // alignment of full; Put drops buffers of other pools
}

// BufferPool hands out aligned buffers in two size classes (64 KiB and
// 1 MiB) backed by sync.Pool, so the steady state allocates nothing per
// operation. It is safe for concurrent use.
type BufferPool struct {
	align int
	small sync.Pool
	large sync.Pool
}

// NewBufferPool returns a pool whose buffers start at multiples of align and
// have lengths that are multiples of align. align <= 0 means DefaultAlignment.
func NewBufferPool(align int) *BufferPool {
	if align <= 0 {
		align = DefaultAlignment
	}
	p := &BufferPool{align: align}
	p.small.New = func() any { return p.newBuffer(smallClass) }
	p.large.New = func() any { return p.newBuffer(largeClass) }
	return p
}

func (p *BufferPool) newBuffer(class int) *Buffer {
	full := AlignedBytes(int(AlignUp(int64(class), p.align)), p.align)
	return &Buffer{full: full, class: class, align: p.align}
}

// Alignment returns the pool's alignment.
func (p *BufferPool) Alignment() int { return p.align }

// Get returns a buffer with len(B) == AlignUp(n, alignment). The contents are
// not zeroed: a pooled buffer holds whatever its last user wrote.
func (p *BufferPool) Get(n int) *Buffer {
	if n < 0 {
		n = 0
	}
	size := int(AlignUp(int64(n), p.align))
	var b *Buffer
	switch {
	case size <= smallClass:
		b = p.small.Get().(*Buffer)
	case size <= largeClass:
		b = p.large.Get().(*Buffer)
	default:
		return &Buffer{B: AlignedBytes(size, p.align)}
	}
	b.B = b.full[:size]
	return b
}

// Put returns b to the pool. Buffers larger than 1 MiB, nil and buffers of
// other pools' classes are dropped for the GC.
func (p *BufferPool) Put(b *Buffer) {
	if b == nil {
		return
	}
	b.B = nil
	if b.align != p.align {
		return
	}
	switch b.class {
	case smallClass:
		p.small.Put(b)
	case largeClass:
		p.large.Put(b)
	}
}
