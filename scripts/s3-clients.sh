#!/usr/bin/env bash
# s3-clients.sh: the S3 API against the clients people use. Builds strata,
# starts one node with [s3] on loopback in a temp dir, then, for each tool
# that is installed (rclone, aws, s3cmd, python3 with boto3; a missing one
# is skipped with a message), copies a tree of mixed file sizes up and back
# (multipart on: 5 MiB parts) and checks the bytes. Exit 0 when every
# installed tool passed. The node is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/node.sh
source scripts/lib/node.sh

work="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/strata" ./cmd/strata
port="$(free_port)" s3port="$(free_port)"
ak=S3CLIENTSKEY sk="s3-clients-secret-$RANDOM$RANDOM"
cat >"$work/strata.toml" <<TOML
listen = "127.0.0.1:$port"
admin_listen = "off"
data_dir = "$work/data"
volume_size = "256MiB"
ssd_cache_size = "0"
ram_cache_size = "16MiB"
[s3]
listen = "127.0.0.1:$s3port"
[[s3.keys]]
access_key = "$ak"
secret_key = "$sk"
scope = "read-write"
TOML
"$work/strata" serve --config "$work/strata.toml" >"$work/serve.log" 2>&1 &
pid=$!
wait_ready "http://127.0.0.1:$port" 300 "$pid" "$work/serve.log"
endpoint="http://127.0.0.1:$s3port"

# The tree: empty, small, odd-sized, a name with a space and a plus, and
# files over the 5 MiB multipart threshold.
tree="$work/tree"
mkdir -p "$tree/sub/deep"
: >"$tree/empty"
head -c 100 /dev/urandom >"$tree/small.txt"
head -c 300001 /dev/urandom >"$tree/sub/deep/with space+plus.dat"
head -c 7000000 /dev/urandom >"$tree/sub/big.bin"
head -c 12582917 /dev/urandom >"$tree/sub/bigger.bin"

# The environment may point AWS tools at a CA bundle: plain HTTP here.
unset AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" AWS_DEFAULT_REGION=us-east-1

failed=0
check() { # check NAME DIR: the tree came back whole
	if diff -r "$tree" "$2" >/dev/null; then echo "== $1: ok"; else echo "== $1: FAILED (bytes differ)" >&2; failed=1; fi
}

if command -v rclone >/dev/null; then
	export RCLONE_CONFIG="$work/rclone.conf"
	printf '[strata]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = us-east-1\nforce_path_style = true\n' "$ak" "$sk" "$endpoint" >"$RCLONE_CONFIG"
	rclone mkdir strata:rclone-bkt
	rclone copy --s3-upload-cutoff 5M --s3-chunk-size 5M "$tree" strata:rclone-bkt/tree
	rclone check "$tree" strata:rclone-bkt/tree
	rclone sync strata:rclone-bkt/tree "$work/rclone-back"
	check rclone "$work/rclone-back"
else echo "== rclone: not installed, skipped"; fi

if command -v aws >/dev/null; then
	export AWS_CONFIG_FILE="$work/aws.conf"
	printf '[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n  addressing_style = path\n' >"$AWS_CONFIG_FILE"
	aws --endpoint-url "$endpoint" s3 mb s3://aws-bkt >/dev/null
	aws --endpoint-url "$endpoint" s3 cp --recursive --only-show-errors "$tree" s3://aws-bkt/tree
	aws --endpoint-url "$endpoint" s3 sync --only-show-errors s3://aws-bkt/tree "$work/aws-back"
	check "aws s3" "$work/aws-back"
else echo "== aws: not installed, skipped"; fi

if command -v s3cmd >/dev/null; then
	cfg="$work/s3cfg"
	printf '[default]\naccess_key = %s\nsecret_key = %s\nhost_base = 127.0.0.1:%s\nhost_bucket = 127.0.0.1:%s\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n' "$ak" "$sk" "$s3port" "$s3port" >"$cfg"
	s3cmd -c "$cfg" -q mb s3://s3cmd-bkt
	s3cmd -c "$cfg" -q put --multipart-chunk-size-mb=5 "$tree/sub/bigger.bin" s3://s3cmd-bkt/bigger.bin
	s3cmd -c "$cfg" -q get s3://s3cmd-bkt/bigger.bin "$work/s3cmd-bigger.bin"
	s3cmd -c "$cfg" ls s3://s3cmd-bkt | grep -q bigger.bin
	s3cmd -c "$cfg" -q del s3://s3cmd-bkt/bigger.bin
	if cmp -s "$tree/sub/bigger.bin" "$work/s3cmd-bigger.bin"; then echo "== s3cmd: ok"; else echo "== s3cmd: FAILED" >&2; failed=1; fi
else echo "== s3cmd: not installed, skipped"; fi

if python3 -c 'import boto3' 2>/dev/null; then
	ENDPOINT="$endpoint" TREE="$tree" python3 - <<'PY'
import io, os, urllib.request
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="boto-bkt")
data = open(os.path.join(os.environ["TREE"], "sub", "bigger.bin"), "rb").read()
s3.upload_fileobj(io.BytesIO(data), "boto-bkt", "big", Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
out = io.BytesIO()
s3.download_fileobj("boto-bkt", "big", out)
assert out.getvalue() == data, "multipart object differs"
s3.put_object(Bucket="boto-bkt", Key="small", Body=b"hello", Metadata={"k": "v"})
assert s3.head_object(Bucket="boto-bkt", Key="small")["Metadata"] == {"k": "v"}
url = s3.generate_presigned_url("get_object", Params={"Bucket": "boto-bkt", "Key": "small"}, ExpiresIn=60)
assert urllib.request.urlopen(url).read() == b"hello"
assert len(s3.delete_objects(Bucket="boto-bkt", Delete={"Objects": [{"Key": "big"}, {"Key": "small"}]})["Deleted"]) == 2
s3.delete_bucket(Bucket="boto-bkt")
PY
	echo "== boto3: ok"
else echo "== boto3: not installed, skipped"; fi

exit "$failed"
