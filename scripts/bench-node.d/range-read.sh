# shellcheck shell=bash
# range-read: 4 KiB Ranges from the middle of a 1 GiB blob, each from another
# 8 MiB chunk, so no cache holds what it reads. Per Range: the bytes the node
# read from storage (/proc/PID/io read_bytes) and the data device's reads
# (strata_device_ops_total{op="read"}), after one warm-up Range that reads
# the manifest. With RANGE_BASE_BIN=PATH (a strata binary of another commit)
# both binaries run alternately, $repeat times each, and the summary gives
# the ratios (this tree / base). RANGE_READS sets the Ranges per run (64;
# at most 127).

# range_dev_reads: the data devices' read operations so far.
range_dev_reads() {
	curl -fsS "$node_addr/metrics" | awk '/^strata_device_ops_total/ && /op="read"/ && /device="data/ {s += $NF} END {printf "%d\n", s}'
}

# range_run BIN LABEL RUN: one fresh node, one 1 GiB PUT, the Ranges; prints
# "bytes_per_range reads_per_range".
range_run() {
	local run_bin="$1" label="$2" r="$3" n="${RANGE_READS:-64}"
	local chunk=$((8 << 20))
	local saved="$bin"
	bin="$run_bin"
	start_node "range-$label-$r" 'chunk_size = "8MiB"'
	bin="$saved"
	curl -fsS -o /dev/null -T "$dir/range-1g.bin" "$node_addr/blobs/range/big"
	local want
	want="$(curl -fsS -o /dev/null -w '%{http_code} %{size_download}' -H "Range: bytes=$((chunk / 2))-$((chunk / 2 + 4095))" "$node_addr/blobs/range/big")"
	[[ "$want" == "206 4096" ]] || { echo "range-read: warm-up Range answered $want" >&2; exit 1; }
	local io0 ops0 io1 ops1 i off got
	io0="$(awk '/^read_bytes:/ {print $2}' "/proc/$node_pid/io")"
	ops0="$(range_dev_reads)"
	for i in $(seq 1 "$n"); do
		off=$((i * chunk + chunk / 2 + 12345))
		got="$(curl -fsS -o /dev/null -w '%{http_code} %{size_download}' -H "Range: bytes=$off-$((off + 4095))" "$node_addr/blobs/range/big")"
		[[ "$got" == "206 4096" ]] || { echo "range-read: Range at $off answered $got" >&2; exit 1; }
	done
	io1="$(awk '/^read_bytes:/ {print $2}' "/proc/$node_pid/io")"
	ops1="$(range_dev_reads)"
	stop_node
	rm -rf "$node_data"
	awk -v b=$((io1 - io0)) -v o=$((ops1 - ops0)) -v n="$n" 'BEGIN {printf "%.0f %.2f\n", b / n, o / n}'
}

bench_range_read() {
	say ""
	say "== range-read: 4 KiB Ranges, each from the middle of another 8 MiB chunk of a 1 GiB blob (manifest cached by a warm-up Range)"
	head -c $((1 << 30)) /dev/urandom >"$dir/range-1g.bin"
	local r res bytes=() reads=() bbytes=() breads=() ratios_b=() ratios_o=()
	for r in $(seq 1 "$repeat"); do
		res="$(range_run "$bin" new "$r")"
		bytes+=("${res% *}")
		reads+=("${res#* }")
		say "  run $r: this tree: $(printf '%s' "${res% *}") bytes and ${res#* } device reads per Range"
		if [[ -n "${RANGE_BASE_BIN:-}" ]]; then
			res="$(range_run "$(readlink -f "$RANGE_BASE_BIN")" base "$r")"
			bbytes+=("${res% *}")
			breads+=("${res#* }")
			say "  run $r: base:      ${res% *} bytes and ${res#* } device reads per Range"
			ratios_b+=("$(ratio "${bytes[-1]}" "${res% *}")")
			ratios_o+=("$(ratio "${reads[-1]}" "${res#* }")")
		fi
	done
	say "range-read: median $(median "${bytes[@]}") bytes, $(median "${reads[@]}") device reads per 4 KiB Range (this tree)"
	if [[ -n "${RANGE_BASE_BIN:-}" ]]; then
		say "range-read: base median $(median "${bbytes[@]}") bytes, $(median "${breads[@]}") device reads per Range"
		say "range-read: ratio this tree / base: bytes $(median "${ratios_b[@]}"), device reads $(median "${ratios_o[@]}") (median of paired ratios)"
	fi
	rm -f "$dir/range-1g.bin"
}
