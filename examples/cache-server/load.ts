/**
 * The client side of the scenario: HTTP requests to the cache (an
 * idempotent one retried once when its connection closed unanswered), the
 * preload, and the load workers that each know what their own keys must
 * read back.
 *
 * @module
 */

import { fillValue } from "./state.ts";

/** One request of the load. */
export interface Sample {
  start: number;
  end: number;
  ok: boolean;
  /** Generation that answered (0: none). */
  gen: number;
}

/** Requests to the server at `base`, with the retry rule and its count. */
export class Client {
  /** Idempotent requests retried once after their connection closed unanswered. */
  retries = 0;
  #base: string;
  #client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

  /** A client of the server at `base` (`http://127.0.0.1:PORT`). */
  constructor(base: string) {
    this.#base = base;
  }

  /** One request, no retry. */
  req(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(this.#base + path, { ...init, client: this.#client });
  }

  /**
   * RFC 9110 9.2.2: a client may retry an idempotent request whose
   * connection closed or was reset before any response (Deno.serve's
   * graceful shutdown closes a connection accepted but not yet read;
   * without net.ipv4.tcp_migrate_req the kernel resets connections still
   * queued on a closing SO_REUSEPORT listener). One retry, counted.
   */
  async send(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await this.req(path, init);
    } catch (e) {
      const why = String((e as Error).cause ?? e);
      if (!/connection closed before message completed|connection reset|ECONNRESET/i.test(why)) {
        throw e;
      }
      this.retries++;
      return await this.req(path, init);
    }
  }

  /** Closes the connection pool. */
  close(): void {
    this.#client.close();
  }
}

/** Key i of the preload: the fill used prefixes k0-, k100000-, ... */
export function preloadKey(i: number): readonly [string, number] {
  const chunk = Math.floor(i / 100_000) * 100_000;
  return [`k${chunk}-${i - chunk}`, i - chunk] as const;
}

/** Preloads `keys` keys of `size` bytes, 100k per request. */
export async function preload(client: Client, keys: number, size: number): Promise<void> {
  for (let done = 0; done < keys;) {
    const n = Math.min(100_000, keys - done);
    const r = await client.req(`/admin/fill?count=${n}&size=${size}&prefix=k${done}`, {
      method: "POST",
    });
    await r.body?.cancel();
    done += n;
  }
}

/** Whether two byte arrays are equal. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What the load workers share. */
export interface Load {
  client: Client;
  keys: number;
  valueSize: number;
  samples: Sample[];
  failures: string[];
  /** Set to end the load. */
  stop: boolean;
  /** Whether another request may be sent (bounds of the run). */
  more: () => boolean;
}

/** One request of worker `w` (its n-th): a preloaded GET, or a GET/PUT/DELETE of its own keys. */
async function oneRequest(
  load: Load,
  w: number,
  n: number,
  mine: Map<string, Uint8Array | null>,
): Promise<{ ok: boolean; gen: number; what: string }> {
  const r = Math.random();
  let gen = 0;
  const seen = (res: Response) => (gen = Number(res.headers.get("x-generation") ?? 0));
  if (r < 0.5) {
    const [key, j] = preloadKey(Math.floor(Math.random() * load.keys));
    const res = await load.client.send(`/kv/${key}`);
    seen(res);
    const body = new Uint8Array(await res.arrayBuffer());
    const ok = res.status === 200 && equal(body, fillValue(j, load.valueSize));
    return { ok, gen, what: `GET ${key}${ok ? "" : ` -> ${res.status}, ${body.length} bytes`}` };
  }
  const key = `w${w}-${n % 50}`;
  if (r < 0.8) {
    const res = await load.client.send(`/kv/${key}`);
    seen(res);
    const body = new Uint8Array(await res.arrayBuffer());
    const want = mine.get(key);
    const ok = want ? res.status === 200 && equal(body, want) : res.status === 404;
    return { ok, gen, what: `GET ${key}${ok ? "" : ` -> ${res.status}`}` };
  }
  const put = r < 0.95;
  const value = new TextEncoder().encode(`${key}=${n}-${"v".repeat(n % 40)}`);
  const res = await load.client.send(
    `/kv/${key}`,
    put ? { method: "PUT", body: value } : { method: "DELETE" },
  );
  seen(res);
  await res.body?.cancel();
  const ok = put ? res.status === 204 : res.status === (mine.get(key) ? 204 : 404);
  if (ok) mine.set(key, put ? value : null);
  return { ok, gen, what: `${put ? "PUT" : "DELETE"} ${key}${ok ? "" : ` -> ${res.status}`}` };
}

/** A load worker: requests until stopped; returns what its own keys must read back. */
export async function worker(load: Load, w: number): Promise<Map<string, Uint8Array | null>> {
  const mine = new Map<string, Uint8Array | null>();
  for (let n = 0; !load.stop && load.more(); n++) {
    const start = performance.now();
    let result = { ok: false, gen: 0, what: "" };
    try {
      result = await oneRequest(load, w, n, mine);
    } catch (e) {
      result.what += ` -> ${(e as Error).message} (${(e as Error).cause ?? ""})`;
    }
    load.samples.push({ start, end: performance.now(), ok: result.ok, gen: result.gen });
    if (!result.ok && load.failures.length < 20) load.failures.push(result.what);
  }
  return mine;
}
