"""Configuration files of the local cluster's components, rendered from ClusterConfig.

Settings that this machine forces (and why) are commented where they are set:
cgroup v1 only (the VM's init owns the v1 hierarchy), containerd 1.6 (no RuntimeConfig RPC, does
not pin the sandbox image, so image GC is off), no registry (nothing may ever be pulled).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .config import PODS_RANGE, ClusterConfig, NodeSpec, node_spec

__all__ = ["render_all", "render_node", "PAUSE_IMAGE", "bootstrap_manifests"]

PAUSE_IMAGE = "localhost/scaleproof/pause:3.10"


def containerd_toml(cfg: ClusterConfig, node: NodeSpec | None = None) -> str:
    # version 2 is containerd 1.x's schema. Our own daemon, root and socket: docker's private
    # containerd (if any) runs with the CRI plugin disabled and must not be disturbed.
    # Each node has its own root, state and socket. containerd 1.6 puts shim sockets under
    # /run/containerd/s/ named by a hash of (its socket address, namespace, id), so distinct sockets
    # give distinct shim sockets; runc's state gets a root per extra node (`Root` below) rather than
    # the shared default /run/containerd/runc.
    node = node or node_spec(cfg, 0)
    runc_root = f'\n        Root = "{node.runc_root}"' if node.runc_root else ""
    return f"""version = 2
root = "{node.containerd_root}"
state = "{node.containerd_state}"

[grpc]
  address = "{node.containerd_socket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # this VM withholds CAP_SYS_RESOURCE, so no process may lower its oom_score_adj below containerd's
  # own (0); without this, runc fails on the sandbox's -998 ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false{runc_root}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cfg.cni_bin_dir}"
    conf_dir = "{node.cni_conf_dir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
"""


def cni_conflist(cfg: ClusterConfig, node: NodeSpec | None = None) -> str:
    node = node or node_spec(cfg, 0)
    ipam: dict[str, object] = {
        "type": "host-local",
        "ranges": [[{"subnet": node.pod_cidr, "gateway": node.pod_gateway}]],
        "routes": [{"dst": "0.0.0.0/0"}],
    }
    if node.ipam_dir:  # host-local's default /var/lib/cni/networks would be shared by every node
        ipam["dataDir"] = str(node.ipam_dir)
    doc = {
        "cniVersion": "1.0.0",
        "name": "scaleproof",
        "plugins": [
            {
                "type": "bridge",
                "bridge": cfg.pod_bridge,
                "isGateway": True,
                # no masquerade: pod traffic has nowhere to go but this machine
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": ipam,
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def kubelet_config(cfg: ClusterConfig, node: NodeSpec | None = None) -> str:
    pki = cfg.pki_dir
    node = node or node_spec(cfg, 0)
    doc: dict[str, object] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,  # the VM's init owns the cgroup v1 hierarchy; 1.35 refuses v1 by default
        "cgroupDriver": "cgroupfs",  # no systemd; containerd 1.6 has no RuntimeConfig RPC
        # extra nodes: their own cgroup root, so their pods (and their daemons, put there by `up`)
        # sit under one subtree per node: that is what the node's freezer freezes
        "cgroupRoot": node.cgroup_root,
        "cgroupsPerQOS": True,
        "containerRuntimeEndpoint": f"unix://{node.containerd_socket}",
        "address": node.ip,
        "port": cfg.kubelet_port,
        "readOnlyPort": 0,
        # an extra node's loopback is its own network namespace's: the host checks it on the node IP
        "healthzBindAddress": node.healthz_host,
        "healthzPort": 10248,
        "tlsCertFile": str(pki / f"{node.pki_stem}-serving.crt"),
        "tlsPrivateKeyFile": str(pki / f"{node.pki_stem}-serving.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        # containerd 1.6.20 does not pin the sandbox image and nothing can be re-pulled offline:
        # image GC off (100 %), eviction thresholds low so a full disk does not evict our images.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "failSwapOn": False,
        "clusterDNS": [cfg.dns_ip],
        "clusterDomain": cfg.cluster_domain,
        "resolvConf": str(cfg.etc_dir / "resolv.conf"),
        "maxPods": 60,
        "serializeImagePulls": False,
        "syncFrequency": "10s",
        "nodeStatusUpdateFrequency": "5s",
        "runtimeRequestTimeout": "2m",
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": False,
        "shutdownGracePeriod": "0s",
        "localStorageCapacityIsolation": True,
        "staticPodPath": str(node.etc_dir / "static-pods"),
    }
    if node.pod_logs_dir:  # the default /var/log/pods would be shared by every node's kubelet
        doc["podLogsDir"] = str(node.pod_logs_dir)
    return yaml.safe_dump(doc, sort_keys=False)


def kube_proxy_config(cfg: ClusterConfig, node: NodeSpec | None = None) -> str:
    node = node or node_spec(cfg, 0)
    host = node.healthz_host
    # NodePorts on loopback and the node address for the control-plane node (the host's network
    # namespace, where clients are); an extra node's loopback is its own namespace's: node address only
    nodeports = ["127.0.0.0/8", f"{node.ip}/32"] if node.control_plane else [f"{node.ip}/32"]
    doc = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(node.etc_dir / "kube-proxy.kubeconfig")},
        "hostnameOverride": node.name,
        "mode": "iptables",
        # the pods of every node: traffic from them to a Service is the cluster's own
        "clusterCIDR": PODS_RANGE,
        "bindAddress": host,
        "healthzBindAddress": f"{host}:10256",
        "metricsBindAddress": f"{host}:10249",
        # nothing listens on eth0 of the machine
        "nodePortAddresses": nodeports,
        "iptables": {
            "localhostNodePorts": node.control_plane,
            "masqueradeAll": False,
            "syncPeriod": "10s",
            "minSyncPeriod": "0s",
        },
        # zeros make kube-proxy leave the conntrack sysctls alone (as local-up-cluster does)
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def scheduler_config(cfg: ClusterConfig) -> str:
    doc = {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(cfg.etc_dir / "scheduler.kubeconfig")},
        "leaderElection": {"leaderElect": False},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def corefile(cfg: ClusterConfig) -> str:
    return f""".:{cfg.dns_port} {{
    bind {cfg.dns_ip}
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes {cfg.cluster_domain} in-addr.arpa ip6.arpa {{
        kubeconfig {cfg.etc_dir / "coredns.kubeconfig"} scaleproof
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    cache 5
    loadbalance
}}
"""


def resolv_conf(cfg: ClusterConfig) -> str:
    # the kubelet copies this into pods besides the cluster DNS; it must not name an outside resolver
    return f"nameserver {cfg.dns_ip}\noptions ndots:5\n"


def bootstrap_manifests(cfg: ClusterConfig) -> str:
    """RBAC and aggregation objects that the host-process add-ons (metrics-server, CoreDNS) need."""
    docs: list[dict] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "scaleproof:apiserver-kubelet-admin"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kubelet-api-admin",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": "kube-apiserver-kubelet-client",
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "scaleproof:metrics-server"},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "scaleproof:metrics-server"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "scaleproof:metrics-server",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:metrics-server"}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "scaleproof:metrics-server:auth-delegator"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:auth-delegator",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:metrics-server"}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "scaleproof:metrics-server:auth-reader", "namespace": "kube-system"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "extension-apiserver-authentication-reader",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:metrics-server"}
            ],
        },
        # aggregated-metrics reader so that `view` users may run `kubectl top`
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "system:aggregated-metrics-reader",
                "labels": {
                    "rbac.authorization.k8s.io/aggregate-to-view": "true",
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                },
            },
            "rules": [
                {
                    "apiGroups": ["metrics.k8s.io"],
                    "resources": ["pods", "nodes"],
                    "verbs": ["get", "list", "watch"],
                }
            ],
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": cfg.metrics_server_port}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "metrics-server", "namespace": "kube-system"},
            "subsets": [
                {
                    "addresses": [{"ip": cfg.node_ip}],
                    "ports": [{"name": "https", "port": cfg.metrics_server_port}],
                }
            ],
        },
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {
                "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443},
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "caBundle": None,
                "insecureSkipTLSVerify": False,
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "scaleproof:coredns"},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "scaleproof:coredns"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "scaleproof:coredns",
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:coredns"}],
        },
    ]
    import base64

    ca = (cfg.pki_dir / "ca.crt").read_bytes()
    for doc in docs:
        if doc["kind"] == "APIService":
            doc["spec"]["caBundle"] = base64.b64encode(ca).decode()
    return yaml.safe_dump_all(docs, sort_keys=False)


def render_all(cfg: ClusterConfig) -> dict[Path, str]:
    """Every generated file of the control-plane node, path -> content."""
    etc = cfg.etc_dir
    return {
        **render_node(cfg, node_spec(cfg, 0)),
        etc / "scheduler.yaml": scheduler_config(cfg),
        etc / "Corefile": corefile(cfg),
        etc / "resolv.conf": resolv_conf(cfg),
    }


def render_node(cfg: ClusterConfig, node: NodeSpec) -> dict[Path, str]:
    """The files of one node's containerd, CNI, kubelet and kube-proxy, path -> content."""
    return {
        node.etc_dir / "containerd.toml": containerd_toml(cfg, node),
        node.cni_conf_dir / "10-scaleproof.conflist": cni_conflist(cfg, node),
        node.etc_dir / "kubelet.yaml": kubelet_config(cfg, node),
        node.etc_dir / "kube-proxy.yaml": kube_proxy_config(cfg, node),
    }
