# Shared by scripts/test, scripts/demo and bench/run. Source it; do not run it.

# Debian packages dns01 builds against and tests with. procps gives pgrep/pkill to the scripts;
# libncurses6, libxml2 and friends are Swift's own runtime needs, missing from minimal images.
# prometheus is there for promtool (`promtool check metrics` on the [metrics] textfile): 19 MB
# to download, 96 MB installed; its service is disabled again like every other (see below).
# postgresql gives the lab its server (initdb, postgres, pg_isready, psql), libpq-dev the fleet
# storage its client library; no cluster is made on install (no_main_postgresql_cluster).
# systemd gives systemd-analyze, which rates and verifies the packaged units offline; man-db
# gives man and lexgrog, which check the man pages in packaging/ render and have a whatis entry.
DNS01_PACKAGES=(libldns-dev libcurl4-openssl-dev libidn2-dev libssl-dev pkg-config bind9 bind9-dnsutils bind9-utils
                pebble certbot openssl curl time ca-certificates python3 python3-venv bc procps
                knot knot-dnsutils pdns-server pdns-backend-sqlite3 sqlite3
                libncurses6 libxml2 libedit2 libsqlite3-0 libstdc++-12-dev libgcc-12-dev libc6-dev
                binutils git tzdata zlib1g-dev libfaketime prometheus dehydrated uacme
                postgresql libpq-dev systemd man-db)

# Installs whichever of the packages (and any given as arguments) are missing. Idempotent:
# apt-get runs only when something is missing. The lab runs its own servers on free loopback
# ports, so no service a package brings may start or stay enabled: while apt runs, a
# policy-rc.d answers "not now" to every start request (invoke-rc.d and deb-systemd-invoke
# honour it), and afterwards every unit that the install enabled is disabled again.
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
    local before after policy=/usr/sbin/policy-rc.d placed=0
    before=$(enabled_units)
    [[ " ${missing[*]} " == *" postgresql "* ]] && no_main_postgresql_cluster
    if [[ ! -e $policy ]]; then
      printf '#!/bin/sh\n# placed by dns01 scripts/lib.sh while it installs packages\nexit 101\n' \
        | "${sudo[@]}" tee "$policy" >/dev/null
      "${sudo[@]}" chmod 755 "$policy"
      placed=1
    fi
    local status=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" || status=$?
    ((placed)) && "${sudo[@]}" rm -f "$policy"
    ((status == 0)) || { echo "apt-get install failed (exit $status)" >&2; exit 1; }
    after=$(enabled_units)
    local unit
    for unit in $(comm -13 <(echo "$before") <(echo "$after")); do
      echo "disabling $unit (installed for the lab, which starts its own servers)"
      "${sudo[@]}" systemctl disable --quiet "$unit" 2>/dev/null \
        || "${sudo[@]}" find /etc/systemd/system -name "$unit" -type l -delete
    done
  fi
  ensure_swift
}

# Python packages the tests run for real: moto's AWS emulator (Route 53) and dns-lexicon (the
# lexicon provider's bridge, against the lab's PowerDNS). Pinned, so every run tests the same.
# How every release build of dns01 is made (scripts/package, scripts/demo, bench/run,
# scripts/text-order): the Swift standard library linked in, and every function of every module,
# the dependencies' and C's too, in a section of its own, so that the link can drop what nothing
# calls and lay out the rest in packaging/dns01.text-order's order (Package.swift).
DNS01_RELEASE_BUILD=(-c release --static-swift-stdlib -Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections)

DNS01_PYTHON_PACKAGES=("moto[server]==5.2.5" "dns-lexicon==3.25.2")

# make_venv VENV PROGRAM PACKAGE...: creates (or reuses) the virtualenv VENV with the packages,
# from PyPI, with Debian's python3. Idempotent: a marker names what was installed, and the venv
# is reused only when it names the same packages and VENV/bin/PROGRAM exists.
make_venv() {
  local venv=$1 program=$2; shift 2
  local marker=$venv/.dns01-packages wanted="$*"
  if [[ -x $venv/bin/$program && -f $marker && $(cat "$marker") == "$wanted" ]]; then
    return
  fi
  echo "creating the Python virtualenv $venv for: $wanted"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
  echo "$wanted" > "$marker"
}

# Creates (or reuses) the virtualenv at .venv with those packages.
ensure_venv() { make_venv .venv python "${DNS01_PYTHON_PACKAGES[@]}"; }

# acme2certifier, the lab's second real CA (ARI, profiles, dns-persist-01), and gunicorn to serve
# its WSGI application over HTTPS: acme2certifier's own wsgiref server and Django's runserver
# speak plain HTTP only, while gunicorn takes --certfile/--keyfile, is pure Python from PyPI and
# runs in the foreground as a child of the lab (no system service, nothing enabled). A venv of
# its own: acme2certifier pulls certbot's `acme`, josepy, pyOpenSSL and cryptography unpinned,
# and moto pins its own; kept apart, neither install can move the other's versions.
DNS01_A2C_PYTHON_PACKAGES=("acme2certifier==0.46.3" "gunicorn==27.0.1")

# Creates (or reuses) the virtualenv at .venv-a2c with those packages.
ensure_a2c_venv() { make_venv .venv-a2c gunicorn "${DNS01_A2C_PYTHON_PACKAGES[@]}"; }

# certbot 5 from PyPI, the version users compare with, beside Debian 12's certbot 2.1 in
# bench/run (work items a and c). A venv of its own under bench/ (ignored by git): certbot 5
# pulls acme, josepy and cryptography versions that acme2certifier's venv must not share.
DNS01_CERTBOT5_PYTHON_PACKAGES=("certbot==5.8.0" "certbot-dns-rfc2136==5.8.0")

# Creates (or reuses) the virtualenv at bench/.venv-certbot5 with those packages.
ensure_certbot5_venv() { make_venv bench/.venv-certbot5 certbot "${DNS01_CERTBOT5_PYTHON_PACKAGES[@]}"; }

# Debian's postgresql-NN makes a cluster "main" when it is first installed (postgresql-common's
# configure_version runs pg_createcluster, and the package then starts it): a server on port
# 5432 with a service to start it at boot, which the lab (it runs its own postgres on a free
# port) must not leave behind. Before the first install of a server, a file in
# /etc/postgresql-common/createcluster.d says create_main_cluster = false: createcluster.conf
# reads that directory last (include_dir), and the maintainer script asks createcluster.conf
# (pg_conftool ... show create_main_cluster), so no cluster is made. A drop-in, not an edit of
# createcluster.conf itself: postgresql-common installs that file with ucf, which would find an
# unknown file there on a new machine and ask what to do with it. The file stays afterwards, so
# a later major (a dist-upgrade) makes no cluster either. Run with sudo set (ensure_packages).
no_main_postgresql_cluster() {
  local dir=/etc/postgresql-common conf=/etc/postgresql-common/createcluster.conf
  local dropin=$dir/createcluster.d/dns01-no-main-cluster.conf
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && return  # a server is installed already
  [[ -e $dropin ]] && return
  echo "writing $dropin: installing postgresql makes no cluster (the lab makes its own)"
  "${sudo[@]}" mkdir -p "$dir/createcluster.d"
  printf '# placed by dns01 scripts/lib.sh: installing postgresql-NN makes no "main" cluster\ncreate_main_cluster = false\n' \
    | "${sudo[@]}" tee "$dropin" >/dev/null
  # An older createcluster.conf (postgresql-common already installed) may not read the directory.
  if [[ -e $conf ]] && ! grep -q "^include_dir.*createcluster\.d" "$conf"; then
    echo "create_main_cluster = false" | "${sudo[@]}" tee -a "$conf" >/dev/null
  fi
}

# The unit names linked into any *.wants folder under /etc/systemd/system, sorted.
enabled_units() {
  find /etc/systemd/system -path '*.wants/*' -printf '%f\n' 2>/dev/null | sort -u
}

ensure_swift() {
  if ! command -v swift >/dev/null; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin /usr/local/swift/usr/bin; do
      [[ -x $dir/swift ]] && export PATH="$dir:$PATH" && break
    done
  fi
  command -v swift >/dev/null || { echo "swift is not installed (https://www.swift.org/install/linux/)" >&2; exit 1; }
}

# Real acme-dns clients for `dns01 serve`'s tests: certbot-dns-acmedns 0.1.0, the acme-dns
# plugin on PyPI, and pyacmedns, the client library it is built on (a test registers through
# it, and Debian's certbot uses it as a manual hook). The plugin declares itself with
# zope.interface, which certbot 2.0 dropped: it loads only in certbot 1.x, so certbot 1.32.0
# (the last 1.x) with the libraries of its time. zope.interface is built from its sdist with
# setuptools 65 (no build isolation): a newer setuptools names the install zope_interface, and
# certbot 1.x's pkg_resources then cannot find the "zope.interface" the plugin requires.
# Debian's lego is built without its acme-dns provider (goacmedns is not packaged), so lego
# cannot be that client here.
DNS01_SERVE_PYTHON_BUILD=("setuptools==65.5.0" "wheel==0.38.4")
DNS01_SERVE_PYTHON_PACKAGES=("certbot==1.32.0" "acme==1.32.0" "certbot-dns-acmedns==0.1.0" "pyacmedns==0.4"
  "requests==2.32.3" "pyOpenSSL==22.1.0" "cryptography==38.0.4" "josepy==1.13.0"
  "zope.interface==5.4.0" "zope.component==5.1.0" "zope.event==4.6" "zope.hookable==5.4")

# Creates (or reuses) the virtualenv at .venv-serve with those packages. Idempotent, like ensure_venv.
ensure_serve_venv() {
  local venv=.venv-serve marker=.venv-serve/.dns01-packages
  local wanted="${DNS01_SERVE_PYTHON_BUILD[*]} ${DNS01_SERVE_PYTHON_PACKAGES[*]}"
  if [[ -x $venv/bin/python && -f $marker && $(cat "$marker") == "$wanted" ]]; then
    return
  fi
  echo "creating the Python virtualenv $venv for: ${DNS01_SERVE_PYTHON_PACKAGES[*]}"
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${DNS01_SERVE_PYTHON_BUILD[@]}"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation --no-binary zope.interface \
    "${DNS01_SERVE_PYTHON_PACKAGES[@]}"
  echo "$wanted" > "$marker"
}
