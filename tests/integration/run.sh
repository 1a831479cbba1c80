#!/usr/bin/env bash
# run.sh FILE TEST: runs test_TEST of tests/integration/FILE in its own topology.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
file=$1
name=$2
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck disable=SC1090
source "$here/$file"

# A prefix unique to this run: the pid keeps parallel tests apart.
topo_init "xbt$$"
XB_BRIDGE="xbt$$"
trap topo_cleanup EXIT
require_env
set -e
"test_$name"
set +e
echo "PASS: $name"
