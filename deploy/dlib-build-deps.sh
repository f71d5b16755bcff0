#!/bin/sh
# What dlib's source build needs to run its face networks on BLAS: a C++ compiler, make, the
# Python headers of the interpreter that builds it, and OpenBLAS. dlib finds OpenBLAS by itself
# when it is installed; without it dlib still builds and works, about six times slower per
# face embedding (measured: 180-190 ms against 30-33 ms a chip). Installs the Debian packages
# that are missing (as root, or through sudo); prints what it installs, and says what to do
# when it cannot.
#
# usage: deploy/dlib-build-deps.sh [PYTHON]   (the interpreter of the virtual environment)
set -eu
python=${1:-python3}

missing=""
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v make >/dev/null 2>&1 || missing="$missing make"
dpkg -s libopenblas-dev >/dev/null 2>&1 || missing="$missing libopenblas-dev"
headers=$("$python" -c 'import os, sysconfig; print(os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))')
if [ "$headers" != "True" ]; then
    case "$("$python" -c 'import sys; print(sys.prefix)')" in
        /usr) missing="$missing python3-dev" ;;
        *) echo "dlib-build-deps: $python has no Python.h; install its headers" >&2; exit 1 ;;
    esac
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1; then
    run="sudo"
else
    echo "dlib-build-deps: missing Debian packages:$missing; install them as root" >&2
    echo "  (apt-get install$missing), then run make again" >&2
    exit 1
fi
echo "dlib-build-deps: installing Debian packages:$missing"
$run apt-get update -qq
# shellcheck disable=SC2086  # one word per package
DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq --no-install-recommends $missing
