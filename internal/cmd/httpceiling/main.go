// Command httpceiling is the HTTP ceiling the node benchmarks measure Strata
// against: a bare net/http server with no storage behind it. It answers
//
//	GET /<anything>  with -size bytes from memory (200, Content-Length set)
//	PUT /<anything>  by reading and discarding the body, then 201
//
// so a ratio against it isolates what Strata adds on top of net/http on the
// same machine, the same client and the same connections. It is a benchmark
// tool, not part of the product: scripts/bench-node.sh builds and runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	size := flag.Int("size", 4096, "bytes a GET returns")
	lean := flag.Bool("lean", false, "answer GET and HEAD from a minimal HTTP/1.1 loop instead of net/http (lean.go)")
	flag.Parse()
	if *size < 0 {
		fmt.Fprintln(os.Stderr, "httpceiling: -size must be >= 0")
		os.Exit(2)
	}
	body := make([]byte, *size)
	for i := range body {
		body[i] = byte(i*7 + 3)
	}
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			w.Header().Set("Content-Length", length)
			w.Header().Set("Content-Type", "application/octet-stream")
			if r.Method == http.MethodGet {
				_, _ = w.Write(body)
			}
		case http.MethodPut:
			if _, err := io.Copy(io.Discard, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
	if *lean {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			log.Fatal(err)
		}
		log.Fatal(serveLean(ln, body))
	}
	log.Fatal(http.ListenAndServe(*listen, h))
}
