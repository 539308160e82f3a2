#!/usr/bin/env bash
# s3-clients.sh: the S3 clients people already use, run for real against a
# `strata serve` with its S3 endpoint on, each step checking the bytes that
# come back. Exits non-zero on the first failure, saying which step failed
# (with the last lines of the node's log).
#
#   rclone  mkdir; copy of a generated tree (0 B, 1 B, 4 KiB, 1 MiB, 17 MiB,
#           nested dirs, names with spaces, unicode and + & = % ' characters)
#           with a 5 MiB upload cutoff and chunk size, so the 17 MiB file is
#           a multipart upload; check (hashes) and check --download (bytes)
#           both ways; copy back and diff; change, add and remove files, then
#           sync up, check both ways, sync back into the first copy and diff.
#   aws     s3 mb; s3 cp --recursive up and back with multipart_threshold and
#           multipart_chunksize 5MB (the 17 MiB object's ETag must end in -4,
#           the S3 rule for 4 parts); s3 sync up and back with --delete after
#           the same changes; s3 ls; s3 rm --recursive; s3 rb.
#   s3cmd   mb; put (1 B, 1 MiB, 17 MiB multipart with 5 MiB chunks); get and
#           cmp; ls and la; put --recursive; del; rb of a non-empty bucket
#           fails; rb.
#   boto3   put with metadata; head (ETag = MD5, metadata back); get with
#           Range (206, exact bytes); list_objects_v2 with delimiter and
#           paging by continuation token; multipart upload of 5+5+1 MiB (ETag
#           by the multipart rule, bytes back); presigned GET through urllib,
#           and a tampered one refused; wrong secret and read-only key
#           refused with nothing stored; delete; NoSuchKey; delete_bucket.
#   native  an object put over S3 reads back byte-exact over the native blob
#           API as key BUCKET/KEY (`strata get`).
#
# Usage: scripts/s3-clients.sh [--bin STRATA] [--dir DIR] [--keep]
#                              [--endpoint URL [--native URL]] [TOOL...]
#   TOOL     any of rclone, aws, s3cmd, boto3, native (default: all); a tool
#            that is not installed is skipped with a message
#   --bin    a built strata binary (default: go build ./cmd/strata)
#   --endpoint  check an S3 endpoint that is already running (another node,
#            a cluster) instead of starting a node: S3_CLIENTS_KEY holds its
#            read-write key as ACCESS:SECRET, S3_CLIENTS_READ_KEY optionally
#            a read-only one (else those refusals are not checked); native
#            needs --native, the node's blob API URL
#   --dir    working directory: node data, generated files, client configs
#            (default: a temp dir, removed at the end unless --keep)
#   --keep   keep DIR afterwards
# Environment: AWS (the aws command, default aws), PYTHON (the interpreter
# with boto3, default python3), S3_CLIENTS_STEP_TIMEOUT (seconds one client
# command may take, default 120).
# Install the tools on Debian: apt-get install -y rclone s3cmd awscli python3-boto3
set -euo pipefail
self="$(readlink -f "$0")"
cd "$(dirname "$self")/.."
repo="$PWD"
# shellcheck source=lib/node.sh
source "$repo/scripts/lib/node.sh"

bin=""
dir=""
keep=0
endpoint=""
native=""
tools=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--bin) bin="$2"; shift 2 ;;
	--dir) dir="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	--endpoint) endpoint="$2"; shift 2 ;;
	--native) native="$2"; shift 2 ;;
	-h | --help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$self"; exit 0 ;;
	rclone | aws | s3cmd | boto3 | native) tools+=("$1"); shift ;;
	*) echo "s3-clients: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ ${#tools[@]} -gt 0 ]] || tools=(rclone aws s3cmd boto3 native)
aws_cmd="${AWS:-aws}"
python="${PYTHON:-python3}"
step_timeout="${S3_CLIENTS_STEP_TIMEOUT:-120}"
# Plain HTTP to loopback: a CA bundle means nothing here, and rclone's SDK
# refuses to start when AWS_CA_BUNDLE is set; no proxy may see the traffic.
unset AWS_CA_BUNDLE
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

if [[ -z "$dir" ]]; then
	dir="$(mktemp -d /tmp/strata-s3-clients.XXXXXX)"
else
	mkdir -p "$dir"
	dir="$(readlink -f "$dir")"
fi

node_pid=""
cleanup() {
	local rc=$?
	if [[ -n "$node_pid" ]]; then
		kill -TERM "$node_pid" 2>/dev/null || true
		wait "$node_pid" 2>/dev/null || true
	fi
	if [[ $keep -eq 0 ]]; then
		rm -rf "$dir"
	else
		echo "s3-clients: kept $dir"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step=""
say() { echo "s3-clients: $*"; }
# fail MESSAGE: report the step that failed, the node's last log lines, exit 1.
fail() {
	echo "s3-clients: FAIL [$step] $*" >&2
	if [[ -f "$dir/node.log" ]]; then
		echo "--- last lines of the node log:" >&2
		tail -n 30 "$dir/node.log" >&2
	fi
	exit 1
}
# run CMD...: run one client command, bounded in time; its output goes to
# $dir/last.out and is shown when it fails.
run() {
	local rc=0
	timeout --kill-after=5 "$step_timeout" "$@" >"$dir/last.out" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		cat "$dir/last.out" >&2
		[[ $rc -eq 124 ]] && fail "timed out after ${step_timeout}s: $*"
		fail "command failed (exit $rc): $*"
	fi
}
# run_fails CMD...: the command must fail (a refused request).
run_fails() {
	if timeout --kill-after=5 "$step_timeout" "$@" >"$dir/last.out" 2>&1; then
		cat "$dir/last.out" >&2
		fail "command succeeded but should have failed: $*"
	fi
}
# same_tree A B: the two directories hold the same names and bytes.
same_tree() {
	if ! diff -r "$1" "$2" >"$dir/diff.out" 2>&1; then
		cat "$dir/diff.out" >&2
		fail "$2 differs from $1"
	fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# --- the node
if [[ -n "$endpoint" ]]; then
	[[ "${S3_CLIENTS_KEY:-}" == *:* ]] || { echo "s3-clients: --endpoint needs S3_CLIENTS_KEY=ACCESS:SECRET" >&2; exit 2; }
	access_key="${S3_CLIENTS_KEY%%:*}" secret_key="${S3_CLIENTS_KEY#*:}"
	ro_key="" ro_secret=""
	if [[ -n "${S3_CLIENTS_READ_KEY:-}" ]]; then
		ro_key="${S3_CLIENTS_READ_KEY%%:*}" ro_secret="${S3_CLIENTS_READ_KEY#*:}"
	fi
	endpoint="${endpoint%/}"
	s3host="${endpoint#*://}"
	step="start"
	curl -s -o /dev/null "$endpoint/" || fail "S3 endpoint $endpoint does not answer"
	say "S3 endpoint $endpoint${native:+, node $native}"
else
	if [[ -z "$bin" ]]; then
		bin="$dir/strata"
		go build -o "$bin" ./cmd/strata
	fi
	port="$(free_port)"
	s3port="$(free_port_except "$port")"
	native="http://127.0.0.1:$port"
	endpoint="http://127.0.0.1:$s3port"
	s3host="127.0.0.1:$s3port"
	access_key="strata-clients-rw"
	secret_key="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	ro_key="strata-clients-ro"
	ro_secret="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	mkdir -p "$dir/data"
	cat >"$dir/strata.toml" <<-EOF
	listen = "127.0.0.1:$port"
	admin_listen = "off"
	data_dir = "$dir/data"
	log_level = "warn"

	[s3]
	listen = "127.0.0.1:$s3port"

	[[s3.keys]]
	access_key = "$access_key"
	secret_key = "$secret_key"
	scope = "read-write"

	[[s3.keys]]
	access_key = "$ro_key"
	secret_key = "$ro_secret"
	scope = "read"
	EOF
	"$bin" serve --config "$dir/strata.toml" >"$dir/node.log" 2>&1 &
	node_pid=$!
	step="start"
	wait_ready "$native" 300 "$node_pid" "$dir/node.log" || fail "node did not start"
	# The S3 listener answers anything (an anonymous request gets an XML error).
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "$endpoint/" && break
		kill -0 "$node_pid" 2>/dev/null || fail "node exited"
		sleep 0.1
	done
	curl -s -o /dev/null "$endpoint/" || fail "S3 endpoint $endpoint does not answer"
	say "node $native, S3 endpoint $endpoint, $("$bin" version)"
fi

# --- the files the tools move
src="$dir/src"
gen_tree() {
	mkdir -p "$src/nested/deeper/deepest" "$src/with space" "$src/ünïcødé 日本語" "$src/odd"
	: >"$src/empty.bin"
	printf 'x' >"$src/one.bin"
	head -c 4096 /dev/urandom >"$src/nested/4k.bin"
	head -c $((1 << 20)) /dev/urandom >"$src/nested/deeper/1m.bin"
	head -c $((17 << 20)) /dev/urandom >"$src/nested/deeper/deepest/17m.bin"
	head -c 1000 /dev/urandom >"$src/with space/file with space.txt"
	head -c 3000 /dev/urandom >"$src/ünïcødé 日本語/ファイル ü.dat"
	head -c 100 /dev/urandom >"$src/odd/a+b=c&d.txt"
	head -c 100 /dev/urandom >"$src/odd/100% it's (1).txt"
}
# change_tree: one file changed (new size), one removed, one added.
change_tree() {
	head -c 5000 /dev/urandom >"$src/nested/4k.bin"
	rm "$src/one.bin"
	mkdir -p "$src/added dir"
	head -c 6000 /dev/urandom >"$src/added dir/new ñ.bin"
}
reset_tree() { rm -rf "$src"; gen_tree; }

# --- rclone
test_rclone() {
	step="rclone"
	cat >"$dir/rclone.conf" <<EOF
[strata]
type = s3
provider = Other
access_key_id = $access_key
secret_access_key = $secret_key
endpoint = $endpoint
region = us-east-1
force_path_style = true
upload_cutoff = 5M
chunk_size = 5M
EOF
	local rc=(rclone --config "$dir/rclone.conf" --retries 1 --low-level-retries 1)
	reset_tree
	step="rclone mkdir"
	run "${rc[@]}" mkdir strata:rclone
	step="rclone copy up"
	run "${rc[@]}" copy "$src" strata:rclone/tree
	step="rclone check"
	run "${rc[@]}" check "$src" strata:rclone/tree
	run "${rc[@]}" check strata:rclone/tree "$src"
	run "${rc[@]}" check --download "$src" strata:rclone/tree
	step="rclone copy back"
	run "${rc[@]}" copy strata:rclone/tree "$dir/rclone-back"
	same_tree "$src" "$dir/rclone-back"
	step="rclone sync up"
	change_tree
	run "${rc[@]}" sync "$src" strata:rclone/tree
	step="rclone check after sync"
	run "${rc[@]}" check "$src" strata:rclone/tree
	run "${rc[@]}" check strata:rclone/tree "$src"
	run "${rc[@]}" check --download strata:rclone/tree "$src"
	run "${rc[@]}" lsf -R strata:rclone/tree
	grep -qx 'one.bin' "$dir/last.out" && fail "one.bin is still listed after sync removed it"
	grep -qx 'added dir/new ñ.bin' "$dir/last.out" || fail "added dir/new ñ.bin is not listed after sync"
	step="rclone sync back"
	run "${rc[@]}" sync strata:rclone/tree "$dir/rclone-back"
	same_tree "$src" "$dir/rclone-back"
	step="rclone purge"
	run "${rc[@]}" purge strata:rclone
	run_fails "${rc[@]}" lsf strata:rclone/tree/empty.bin
	say "rclone ok ($(rclone version | head -1))"
}

# --- aws
test_aws() {
	step="aws"
	cat >"$dir/aws.config" <<EOF
[default]
region = us-east-1
s3 =
    addressing_style = path
    multipart_threshold = 5MB
    multipart_chunksize = 5MB
EOF
	cat >"$dir/aws.credentials" <<EOF
[default]
aws_access_key_id = $access_key
aws_secret_access_key = $secret_key
EOF
	# Only these files and flags: a user's AWS_* variables and ~/.aws are
	# not consulted.
	local a=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE -u AWS_DEFAULT_PROFILE
		AWS_CONFIG_FILE="$dir/aws.config" AWS_SHARED_CREDENTIALS_FILE="$dir/aws.credentials"
		AWS_EC2_METADATA_DISABLED=true AWS_PAGER= AWS_DEFAULT_REGION=us-east-1
		"$aws_cmd" --endpoint-url "$endpoint")
	reset_tree
	step="aws s3 mb"
	run "${a[@]}" s3 mb s3://aws-cli
	step="aws s3 cp --recursive up"
	run "${a[@]}" s3 cp --recursive "$src" s3://aws-cli/tree
	step="aws etags"
	# One listing gives every ETag: the 17 MiB object's must be the
	# multipart form (4 parts of 5 MiB), a single PUT's its MD5.
	run "${a[@]}" s3api list-objects-v2 --bucket aws-cli --prefix tree/nested/ --query 'Contents[].[Key,ETag]' --output text
	grep -q 'tree/nested/deeper/deepest/17m.bin[[:space:]]*"[0-9a-f]\{32\}-4"$' "$dir/last.out" ||
		fail "17 MiB object's ETag is not the multipart form \"...-4\" (5 MiB parts): $(cat "$dir/last.out")"
	local md5
	md5="$(md5sum "$src/nested/deeper/1m.bin" | cut -d' ' -f1)"
	grep -q "tree/nested/deeper/1m.bin[[:space:]]*\"$md5\"$" "$dir/last.out" ||
		fail "1 MiB object's ETag is not its MD5 $md5: $(cat "$dir/last.out")"
	step="aws s3 cp --recursive back"
	run "${a[@]}" s3 cp --recursive s3://aws-cli/tree "$dir/aws-back"
	same_tree "$src" "$dir/aws-back"
	step="aws s3 sync up"
	change_tree
	run "${a[@]}" s3 sync --delete "$src" s3://aws-cli/tree
	run "${a[@]}" s3 ls --recursive s3://aws-cli/tree/
	grep -q 'tree/one.bin$' "$dir/last.out" && fail "one.bin is still listed after sync --delete removed it"
	grep -q 'tree/added dir/new ñ.bin$' "$dir/last.out" || fail "added dir/new ñ.bin is not listed after sync"
	step="aws s3 sync back"
	run "${a[@]}" s3 sync --delete s3://aws-cli/tree "$dir/aws-back"
	same_tree "$src" "$dir/aws-back"
	step="aws s3 rb of a non-empty bucket"
	run_fails "${a[@]}" s3 rb s3://aws-cli
	step="aws s3 rm --recursive"
	run "${a[@]}" s3 rm --recursive s3://aws-cli/tree
	step="aws s3 rb"
	# Succeeds only once the bucket is empty (the refusal above).
	run "${a[@]}" s3 rb s3://aws-cli
	say "aws ok ($("$aws_cmd" --version 2>&1 | head -1))"
}

# --- s3cmd
test_s3cmd() {
	step="s3cmd"
	cat >"$dir/s3cfg" <<EOF
[default]
access_key = $access_key
secret_key = $secret_key
host_base = $s3host
host_bucket = $s3host
use_https = False
signature_v2 = False
bucket_location = us-east-1
multipart_chunk_size_mb = 5
EOF
	local c=(s3cmd --config "$dir/s3cfg" --no-ssl --host "$s3host" --host-bucket "$s3host" --no-progress)
	reset_tree
	step="s3cmd mb"
	run "${c[@]}" mb s3://s3cmd
	step="s3cmd put"
	# One command, three files; the 17 MiB one goes up in 5 MiB parts.
	run "${c[@]}" put "$src/one.bin" "$src/nested/deeper/1m.bin" "$src/nested/deeper/deepest/17m.bin" s3://s3cmd/dir/
	step="s3cmd get"
	mkdir -p "$dir/s3cmd-back"
	run "${c[@]}" get s3://s3cmd/dir/one.bin s3://s3cmd/dir/1m.bin s3://s3cmd/dir/17m.bin "$dir/s3cmd-back/"
	cmp "$src/one.bin" "$dir/s3cmd-back/one.bin" || fail "one.bin came back different"
	cmp "$src/nested/deeper/1m.bin" "$dir/s3cmd-back/1m.bin" || fail "1m.bin came back different"
	cmp "$src/nested/deeper/deepest/17m.bin" "$dir/s3cmd-back/17m.bin" || fail "17m.bin came back different"
	step="s3cmd ls"
	run "${c[@]}" ls s3://s3cmd/
	grep -q 'DIR *s3://s3cmd/dir/$' "$dir/last.out" || fail "ls s3://s3cmd/ does not list the prefix dir/"
	run "${c[@]}" ls s3://s3cmd/dir/
	grep -q " $((1 << 20)) *s3://s3cmd/dir/1m.bin$" "$dir/last.out" || fail "ls s3://s3cmd/dir/ does not list 1m.bin with its size"
	grep -q " 1 *s3://s3cmd/dir/one.bin$" "$dir/last.out" || fail "ls s3://s3cmd/dir/ does not list one.bin with its size"
	run "${c[@]}" ls
	grep -q 's3://s3cmd$' "$dir/last.out" || fail "ls does not list the bucket"
	step="s3cmd put --recursive"
	run "${c[@]}" put --recursive "$src/" s3://s3cmd/rec/
	mkdir -p "$dir/s3cmd-rec"
	run "${c[@]}" get --recursive s3://s3cmd/rec/ "$dir/s3cmd-rec/"
	same_tree "$src" "$dir/s3cmd-rec"
	step="s3cmd rb of a non-empty bucket"
	run_fails "${c[@]}" rb s3://s3cmd
	step="s3cmd del"
	run "${c[@]}" del s3://s3cmd/dir/one.bin
	run_fails "${c[@]}" get --force s3://s3cmd/dir/one.bin "$dir/s3cmd-back/gone.bin"
	run "${c[@]}" del --recursive --force s3://s3cmd/
	step="s3cmd rb"
	# Succeeds only once the bucket is empty (the refusal above).
	run "${c[@]}" rb s3://s3cmd
	say "s3cmd ok ($(s3cmd --version))"
}

# --- boto3
test_boto3() {
	step="boto3"
	cat >"$dir/boto3_check.py" <<'EOF'
import hashlib, os, sys, urllib.error, urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key, secret = os.environ["S3C_ENDPOINT"], os.environ["S3C_KEY"], os.environ["S3C_SECRET"]
ro_key, ro_secret = os.environ.get("S3C_READ_KEY", ""), os.environ.get("S3C_READ_SECRET", "")
cfg = Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1})


def client(k, s):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=k, aws_secret_access_key=s, config=cfg)


def check(cond, msg):
    if not cond:
        print("boto3 check failed: " + msg, file=sys.stderr)
        sys.exit(1)


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


s3 = client(key, secret)
b = "boto3-check"
s3.create_bucket(Bucket=b)
check(any(x["Name"] == b for x in s3.list_buckets()["Buckets"]), "list_buckets lacks the new bucket")

# put and head: ETag is the MD5, metadata and content type come back.
data = os.urandom(100 * 1024)
r = s3.put_object(Bucket=b, Key="dir/obj.bin", Body=data, ContentType="application/x-check",
                  Metadata={"color": "blue"}, CacheControl="max-age=60")
md5 = hashlib.md5(data).hexdigest()
check(r["ETag"].strip('"') == md5, "put ETag %s, want %s" % (r["ETag"], md5))
h = s3.head_object(Bucket=b, Key="dir/obj.bin")
check(h["ContentLength"] == len(data), "head ContentLength %d" % h["ContentLength"])
check(h["ETag"].strip('"') == md5, "head ETag %s" % h["ETag"])
check(h.get("Metadata", {}).get("color") == "blue", "head Metadata %r" % h.get("Metadata"))
check(h.get("ContentType") == "application/x-check", "head ContentType %r" % h.get("ContentType"))
check(h.get("CacheControl") == "max-age=60", "head CacheControl %r" % h.get("CacheControl"))

# get: whole, then a Range.
g = s3.get_object(Bucket=b, Key="dir/obj.bin")
check(g["Body"].read() == data, "get returned other bytes")
g = s3.get_object(Bucket=b, Key="dir/obj.bin", Range="bytes=1000-1999")
check(g["ResponseMetadata"]["HTTPStatusCode"] == 206, "range status %d" % g["ResponseMetadata"]["HTTPStatusCode"])
check(g["Body"].read() == data[1000:2000], "range returned other bytes")
check(g.get("ContentRange") == "bytes 1000-1999/%d" % len(data), "ContentRange %r" % g.get("ContentRange"))
g = s3.get_object(Bucket=b, Key="dir/obj.bin", Range="bytes=-10")
check(g["Body"].read() == data[-10:], "suffix range returned other bytes")
check(error_code(lambda: s3.get_object(Bucket=b, Key="dir/obj.bin", Range="bytes=%d-" % (len(data) + 10)))[0] == "InvalidRange",
      "range past the end is not InvalidRange")

# list with a delimiter, then paging.
for k in ["top.txt", "dir/a", "dir/sub/b", "dir2/c", "zz"]:
    s3.put_object(Bucket=b, Key=k, Body=k.encode())
l = s3.list_objects_v2(Bucket=b, Delimiter="/")
check(sorted(p["Prefix"] for p in l.get("CommonPrefixes", [])) == ["dir/", "dir2/"], "CommonPrefixes %r" % l.get("CommonPrefixes"))
check(sorted(o["Key"] for o in l.get("Contents", [])) == ["top.txt", "zz"], "Contents %r" % [o["Key"] for o in l.get("Contents", [])])
l = s3.list_objects_v2(Bucket=b, Prefix="dir/", Delimiter="/")
check([p["Prefix"] for p in l.get("CommonPrefixes", [])] == ["dir/sub/"], "dir/ CommonPrefixes %r" % l.get("CommonPrefixes"))
check(sorted(o["Key"] for o in l.get("Contents", [])) == ["dir/a", "dir/obj.bin"], "dir/ Contents %r" % l.get("Contents"))
keys, token, pages = [], None, 0
while True:
    kw = {"Bucket": b, "MaxKeys": 2}
    if token:
        kw["ContinuationToken"] = token
    l = s3.list_objects_v2(**kw)
    pages += 1
    check(len(l.get("Contents", [])) <= 2, "page of %d > MaxKeys" % len(l.get("Contents", [])))
    keys += [o["Key"] for o in l.get("Contents", [])]
    if not l.get("IsTruncated"):
        break
    token = l["NextContinuationToken"]
    check(pages < 10, "paging does not end")
want = sorted(["top.txt", "dir/a", "dir/sub/b", "dir2/c", "zz", "dir/obj.bin"])
check(keys == want, "paged keys %r, want %r" % (keys, want))
l = s3.list_objects_v2(Bucket=b, StartAfter="dir2/c")
check([o["Key"] for o in l.get("Contents", [])] == ["top.txt", "zz"], "StartAfter %r" % l.get("Contents"))

# multipart: 5 MiB + 5 MiB + a short last part.
parts_data = [os.urandom(5 << 20), os.urandom(5 << 20), os.urandom(1 << 20)]
mp = s3.create_multipart_upload(Bucket=b, Key="big/multi.bin", Metadata={"kind": "multi"})
uid = mp["UploadId"]
ups = s3.list_multipart_uploads(Bucket=b)
check(any(u["UploadId"] == uid for u in ups.get("Uploads", [])), "list_multipart_uploads lacks the upload")
parts = []
for i, p in enumerate(parts_data, 1):
    r = s3.upload_part(Bucket=b, Key="big/multi.bin", UploadId=uid, PartNumber=i, Body=p)
    check(r["ETag"].strip('"') == hashlib.md5(p).hexdigest(), "part %d ETag %s" % (i, r["ETag"]))
    parts.append({"PartNumber": i, "ETag": r["ETag"]})
lp = s3.list_parts(Bucket=b, Key="big/multi.bin", UploadId=uid)
check([p["PartNumber"] for p in lp.get("Parts", [])] == [1, 2, 3], "list_parts %r" % lp.get("Parts"))
r = s3.complete_multipart_upload(Bucket=b, Key="big/multi.bin", UploadId=uid, MultipartUpload={"Parts": parts})
want_etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts_data)).hexdigest() + "-3"
check(r["ETag"].strip('"') == want_etag, "multipart ETag %s, want %s" % (r["ETag"], want_etag))
whole = b"".join(parts_data)
g = s3.get_object(Bucket=b, Key="big/multi.bin")
got = hashlib.sha256()
for chunk in g["Body"].iter_chunks(1 << 20):
    got.update(chunk)
check(got.digest() == hashlib.sha256(whole).digest(), "multipart object came back different")
check(g["ETag"].strip('"') == want_etag, "multipart get ETag %s" % g["ETag"])
check(g.get("Metadata", {}).get("kind") == "multi", "multipart Metadata %r" % g.get("Metadata"))
g = s3.get_object(Bucket=b, Key="big/multi.bin", Range="bytes=%d-%d" % ((5 << 20) - 5, (5 << 20) + 4))
check(g["Body"].read() == whole[(5 << 20) - 5:(5 << 20) + 5], "range across parts returned other bytes")
# an aborted upload is gone
mp2 = s3.create_multipart_upload(Bucket=b, Key="big/aborted.bin")
s3.upload_part(Bucket=b, Key="big/aborted.bin", UploadId=mp2["UploadId"], PartNumber=1, Body=b"x" * 1000)
s3.abort_multipart_upload(Bucket=b, Key="big/aborted.bin", UploadId=mp2["UploadId"])
check(error_code(lambda: s3.list_parts(Bucket=b, Key="big/aborted.bin", UploadId=mp2["UploadId"]))[0] == "NoSuchUpload",
      "list_parts of an aborted upload is not NoSuchUpload")
check(error_code(lambda: s3.head_object(Bucket=b, Key="big/aborted.bin"))[1] == 404, "aborted upload left an object")

# presigned GET through plain urllib; a tampered signature is refused.
url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "dir/obj.bin"}, ExpiresIn=300)
with urllib.request.urlopen(url, timeout=30) as resp:
    check(resp.read() == data, "presigned GET returned other bytes")
sig = url.split("X-Amz-Signature=")[1][:64]
bad = url.replace(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
try:
    urllib.request.urlopen(bad, timeout=30)
    check(False, "tampered presigned URL was served")
except urllib.error.HTTPError as e:
    check(e.code == 403, "tampered presigned URL: status %d, want 403" % e.code)

# copy, server side.
s3.copy_object(Bucket=b, Key="copy/obj.bin", CopySource={"Bucket": b, "Key": "dir/obj.bin"})
check(s3.get_object(Bucket=b, Key="copy/obj.bin")["Body"].read() == data, "copy returned other bytes")

# refused writes store nothing.
wrong = client(key, secret + "x")
code, status = error_code(lambda: wrong.put_object(Bucket=b, Key="refused/wrong-secret", Body=b"no"))
check(status == 403 and code == "SignatureDoesNotMatch", "wrong secret: %s %d, want SignatureDoesNotMatch 403" % (code, status))
if ro_key:
    ro = client(ro_key, ro_secret)
    check(ro.get_object(Bucket=b, Key="dir/obj.bin")["Body"].read() == data, "read-only key cannot read")
    code, status = error_code(lambda: ro.put_object(Bucket=b, Key="refused/read-only", Body=b"no"))
    check(status == 403 and code == "AccessDenied", "read-only key put: %s %d, want AccessDenied 403" % (code, status))
    code, status = error_code(lambda: ro.delete_object(Bucket=b, Key="dir/obj.bin"))
    check(status == 403, "read-only key delete: %s %d, want 403" % (code, status))
check(s3.list_objects_v2(Bucket=b, Prefix="refused/").get("KeyCount", 0) == 0, "a refused put stored something")
check(s3.head_object(Bucket=b, Key="dir/obj.bin")["ContentLength"] == len(data), "a refused delete deleted")

# delete one, then the rest in one batch, then the bucket.
s3.delete_object(Bucket=b, Key="dir/obj.bin")
check(error_code(lambda: s3.get_object(Bucket=b, Key="dir/obj.bin"))[0] == "NoSuchKey", "deleted object is not NoSuchKey")
check(error_code(lambda: s3.delete_bucket(Bucket=b))[0] == "BucketNotEmpty", "delete of a non-empty bucket is not BucketNotEmpty")
left = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
r = s3.delete_objects(Bucket=b, Delete={"Objects": left})
check(len(r.get("Deleted", [])) == len(left) and not r.get("Errors"), "delete_objects %r" % r.get("Errors"))
check(s3.list_objects_v2(Bucket=b).get("KeyCount", 0) == 0, "objects left after delete_objects")
s3.delete_bucket(Bucket=b)
check(error_code(lambda: s3.head_bucket(Bucket=b))[1] == 404, "deleted bucket still answers head_bucket")
print("boto3 %s botocore %s" % (boto3.__version__, __import__("botocore").__version__))
EOF
	# Keys through the environment, not argv (which ps shows).
	run env S3C_ENDPOINT="$endpoint" S3C_KEY="$access_key" S3C_SECRET="$secret_key" \
		S3C_READ_KEY="$ro_key" S3C_READ_SECRET="$ro_secret" "$python" "$dir/boto3_check.py"
	say "boto3 ok ($(tail -1 "$dir/last.out"))"
}

# --- native: an S3 object is the blob BUCKET/KEY
test_native() {
	step="native"
	if [[ -z "$native" ]]; then
		say "SKIP native: --endpoint without --native (the node's blob API URL)"
		return
	fi
	if [[ -z "$bin" ]]; then
		bin="$dir/strata"
		go build -o "$bin" ./cmd/strata
	fi
	head -c 300000 /dev/urandom >"$dir/native.bin"
	S3C_ENDPOINT="$endpoint" S3C_KEY="$access_key" S3C_SECRET="$secret_key" "$python" - "$dir/native.bin" <<'EOF' >"$dir/last.out" 2>&1 || { cat "$dir/last.out" >&2; fail "S3 put through boto3"; }
import os, sys
import boto3
from botocore.config import Config
endpoint, key, secret, path = os.environ["S3C_ENDPOINT"], os.environ["S3C_KEY"], os.environ["S3C_SECRET"], sys.argv[1]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key,
                  aws_secret_access_key=secret, config=Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="native-check")
with open(path, "rb") as f:
    s3.put_object(Bucket="native-check", Key="some dir/obj ü.bin", Body=f.read())
EOF
	run "$bin" get --addr "$native" -o "$dir/native.back" "native-check/some dir/obj ü.bin"
	cmp "$dir/native.bin" "$dir/native.back" || fail "the native API returned other bytes for native-check/some dir/obj ü.bin"
	run "$bin" ls --addr "$native" --prefix native-check/
	grep -q 'native-check/some dir/obj ü.bin' "$dir/last.out" || fail "strata ls native-check/ does not list the object"
	say "native ok"
}

ran=0
for t in "${tools[@]}"; do
	t0=$SECONDS
	case "$t" in
	rclone) if have rclone; then test_rclone; ran=$((ran + 1)); else say "SKIP rclone: not installed (apt-get install rclone)"; fi ;;
	aws) if have "$aws_cmd"; then test_aws; ran=$((ran + 1)); else say "SKIP aws: $aws_cmd not installed (apt-get install awscli)"; fi ;;
	s3cmd) if have s3cmd; then test_s3cmd; ran=$((ran + 1)); else say "SKIP s3cmd: not installed (apt-get install s3cmd)"; fi ;;
	boto3 | native)
		if "$python" -c 'import boto3' 2>/dev/null; then
			"test_$t"
			ran=$((ran + 1))
		else
			say "SKIP $t: $python cannot import boto3 (apt-get install python3-boto3)"
		fi
		;;
	esac
	say "$t: $((SECONDS - t0)) s"
done
step="end"
[[ -z "$node_pid" ]] || kill -0 "$node_pid" 2>/dev/null || fail "the node exited during the run"
say "all passed ($ran of ${#tools[@]} run)"
