// Handover and restore of S sessions (one bare file each): linear in S.
import { LiveUpdate } from "../mod.ts";
import { bareHandler, handedOver, prepare, removeAtExit, SESSION_COUNTS } from "./fixtures.ts";

for (const s of SESSION_COUNTS) {
  const opts = s >= 100_000 ? { n: 3, warmup: 1 } : { n: 10, warmup: 2 };
  Deno.bench({ name: `handover [${s} sessions]`, group: "sessions handover", ...opts }, (b) => {
    const luo = prepare(s, 1);
    const path = luo.arena.path;
    b.start();
    luo.handover();
    b.end();
    Deno.removeSync(path);
  });
  const image = handedOver(prepare(s, 1));
  removeAtExit(image.path);
  Deno.bench({ name: `restore [${s} sessions]`, group: "sessions restore", ...opts }, (b) => {
    Deno.writeFileSync(image.path, image.bytes);
    const next = LiveUpdate.open(image.path, { handlers: [bareHandler] });
    b.start();
    for (const name of next.incomingSessions()) next.retrieveSession(name).retrieve(0n);
    b.end();
    next.close();
  });
}
