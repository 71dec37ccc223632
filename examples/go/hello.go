// hello.go - the Go runtime's basics under Ember, with output that does not
// depend on the machine (the same natively and in a microVM): goroutines
// with a WaitGroup, channels and select, time.Sleep, a timer and a ticker,
// runtime.GOMAXPROCS/NumCPU, os.Args, the environment and the exit status.
// Usage: hello [ARGS...]; exits with $GO_EXIT (default 0).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

func main() {
	fmt.Println("hello from go")
	fmt.Printf("args: %q\n", os.Args[1:])
	fmt.Printf("GO_GREETING=%q\n", os.Getenv("GO_GREETING"))
	fmt.Printf("numcpu>=1: %v gomaxprocs==numcpu: %v\n", runtime.NumCPU() >= 1,
		runtime.GOMAXPROCS(0) == runtime.NumCPU())

	// Goroutines and a WaitGroup: each squares its number into a channel.
	var wg sync.WaitGroup
	results := make(chan int, 8)
	for i := 1; i <= 8; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			results <- n * n
		}(i)
	}
	wg.Wait()
	close(results)
	var squares []int
	for v := range results {
		squares = append(squares, v)
	}
	sort.Ints(squares)
	fmt.Println("squares:", squares)

	// An unbuffered ping-pong between two goroutines.
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 1000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	fmt.Println("ping-pong:", v)

	// select with a timer, a ticker and time.Sleep.
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	slept := time.Since(start) >= 20*time.Millisecond
	timer := time.NewTimer(30 * time.Millisecond)
	ticker := time.NewTicker(5 * time.Millisecond)
	ticks := 0
	done := make(chan struct{})
	go func() {
		time.Sleep(10 * time.Millisecond)
		close(done)
	}()
	gotDone := false
loop:
	for {
		select {
		case <-done:
			gotDone = true
		case <-ticker.C:
			ticks++
		case <-timer.C:
			break loop
		}
	}
	ticker.Stop()
	fmt.Printf("slept: %v done: %v ticks>0: %v elapsed>=50ms: %v\n", slept, gotDone, ticks > 0,
		time.Since(start) >= 50*time.Millisecond)

	// A mutex shared by many goroutines.
	var mu sync.Mutex
	total := 0
	var wg2 sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for j := 0; j < 1000; j++ {
				mu.Lock()
				total++
				mu.Unlock()
				if j%100 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg2.Wait()
	fmt.Println("mutex total:", total)

	code := 0
	if s := os.Getenv("GO_EXIT"); s != "" {
		code, _ = strconv.Atoi(s)
	}
	fmt.Println("exit", code)
	os.Exit(code)
}
