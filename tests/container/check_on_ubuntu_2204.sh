#!/usr/bin/env bash
# Runs the Gradescope autograder zip in an Ubuntu 22.04 userland (Gradescope's default image:
# system python3 3.10, bubblewrap 0.6.1), as Gradescope does: unzip into /autograder/source,
# `apt-get update && bash setup.sh`, then `run_autograder` once per sample submission, each
# results.json checked against the sample's expected scores and the results schema.
#
# Needs root, debootstrap and the Ubuntu archive (about 1 minute and 300 MB the first time).
# No Docker engine is needed: a debootstrapped root, entered with chroot inside a private
# mount namespace (so that bwrap finds / to be a mount point, as in a container).
#
#   sudo bash tests/container/check_on_ubuntu_2204.sh [ROOTFS_DIR]   (default /var/tmp/grader-jammy)
#   sudo ASSIGNMENT=hw2 bash tests/container/check_on_ubuntu_2204.sh  (another assignment)
#   sudo ISOLATION=uid bash tests/container/check_on_ubuntu_2204.sh   (force a layer, e.g. the one
#                                     Gradescope falls back to where Docker refuses namespaces)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
rootfs="${1:-/var/tmp/grader-jammy}"
mirror="${UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}"
python="${PYTHON:-python3}"
isolation="${ISOLATION:-}"
assignment="${ASSIGNMENT:-hw1}"   # ASSIGNMENT=hw2 runs Homework 2's autograder on its samples

if [ ! -x "$rootfs/usr/bin/python3" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap; }
  # Ubuntu's keyring is not on a Debian host: the archive is fetched over the host's TLS-checked
  # proxy or mirror; pass --keyring through DEBOOTSTRAP_OPTS where you have it.
  debootstrap --variant=minbase ${DEBOOTSTRAP_OPTS:---no-check-gpg} --include=python3,ca-certificates \
    jammy "$rootfs" "$mirror"
  printf 'deb %s jammy main restricted universe multiverse\ndeb %s jammy-updates main restricted universe multiverse\n' \
    "$mirror" "$mirror" > "$rootfs/etc/apt/sources.list"
fi
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# The host's CA bundle, so that pip and apt in the root trust what the host trusts (a proxy's CA).
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"

zip="$(mktemp -d)/autograder.zip"
trap 'rm -rf "$(dirname "$zip")"' EXIT   # the zip holds the private salt
(cd "$here" && "$python" -m grader.cli build-autograder --assignment "$assignment" --out "$zip" >/dev/null)
rm -rf "$rootfs/autograder" && mkdir -p "$rootfs/autograder/source" "$rootfs/autograder/results"
(cd "$rootfs/autograder/source" && "$python" -c "import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
for info in z.infolist():
    path = z.extract(info)
    mode = (info.external_attr >> 16) & 0o777
    if mode: os.chmod(path, mode)" "$zip")
cp "$rootfs/autograder/source/run_autograder" "$rootfs/autograder/run_autograder"

in_root() {  # run a command in the Ubuntu root, with a clean environment, as Gradescope would
  unshare --mount --propagation private /bin/sh -c '
    mount --rbind "$1" "$1" && mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
    mount --rbind /sys "$1/sys" && chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    ${3:+GRADER_ISOLATION=$3} /bin/bash -c "$2"' sh "$rootfs" "$1" "$isolation"
}

started=$(date +%s)
in_root 'cd /autograder && apt-get update -qq && bash /autograder/source/setup.sh' > "$rootfs/setup.log" 2>&1 \
  || { tail -30 "$rootfs/setup.log"; echo "setup.sh FAILED"; exit 1; }
echo "setup.sh: ok in $(( $(date +%s) - started )) s ($(in_root 'python3 --version'), $(in_root 'bwrap --version'))"

failed=0
for sample in "$here"/sample_submissions/"$assignment"/*/; do
  name="$(basename "$sample")"
  rm -rf "$rootfs/autograder/submission" "$rootfs/autograder/results"/*
  mkdir -p "$rootfs/autograder/submission"
  find "$sample" -maxdepth 1 -type f ! -name expected.json -exec cp {} "$rootfs/autograder/submission/" \;
  cat > "$rootfs/autograder/submission_metadata.json" <<'JSON'
{"id": 1, "created_at": "2026-11-20T10:00:00.000000-08:00", "submission_method": "upload",
 "assignment": {"id": 1, "title": "Assignment", "due_date": "2026-11-21T23:59:00.000000-08:00",
                "late_due_date": null, "total_points": "135.0"},
 "users": [{"email": "s@example.edu", "id": 9, "name": "Student", "assignment": {"due_date": null, "late_due_date": null}}],
 "previous_submissions": []}
JSON
  t0=$(date +%s.%N)
  in_root 'cd /autograder && ./run_autograder > /autograder/results/stdout 2>&1' || true
  t1=$(date +%s.%N)
  "$python" - "$rootfs/autograder/results/results.json" "$sample/expected.json" "$name" "$t0:$t1" \
    "$here/../shared/spec/gradescope-results.schema.json" "$here/tests/data/gradescope-results.schema.json" "$here" <<'PY' || failed=1
import json, sys
from pathlib import Path
results_path, expected_path, name, times = sys.argv[1:5]
start, end = (float(t) for t in times.split(":"))
results = json.loads(Path(results_path).read_text())
expected = json.loads(Path(expected_path).read_text())
schema = next((Path(p) for p in sys.argv[5:7] if Path(p).is_file()), None)
if schema is not None:
    import jsonschema
    jsonschema.validate(results, json.loads(schema.read_text()))
sys.path.insert(0, sys.argv[7])
from grader.expected import mismatches
parts = {}
for test in results["tests"]:
    parts[test["tags"][0]] = parts.get(test["tags"][0], 0.0) + test["score"]
wrong = mismatches(parts, expected)
layer = results.get("extra_data", {}).get("isolation")
process = results.get("extra_data", {}).get("confinement", {}).get("process", "-")
print(f"{name:24s} {results.get('score', sum(parts.values())):7.2f}  {layer or '-':10s} {end - start:5.2f} s  "
      + ("ok" if not wrong else "MISMATCH " + "; ".join(wrong)) + f"  ({process})")
sys.exit(1 if wrong else 0)
PY
done
exit $failed
