#!/usr/bin/env bash
# Makes ZooKeeper available for the tests on a Debian machine (spec/support/zookeeper.ts runs
# /usr/share/java/zookeeper.jar with `java`).
#   --peers  also the interop peers: Curator recipes (Java, compiled at run time: needs javac) and kazoo,
#            checked with KAZOO_PYTHON (default /usr/bin/python3, where python3-kazoo installs; a pyenv
#            python3 first on PATH does not see it), as spec/support/peers does.
# Idempotent: prints one line and changes nothing when everything is there. Needs root to install.
set -euo pipefail

peers=false
kazoo_python="${KAZOO_PYTHON:-/usr/bin/python3}"
for arg in "$@"; do
  case "$arg" in
    --peers) peers=true ;;
    -h | --help)
      echo "usage: $0 [--peers]"
      exit 0
      ;;
    *)
      echo "$0: unknown argument '$arg' (usage: $0 [--peers])" >&2
      exit 2
      ;;
  esac
done

packages=()
missing=()
if [[ ! -f /usr/share/java/zookeeper.jar ]] || ! command -v java >/dev/null 2>&1; then
  packages+=(zookeeper)
  missing+=("zookeeper.jar/java")
fi
if [[ "$peers" == true ]]; then
  if [[ ! -f /usr/share/java/curator-recipes.jar ]]; then
    packages+=(libcurator-recipes-java)
    missing+=("curator-recipes.jar")
  fi
  if ! "$kazoo_python" -c 'import kazoo' >/dev/null 2>&1; then
    packages+=(python3-kazoo)
    missing+=("kazoo for $kazoo_python")
  fi
  if ! command -v javac >/dev/null 2>&1 || ! command -v keytool >/dev/null 2>&1; then
    packages+=(default-jdk-headless)
    missing+=("javac/keytool")
  fi
  # The TLS tests make their certificates with openssl (and keytool, from the JDK).
  if ! command -v openssl >/dev/null 2>&1; then
    packages+=(openssl)
    missing+=("openssl")
  fi
fi

if [[ ${#packages[@]} -eq 0 ]]; then
  if [[ "$peers" == true ]]; then
    echo "install-zookeeper: ZooKeeper, java, javac, keytool, openssl, Curator and kazoo already present; nothing to do."
  else
    echo "install-zookeeper: ZooKeeper and java already present; nothing to do."
  fi
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-zookeeper: missing ${missing[*]}." >&2
  echo "install-zookeeper: run as root, or: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

echo "install-zookeeper: installing ${packages[*]} (missing: ${missing[*]})"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}"

# Check that the install did what we need.
[[ -f /usr/share/java/zookeeper.jar ]] || { echo "install-zookeeper: /usr/share/java/zookeeper.jar still missing" >&2; exit 1; }
command -v java >/dev/null 2>&1 || { echo "install-zookeeper: java still missing" >&2; exit 1; }
if [[ "$peers" == true ]]; then
  [[ -f /usr/share/java/curator-recipes.jar ]] || { echo "install-zookeeper: curator-recipes.jar still missing" >&2; exit 1; }
  "$kazoo_python" -c 'import kazoo' >/dev/null 2>&1 || { echo "install-zookeeper: $kazoo_python still cannot import kazoo" >&2; exit 1; }
  command -v javac >/dev/null 2>&1 || { echo "install-zookeeper: javac still missing" >&2; exit 1; }
  command -v openssl >/dev/null 2>&1 || { echo "install-zookeeper: openssl still missing" >&2; exit 1; }
fi
echo "install-zookeeper: done."
