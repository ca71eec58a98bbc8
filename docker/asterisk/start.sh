#!/bin/sh
# Compose lab: start Asterisk with the AMI secret from the environment, and fetch the sounds
# and music on hold the image does not ship (first start only, into the named volumes).
set -eu

if [ -z "${ACD_AMI_SECRET:-}" ] || [ "$ACD_AMI_SECRET" = "change-me" ]; then
    echo "start.sh: set ACD_AMI_SECRET in .env (cp .env.example .env, then edit it)" >&2
    exit 1
fi
umask 077
printf 'secret = %s\n' "$ACD_AMI_SECRET" > /etc/asterisk/manager_acd_secret.conf
if [ "$(id -u)" = 0 ]; then chown asterisk: /etc/asterisk/manager_acd_secret.conf; fi

fetch() {  # fetch <tarball name> <directory>: skipped when the directory has files already
    if [ -n "$(ls -A "$2" 2>/dev/null)" ] || [ "${ACD_FETCH_SOUNDS:-yes}" = "no" ]; then
        return 0
    fi
    mkdir -p "$2"
    echo "start.sh: downloading $1 into $2" >&2
    curl -fsSL "https://downloads.asterisk.org/pub/telephony/sounds/$1" | tar -xzf - -C "$2" \
        || echo "start.sh: could not download $1: prompts or music will be missing" >&2
}
fetch asterisk-core-sounds-en-ulaw-current.tar.gz /var/lib/asterisk/sounds/en
fetch asterisk-moh-opsound-ulaw-current.tar.gz /var/lib/asterisk/moh

# -f: foreground (the container's main process); -U: drop root if started as root.
exec /usr/sbin/asterisk -f -T -vvv -U asterisk
