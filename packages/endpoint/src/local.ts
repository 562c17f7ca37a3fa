// The endpoints started in this thread (module state is per thread), so an EndpointConnector here can
// answer a synchronous read of a key they own without the sync bridge, whose worker would call this
// thread's own server while this thread blocks waiting for it (DESIGN §3).

/** What the connector needs of an endpoint running in this thread. */
export interface LocalEndpoint {
  readonly id: string;
  /** Addresses it answers on (advertised and bound). */
  readonly addresses: readonly string[];
  /** Copies of an owned object's frames, or null when it has none. */
  readLocal(id: string): Uint8Array[] | null;
}

const byId = new Map<string, LocalEndpoint>();

export function addLocalEndpoint(endpoint: LocalEndpoint): void {
  byId.set(endpoint.id, endpoint);
}

export function removeLocalEndpoint(endpoint: LocalEndpoint): void {
  if (byId.get(endpoint.id) === endpoint) byId.delete(endpoint.id);
}

export function localEndpoint(id: string): LocalEndpoint | undefined {
  return byId.get(id);
}

/** The endpoint of this thread that answers on `address`, if any. */
export function localEndpointAt(address: string): LocalEndpoint | undefined {
  for (const e of byId.values()) if (e.addresses.includes(address)) return e;
  return undefined;
}
