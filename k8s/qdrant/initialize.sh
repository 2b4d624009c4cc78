#!/bin/bash
# Entrypoint logic of the official qdrant/qdrant-helm chart (templates/configmap.yaml,
# key initialize.sh), with the chart's fullname = "qdrant":
#  - pod qdrant-0 starts the cluster and announces itself with --uri;
#  - every other pod joins through qdrant-0 (--bootstrap) and announces its own stable
#    headless DNS name (--uri), so its peer address survives a pod restart (pod IPs do not).
# Added to the chart's logic: a joining peer first waits until the headless Service's DNS
# records of qdrant-0 and of itself exist. Seen on a real cluster: peers 1 and 2 started
# before qdrant-0's record was published, Qdrant failed the --bootstrap lookup and the pods
# crash-looped (twice) while qdrant-0 alone accepted the app's collection. The names are
# relative, so the same script works in any namespace (the pod's DNS search path).
ulimit -n "$(ulimit -Hn)"
SET_INDEX=${HOSTNAME##*-}
DNS_WAIT_SECONDS=${QDRANT_DNS_WAIT_SECONDS:-300}
echo "Starting initializing for pod $SET_INDEX"

wait_for_dns() {
  local name=$1 waited=0
  until getent hosts "$name" >/dev/null; do
    if [ "$waited" -ge "$DNS_WAIT_SECONDS" ]; then
      echo "DNS record $name still missing after ${DNS_WAIT_SECONDS}s: is the headless Service qdrant-headless there (publishNotReadyAddresses: true)?" >&2
      exit 1
    fi
    echo "waiting for the DNS record $name (${waited}s)"
    sleep 2
    waited=$((waited + 2))
  done
}

# Storage must be writable before Qdrant starts, or every peer crash-loops on "Permission denied
# (os error 13) at path /qdrant/./storage/.atomicwrite...". Said once, with the remedy: on a hostPath
# PersistentVolume the kubelet applies no fsGroup, and Pod Security `restricted` forbids a root chown.
STORAGE_DIR=${QDRANT__STORAGE__STORAGE_PATH:-./storage}
if [ -d "$STORAGE_DIR" ] && [ ! -w "$STORAGE_DIR" ]; then
  owner=$(stat -c '%u:%g' "$STORAGE_DIR" 2>/dev/null || echo unknown)
  echo "storage $STORAGE_DIR (owner $owner) is not writable by uid $(id -u), groups $(id -G):" \
    "a hostPath volume gets no fsGroup, so its host directory must be given to this user beforehand." \
    "On the scaleproof cluster run: scaleproof deploy --overlay k8s/overlays/qdrant-local (it prepares" \
    "the directories); or, as root on the node: install -d -o 1000 -g 3000 -m 0750" \
    "/var/lib/scaleproof/qdrant-$SET_INDEX" >&2
  exit 1
fi

if [ "$SET_INDEX" = "0" ]; then
  exec ./entrypoint.sh --uri 'http://qdrant-0.qdrant-headless:6335'
else
  wait_for_dns qdrant-0.qdrant-headless
  wait_for_dns "qdrant-${SET_INDEX}.qdrant-headless"
  exec ./entrypoint.sh --bootstrap 'http://qdrant-0.qdrant-headless:6335' \
                       --uri "http://qdrant-${SET_INDEX}.qdrant-headless:6335"
fi
