"""Run a two-node local Ray cluster until stdin closes (used by the multi-node test).

A separate process, so the cluster's auth settings never leak into the pytest process. It prints one JSON
line with the address and the node ids, then waits; on EOF it shuts down exactly the nodes it started.
"""

import json
import sys

from ray.cluster_utils import Cluster

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
try:
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    nodes = [cluster.head_node.node_id, *(n.node_id for n in cluster.worker_nodes)]
    print(json.dumps({"address": cluster.address, "nodes": nodes}), flush=True)
    sys.stdin.read()
finally:
    cluster.shutdown()
