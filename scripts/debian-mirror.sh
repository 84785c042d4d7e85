# Sourced by the scripts that fetch from Debian (scripts/build-tool-image.sh, scripts/swarm/build-node-image.sh).
# debian_mirror: the Debian mirror apt uses here (deb822 debian.sources or one-line sources), the security
# archive excluded; deb.debian.org when none is configured.
debian_mirror() {
    local uri=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        # First URIs: of a stanza that is not the security archive.
        uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
              /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { if ($i !~ /security/) { print $i; exit } ; break } }')
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}
