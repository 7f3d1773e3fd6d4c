import { test } from "node:test";
import assert from "node:assert/strict";
import { ask } from "../../src/shell/ask";
import { setup } from "../../src/shell/model";
import { encodeSnapshot, mlpGraph } from "../../dev/fixtures";
import type { AnyModel } from "../../src/data/types";

type Callback = (...args: unknown[]) => void;

/** A model with anywidget's API and no widget manager; `kernel` answers what the view sends. */
function bareModel(attrs: Record<string, unknown>, kernel: (msg: Record<string, unknown>) => [unknown, unknown[]] | null): AnyModel & { sent: unknown[] } {
  const handlers = new Map<string, Set<Callback>>();
  const sent: unknown[] = [];
  return {
    sent,
    get: (name: string) => attrs[name],
    set: (name: string, value: unknown) => {
      attrs[name] = value;
    },
    on: (ev: string, cb: Callback) => {
      if (!handlers.has(ev)) handlers.set(ev, new Set());
      handlers.get(ev)!.add(cb);
    },
    off: (ev?: string | null, cb?: Callback | null) => {
      if (ev && cb) handlers.get(ev)?.delete(cb);
    },
    save_changes: () => {},
    send(content: unknown) {
      sent.push(content);
      const reply = kernel(content as Record<string, unknown>);
      if (reply) setTimeout(() => [...(handlers.get("msg:custom") ?? [])].forEach((cb) => cb(reply[0], reply[1])), 0);
    },
  };
}

test("ask: the kernel's answer with the same id resolves, buffers as DataViews", async () => {
  const m = bareModel({}, (msg) => [{ kind: "k", id: msg.id, n: 1 }, [new Uint8Array([7, 8]).buffer]]);
  const got = await ask(m, "k", { x: 1 });
  assert.equal(got.content.n, 1);
  assert.equal(got.buffers[0]?.getUint8(1), 8);
  assert.deepEqual(Object.keys(m.sent[0] as object).sort(), ["id", "kind", "x"]);
  await assert.rejects(ask(bareModel({}, (msg) => [{ kind: "k", id: msg.id, error: "no" }, []]), "k"), /no/);
});

test("setup: without a widget manager the snapshots come from the kernel by message", async () => {
  const { header, data } = encodeSnapshot(0, { loss: 0.5 }, [
    { layer: "fc", param: "weight", kind: "weight", dtype: "float32", shape: [2], values: [1, 2] },
  ]);
  const m = bareModel({ _graph: mlpGraph(2, 1, 1), _snapshots: ["IPY_MODEL_a"] }, (msg) =>
    msg.kind === "nnviz:snapshots?"
      ? [{ kind: "nnviz:snapshots", id: msg.id, parts: [{ id: "a", header: JSON.stringify(header) }] }, [data]]
      : null,
  );
  const shared = setup(m);
  await shared.loaded;
  assert.equal(shared.error, "");
  assert.deepEqual(shared.store.epochs(), [0]);
  assert.deepEqual((m.sent[0] as { ids: string[] }).ids, ["a"]);
  shared.dispose();
});
