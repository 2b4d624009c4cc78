#!/bin/bash
# Entrypoint logic of the official qdrant/qdrant-helm chart (templates/configmap.yaml,
# key initialize.sh), with the chart's fullname = "qdrant":
#  - pod qdrant-0 starts the cluster and announces itself with --uri;
#  - every other pod joins through qdrant-0 (--bootstrap) and announces its own stable
#    headless DNS name (--uri), so its peer address survives a pod restart (pod IPs do not).
ulimit -n "$(ulimit -Hn)"
SET_INDEX=${HOSTNAME##*-}
echo "Starting initializing for pod $SET_INDEX"
if [ "$SET_INDEX" = "0" ]; then
  exec ./entrypoint.sh --uri 'http://qdrant-0.qdrant-headless:6335'
else
  exec ./entrypoint.sh --bootstrap 'http://qdrant-0.qdrant-headless:6335' \
                       --uri "http://qdrant-${SET_INDEX}.qdrant-headless:6335"
fi
