#!/bin/sh
# certbot deploy hook for catchall-guard: after every successful issue or renewal, copy the new
# certificate and key to a directory the guard's (non-root) user can read, then tell the guard to
# re-read them (SIGHUP; open sessions are not dropped).
#
#   install -m 0755 deploy/certbot-deploy-hook.sh /etc/letsencrypt/renewal-hooks/deploy/catchall-guard.sh
#   # or: certbot certonly ... --deploy-hook /path/to/certbot-deploy-hook.sh
#
# and in the guard's configuration:
#   server:
#     tls: { cert: /etc/catchall-guard/tls/fullchain.pem, key: /etc/catchall-guard/tls/privkey.pem }
#
# certbot runs the hook as root with RENEWED_LINEAGE=/etc/letsencrypt/live/<name>. Adjust the three
# settings below (or set them in the environment certbot runs in):
#   CATCHALL_GUARD_TLS_DIR    where the guard reads its certificate (default /etc/catchall-guard/tls)
#   CATCHALL_GUARD_TLS_GROUP  the group the guard runs as: it may read the key (default catchall-guard;
#                             for the Docker image, whose user `node` is uid/gid 1000: 1000)
#   CATCHALL_GUARD_RELOAD     the command that sends SIGHUP (default for systemd below; for Docker:
#                             "docker kill -s HUP guard")
set -eu

: "${RENEWED_LINEAGE:?not set: certbot sets it when it runs a deploy hook}"
DEST=${CATCHALL_GUARD_TLS_DIR:-/etc/catchall-guard/tls}
GROUP=${CATCHALL_GUARD_TLS_GROUP:-catchall-guard}
RELOAD=${CATCHALL_GUARD_RELOAD:-systemctl kill -s HUP catchall-guard}

# certbot renews every certificate it manages; only the guard's own lineage concerns us
if [ -n "${CATCHALL_GUARD_LINEAGE:-}" ] && [ "$RENEWED_LINEAGE" != "$CATCHALL_GUARD_LINEAGE" ]; then
  exit 0
fi

umask 077
mkdir -p "$DEST"
chgrp "$GROUP" "$DEST"
chmod 0750 "$DEST"

# each file is written under a temporary name and renamed into place, so the guard never reads a
# half-written file; the key goes last: until the reload, the old pair is what is served, and a
# reload that found a certificate without its key would be refused and keep the old pair
for f in fullchain.pem privkey.pem; do
  # cp follows live/'s symbolic links into archive/: the copies are plain files
  cp "$RENEWED_LINEAGE/$f" "$DEST/.$f.new"
  chgrp "$GROUP" "$DEST/.$f.new"
  if [ "$f" = privkey.pem ]; then chmod 0640 "$DEST/.$f.new"; else chmod 0644 "$DEST/.$f.new"; fi
  mv -f "$DEST/.$f.new" "$DEST/$f"
done

# shellcheck disable=SC2086 # the reload command is a command line with arguments
$RELOAD
