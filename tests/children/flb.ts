// Child of tests/flb_test.ts: a file-lifecycle-bound object (an index page
// shared by every "indexed-v1" file) across a real handover.
//   write PATH    preserve 3 files in 2 sessions (+ one preserved and
//                 unpreserved again), hand over; print the FLB calls
//   verify PATH   a new process: get the FLB before any file, retrieve one
//                 session's files, finish both sessions; print the FLB calls
import { type FileHandler, type FlbOps, LiveUpdate } from "../../mod.ts";

const [stage, path] = Deno.args;
const log: string[] = [];
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Indexed {
  indexed: string;
}

/** The shared index: one preserved page holding a line of text. */
const index: FlbOps<{ text: string }> = {
  compatible: "shared-index-v1",
  preserve(ctx) {
    log.push("flb preserve");
    const pa = ctx.arena.allocPreserve(4096, { zero: true });
    ctx.arena.bytes(pa, 11).set(enc.encode("index-of-42"));
    return { obj: { text: "index-of-42" }, data: pa };
  },
  unpreserve(ctx, _obj, data) {
    log.push("flb unpreserve");
    ctx.arena.unpreserveFree(data);
  },
  retrieve(ctx, data) {
    log.push("flb retrieve");
    ctx.arena.claim(data, 4096, "index page");
    return { text: dec.decode(ctx.arena.bytes(data, 11)) };
  },
  finish(ctx, obj, data) {
    log.push(`flb finish ${obj ? "retrieved" : "never retrieved"}`);
    if (obj) ctx.arena.free(data);
    else ctx.arena.restoreFree(data);
  },
};

/** Files whose data is a page with their text; they need the index. */
const indexed: FileHandler<Indexed> = {
  compatible: "indexed-v1",
  canPreserve: (_c, o) => typeof o === "object" && o !== null && "indexed" in o,
  preserve(ctx, f) {
    const idx = ctx.flbOutgoing("shared-index-v1") as { text: string };
    const pa = ctx.arena.allocPreserve(4096, { zero: true });
    ctx.arena.bytes(pa, f.obj.indexed.length).set(enc.encode(f.obj.indexed));
    log.push(`preserve ${f.obj.indexed} (${idx.text})`);
    return pa;
  },
  unpreserve: (ctx, f) => ctx.arena.unpreserveFree(f.data),
  retrieve(ctx, f) {
    const idx = ctx.flbIncoming("shared-index-v1") as { text: string };
    ctx.arena.claim(f.data, 4096, "indexed page");
    const text = dec.decode(ctx.arena.bytes(f.data, 4096)).replace(/\0+$/, "");
    ctx.arena.free(f.data);
    log.push(`retrieve ${text} (${idx.text})`);
    return { indexed: text };
  },
  finish(ctx, f) {
    log.push(`finish ${f.token} ${f.status}`);
    if (f.status === "none") ctx.arena.restoreFree(f.data);
  },
};

const options = { handlers: [indexed], flbs: [{ handler: "indexed-v1", flb: index }] };
if (stage === "write") {
  const luo = LiveUpdate.create({ path, size: 1 << 20, ...options });
  const a = luo.createSession("a");
  a.preserve({ indexed: "one" }, 1n);
  a.preserve({ indexed: "two" }, 2n);
  a.preserve({ indexed: "temporary" }, 3n);
  a.unpreserve(3n);
  luo.createSession("b").preserve({ indexed: "three" }, 1n);
  luo.handover();
} else if (stage === "verify") {
  using luo = LiveUpdate.open(path, options);
  log.push(`get ${(luo.flbIncoming("shared-index-v1") as { text: string }).text}`);
  const a = luo.retrieveSession("a");
  a.retrieve(1n);
  a.retrieve(2n);
  a.finish();
  luo.retrieveSession("b").finish();
  luo.discardIncoming();
  const i = luo.arena.info();
  log.push(`pages in use ${i.allocatedPages + i.handedOverPages + i.deferredPages}`);
}
console.log(JSON.stringify(log));
