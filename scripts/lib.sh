# Shared by scripts/test, scripts/demo and bench/run. Source it; do not run it.

# Debian packages dns01 builds against and tests with.
DNS01_PACKAGES=(libldns-dev libcurl4-openssl-dev libssl-dev pkg-config bind9 bind9-dnsutils bind9-utils
                pebble certbot openssl curl time ca-certificates python3 bc
                knot-dnsutils pdns-server pdns-backend-sqlite3 sqlite3)

# Installs whichever of the packages (and any given as arguments) are missing. Idempotent:
# apt-get runs only when something is missing.
ensure_packages() {
  local wanted=("${DNS01_PACKAGES[@]}" "$@") missing=() pkg
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    local sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  # The distro's own named (port 53) is not used; the lab runs its own on free ports.
  ensure_swift
}

ensure_swift() {
  if ! command -v swift >/dev/null; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin; do
      [[ -x $dir/swift ]] && export PATH="$dir:$PATH" && break
    done
  fi
  command -v swift >/dev/null || { echo "swift is not installed (https://www.swift.org/install/linux/)" >&2; exit 1; }
}
