// Main-thread side of the layout worker: promise per request, newest request wins.

import LayoutWorker from "./layout.worker?worker&inline";
import type { LayoutInput, LayoutRequest, LayoutResponse, LayoutResult } from "./protocol";

export class LayoutCancelled extends Error {
  constructor() {
    super("layout superseded");
    this.name = "LayoutCancelled";
  }
}

interface Pending {
  resolve(v: { result: LayoutResult; ms: number }): void;
  reject(err: Error): void;
}

/** Owns one worker; a new `layout()` cancels a pending one (its promise rejects with LayoutCancelled). */
export class LayoutClient {
  private worker: Worker | null = null;
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = new LayoutWorker();
    w.onmessage = (ev: MessageEvent<LayoutResponse>) => {
      const msg = ev.data;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.type === "layout") p.resolve({ result: msg.result, ms: msg.ms });
      else p.reject(new Error(`graph layout failed: ${msg.message}`));
    };
    w.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.failAll(new Error(`graph layout worker failed: ${ev.message || "could not start"}`));
      this.worker?.terminate();
      this.worker = null;
    };
    this.worker = w;
    return w;
  }

  layout(input: LayoutInput): Promise<{ result: LayoutResult; ms: number }> {
    if (this.pending.size > 0) {
      // ELK cannot be interrupted: drop the busy worker rather than wait for an outdated layout
      // (the cost: the fresh worker starts ELK again, its first layout without JIT warm-up).
      this.failAll(new LayoutCancelled());
      this.worker?.terminate();
      this.worker = null;
    }
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const req: LayoutRequest = { type: "layout", id, input };
      try {
        this.ensure().postMessage(req);
      } catch (err) {
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  dispose(): void {
    this.failAll(new LayoutCancelled());
    this.worker?.terminate();
    this.worker = null;
  }
}
