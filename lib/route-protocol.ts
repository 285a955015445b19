// The kernel routes tscni's agents own carry their agent's number.

/**
 * rtm_protocol numbers of tscni's agents; none of them is in iproute2's
 * rt_protos (0-18, 42 babel, 99 openr, 186-192), so `ip route` shows them as
 * plain numbers: `proto 74`.
 */
export const ROUTE_PROTOCOL = { overlay: 74, routed: 75 } as const;
