# shellcheck shell=bash
# node.sh: helpers the benchmark scripts share for the nodes they start.
# Source it; it defines functions only.

# wait_ready URL TRIES [PID LOG]: poll URL/readyz every 0.1 s, up to TRIES
# times, until it answers 200. With PID, give up as soon as that process
# has exited, printing LOG. Returns 0 when ready; otherwise says why on
# stderr and returns 1 (the caller decides whether that ends the run).
wait_ready() {
	local url="$1" tries="$2" pid="${3:-}" log="${4:-}"
	for _ in $(seq 1 "$tries"); do
		if curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; then
			return 0
		fi
		if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
			[[ -n "$log" ]] && cat "$log" >&2
			echo "node at $url exited" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "node at $url did not become ready" >&2
	return 1
}

# free_port: a loopback TCP port free right now (python3, else a random
# one in 20000-39999).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

# free_port_except PORT: a free loopback port other than PORT, for a second
# listener of the same node.
free_port_except() {
	local p
	p="$(free_port)"
	while [[ "$p" == "$1" ]]; do p="$(free_port)"; done
	echo "$p"
}

# cpu_ticks PID: user+sys clock ticks the process has used so far
# (divide by $(getconf CLK_TCK) for seconds).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
