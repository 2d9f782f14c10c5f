/** The public face of cluster/: what other roles may use (docs/architecture.md). */
export { connectCluster, type ClusterLink } from './redis.ts';
export { startClusterRules } from './rules.ts';
export { startClusterUpstream, streamHandover } from './upstream.ts';
