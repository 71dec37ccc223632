// http_hello.go - a net/http service for emberd: GET / answers
// "hello from go\n", GET /count the number of requests this process has
// answered. Usage: http_hello [PORT] (default $PORT, else 8080). Runs
// natively too.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"sync/atomic"
)

func main() {
	port := os.Getenv("PORT")
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	if port == "" {
		port = "8080"
	}
	var n int64
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		atomic.AddInt64(&n, 1)
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "hello from go\n")
	})
	http.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", atomic.AddInt64(&n, 1))
	})
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
