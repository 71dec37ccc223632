// crash.go - Go turns SIGSEGV into a panic: a nil pointer dereference is
// recovered, and so are a nil map write, an out-of-range index and a
// division by zero (the compiler checks the divisor: no SIGFPE); then, with
// "fatal", an unrecovered nil dereference ends the program with Go's exit
// status 2 and its panic message on stderr.
// Usage: crash [fatal]
package main

import (
	"fmt"
	"os"
)

type node struct {
	next *node
	val  int
}

//go:noinline
func deref(n *node) int { return n.val }

func try(name string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Printf("%s: recovered: %v\n", name, r)
		}
	}()
	f()
	fmt.Printf("%s: no panic\n", name)
}

func main() {
	var n *node
	try("nil deref", func() { _ = deref(n) })
	try("nil map write", func() {
		var m map[string]int
		m["x"] = 1
	})
	idx := len(os.Args) + 5
	try("index", func() { _ = []int{1, 2, 3}[idx] })
	zero := len(os.Args) - len(os.Args)
	try("divide", func() { _ = 10 / zero })
	try("explicit", func() { panic("boom") })
	fmt.Println("all recovered")
	if len(os.Args) > 1 && os.Args[1] == "fatal" {
		fmt.Println(deref(n))
	}
}
