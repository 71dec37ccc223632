// preempt.go - needs asynchronous preemption: with GOMAXPROCS(1), one
// goroutine spins in a loop without function calls (no cooperative
// preemption point) while another must make progress. Go preempts the
// spinner by sending SIGURG to its thread (tgkill) and editing the signal
// context; without that (or without the kernel's time slice and signal
// delivery) this program never ends. Also several CPU-heavy goroutines that
// must all finish. Exits 0 and prints the same lines natively.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var stop int32

//go:noinline
func spin() uint64 {
	var x uint64
	for atomic.LoadInt32(&stop) == 0 {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func collatzMax(from, to uint64) uint64 {
	best := uint64(0)
	for n := from; n < to; n++ {
		steps := uint64(0)
		for v := n; v != 1; steps++ {
			if v%2 == 0 {
				v /= 2
			} else {
				v = 3*v + 1
			}
		}
		if steps > best {
			best = steps
		}
	}
	return best
}

func main() {
	runtime.GOMAXPROCS(1)
	go spin()
	// Give the spinner the only P, then ask for progress from here: this
	// goroutine runs again only if the spinner is preempted.
	runtime.Gosched()
	time.Sleep(10 * time.Millisecond)
	progress := 0
	for i := 0; i < 5; i++ {
		runtime.Gosched()
		progress++
	}
	atomic.StoreInt32(&stop, 1)
	fmt.Println("main made progress while a goroutine spun:", progress)

	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	res := make([]uint64, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			res[i] = collatzMax(uint64(1+i*50000), uint64(1+(i+1)*50000))
		}(i)
	}
	wg.Wait()
	fmt.Println("collatz max steps per quarter:", res)
}
