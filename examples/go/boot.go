// boot.go - the smallest Go program that prints: one line, exit 0. Its run
// time is the Go runtime's start-up and exit (bench/go_bench.sh measures it
// natively and in ember-vm).
package main

import "os"

func main() {
	os.Stdout.WriteString("hello from go\n")
}
