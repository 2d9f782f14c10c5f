// aedes-persistence-redis ships no types: what Steward uses of it.
declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  function persistence(opts: { conn?: Redis; maxSessionDelivery?: number; packetTTL?: () => number }): unknown;
  export default persistence;
}
